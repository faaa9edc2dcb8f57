package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"
)

// benchFunc is a no-op function of one runtime.
type benchFunc struct {
	label, runtime, filename, code string
}

var benchFuncs = []benchFunc{
	{"python", "Python3.9", "index.py", "def handler(event, context):\n    return {}\n"},
	{"node", "Node.js18.15", "index.js", "exports.handler = async (event, context) => ({});\n"},
}

func benchInvokeCmd() *cobra.Command {
	var requests, coldRuns, rounds int
	var window time.Duration
	var debugListen string
	var abEnv []string
	cmd := &cobra.Command{
		Use:   "invoke",
		Short: "Invocation latency, throughput and cold starts of no-op Python and Node.js functions, next to their floors",
		Long: `Starts fgs servers in their own processes (one with a pre-started generic
instance per runtime, one without) and the floor servers in their own
processes, then measures, with SDK-style signed requests:
  cold start: the first call after create (with and without pre-started
              instances) and the first call after scale-to-zero
  warm:       p50 and p99 latency at 1 client, throughput at 1, 8, 32 clients
and the floors, the same work without fgs's layers, in the same run (the
warm latencies of fgs and of the floors are measured in interleaved
rounds, and each ratio is the median of the rounds' ratios):
  bare HTTP:      a loopback HTTP round trip to a no-op server in its own
                  process
  direct runtime: a call into a warm runtime process over its pipes, by a
                  plain blocking client (no HTTP, no sandbox, no fgs)
  relay:          a bare HTTP server in its own process relaying each
                  request to one warm runtime process by that client (no
                  sandbox, no auth, no fgs)
plus the CPU per request of each server process and the supervisor's
memory per idle instance.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return benchInvoke(cmd.Context(), cmd.OutOrStdout(), requests, rounds, coldRuns, window, debugListen, abEnv)
		},
	}
	cmd.Flags().IntVar(&requests, "requests", 2000, "sequential requests for the latency figures")
	cmd.Flags().IntVar(&coldRuns, "cold", 5, "cold starts measured per kind")
	cmd.Flags().IntVar(&rounds, "rounds", 7, "interleaved rounds the warm requests are split into")
	cmd.Flags().DurationVar(&window, "window", 2*time.Second, "how long each throughput point runs")
	cmd.Flags().StringVar(&debugListen, "debug-listen", "", "serve the measured server's pprof profiles on this address")
	cmd.Flags().StringArrayVar(&abEnv, "ab-env", nil, "KEY=VALUE: also measure a second server with this environment (e.g. GOMAXPROCS=1) in the same warm rounds, and print the ratio of the two")
	return cmd
}

// floorServerCmd is the bare HTTP server the invoke bench measures
// against: the same kind of process hop as fgs, and nothing else.
func floorServerCmd() *cobra.Command {
	var listen string
	cmd := &cobra.Command{
		Use:    "floor-server",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), ln.Addr().String())
			body := []byte(`{"request_id":"00000000-0000-0000-0000-000000000000","result":"{}","log":"","status":200}`)
			srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.Copy(io.Discard, r.Body)
				w.Header().Set("Content-Type", "application/json")
				w.Write(body)
			})}
			go func() { <-cmd.Context().Done(); srv.Close() }()
			err = srv.Serve(ln)
			if err == http.ErrServerClosed {
				return nil
			}
			return err
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:0", "address")
	return cmd
}

func benchInvoke(ctx context.Context, out io.Writer, requests, rounds, coldRuns int, window time.Duration, debugListen string, abEnv []string) error {
	if requests < 10 || rounds < 1 || coldRuns < 1 || window <= 0 {
		return fmt.Errorf("--requests must be at least 10, --rounds and --cold at least 1, --window positive")
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	// The servers.
	args := []string{"--prestart", "1", "--idle-timeout", "1s", "--queue-timeout", "10s"}
	if debugListen != "" {
		args = append(args, "--debug-listen", debugListen)
	}
	withPool, err := startBenchServer(ctx, nil, args...)
	if err != nil {
		return err
	}
	defer withPool.stop()
	noPool, err := startBenchServer(ctx, nil, "--prestart", "0", "--idle-timeout", "1s")
	if err != nil {
		return err
	}
	defer noPool.stop()
	// The B side of an A/B comparison: a server like withPool with more
	// environment, measured in the same rounds.
	var serverB *benchServer
	if len(abEnv) > 0 {
		if serverB, err = startBenchServer(ctx, abEnv, args...); err != nil {
			return err
		}
		defer serverB.stop()
	}
	floorCmd, floorURL, err := startFloorServer(ctx, exe, "floor-server")
	if err != nil {
		return err
	}
	defer stopFloorServer(floorCmd)

	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true}}
	type row struct{ name, py, js string }
	var rows []row
	add := func(name string, vals map[string]string) {
		rows = append(rows, row{name, vals["python"], vals["node"]})
	}
	cold1, cold2, cold3 := map[string]string{}, map[string]string{}, map[string]string{}
	tput := map[string]string{}
	warmFig := map[string]*warmFigures{}
	var memNote string
	floorReq, _ := http.NewRequest("POST", floorURL, nil)
	floorBody := []byte("{}")
	floorReq.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(floorBody)), nil }

	for _, bf := range benchFuncs {
		// Cold: first call after create, with and without the pool.
		for _, c := range []struct {
			s   *benchServer
			dst map[string]string
		}{{withPool, cold1}, {noPool, cold2}} {
			var lat []time.Duration
			for i := range coldRuns {
				name := fmt.Sprintf("%s-cold-%d", bf.label, i)
				if err := c.s.createFunction(hc, name, bf); err != nil {
					return err
				}
				time.Sleep(300 * time.Millisecond) // let the pool refill
				d, cold, err := c.s.invokeOnce(hc, name)
				if err != nil {
					return err
				}
				if !cold {
					return fmt.Errorf("%s: first call was not a cold start", name)
				}
				lat = append(lat, d)
			}
			c.dst[bf.label] = fmtMS(pct(lat, 50))
		}
		// Cold after scale-to-zero.
		name := bf.label + "-idle"
		if err := withPool.createFunction(hc, name, bf); err != nil {
			return err
		}
		var lat []time.Duration
		for range coldRuns {
			if _, _, err := withPool.invokeOnce(hc, name); err != nil {
				return err
			}
			var d time.Duration
			var cold bool
			for wait := time.Now(); time.Since(wait) < 10*time.Second; {
				time.Sleep(1500 * time.Millisecond)
				if d, cold, err = withPool.invokeOnce(hc, name); err != nil {
					return err
				}
				if cold {
					break
				}
			}
			lat = append(lat, d)
		}
		cold3[bf.label] = fmtMS(pct(lat, 50))

		// Warm latency, next to the floors, in interleaved rounds.
		name = bf.label + "-warm"
		if err := withPool.createFunction(hc, name, bf); err != nil {
			return err
		}
		req := withPool.invokeRequest(name)
		var reqB *http.Request
		var pidB int
		if serverB != nil {
			pidB = serverB.cmd.Process.Pid
			if err := serverB.createFunction(hc, name, bf); err != nil {
				return err
			}
			reqB = serverB.invokeRequest(name)
		}
		w, err := warmRounds(ctx, hc, exe, bf, req, reqB, floorReq, withPool.cmd.Process.Pid, pidB, floorCmd.Process.Pid, requests, rounds)
		if err != nil {
			return err
		}
		warmFig[bf.label] = w
		var tp []string
		for _, c := range []int{1, 8, 32} {
			load(ctx, hc, req, c, 0, window/4) // scale out first
			_, rate, err := load(ctx, hc, req, c, 0, window)
			if err != nil {
				return err
			}
			tp = append(tp, fmt.Sprintf("%.0f", rate))
		}
		tput[bf.label] = strings.Join(tp, " / ")
		if bf.label == "python" {
			memNote = supervisorMemory(withPool.cmd.Process.Pid)
		}

	}

	// Floor: bare HTTP throughput.
	var ftp []string
	for _, c := range []int{1, 8, 32} {
		_, rate, err := load(ctx, hc, floorReq, c, 0, window)
		if err != nil {
			return err
		}
		ftp = append(ftp, fmt.Sprintf("%.0f", rate))
	}

	add("cold start, first call after create (pre-started)", cold1)
	add("cold start, first call after create (no pool)", cold2)
	add("cold start after scale-to-zero (pre-started)", cold3)
	fig := func(f func(w *warmFigures) string) map[string]string {
		m := map[string]string{}
		for k, w := range warmFig {
			m[k] = f(w)
		}
		return m
	}
	add("warm p50 / p99, 1 client", fig(func(w *warmFigures) string { return w.fgs.String() }))
	add("throughput inv/s, 1 / 8 / 32 clients", tput)
	add("fgs server CPU per warm invocation, 1 client", fig(func(w *warmFigures) string { return fmtMS(w.fgs.cpu) }))
	add("floor: bare HTTP round trip, p50 / p99", fig(func(w *warmFigures) string { return w.http.String() }))
	add("floor: bare HTTP server CPU per request, 1 client", fig(func(w *warmFigures) string { return fmtMS(w.http.cpu) }))
	add("floor: direct call into a warm runtime (plain blocking pipe client), p50 / p99", fig(func(w *warmFigures) string { return w.direct.String() }))
	add("floor: bare HTTP server relaying to a warm runtime (own process), p50 / p99", fig(func(w *warmFigures) string { return w.relay.String() }))
	add("floor: relay server CPU per request (relay process only, not its runtime), 1 client", fig(func(w *warmFigures) string { return fmtMS(w.relay.cpu) }))
	rows = append(rows, row{"floor: bare HTTP throughput, 1 / 8 / 32 clients", strings.Join(ftp, " / "), "(same)"})
	add("warm p50 / bare HTTP floor p50 (median of rounds)", fig(func(w *warmFigures) string { return w.ratio(w.http) }))
	add("warm p50 / (HTTP floor + direct runtime) p50 (median of rounds)", fig(func(w *warmFigures) string { return w.ratio(w.http, w.direct) }))
	add("warm p50 / relay floor p50 (median of rounds)", fig(func(w *warmFigures) string { return w.ratio(w.relay) }))
	add("relay floor p50 / (HTTP floor + direct runtime) p50 (median of rounds)", fig(func(w *warmFigures) string { return ratio(w.relay, w.http, w.direct) }))
	if serverB != nil {
		name := "B (" + strings.Join(abEnv, " ") + "): warm p50 / p99; server CPU; A / B p50 (median of rounds)"
		add(name, fig(func(w *warmFigures) string { return w.b.String() + "; " + fmtMS(w.b.cpu) + "; " + w.ratio(w.b) }))
	}

	fmt.Fprintf(out, "fgs bench invoke: %d sequential requests per target in %d interleaved rounds, %d cold starts per kind (medians), %v per throughput point; servers in their own processes\n", requests, rounds, coldRuns, window)
	width := 0
	for _, r := range rows {
		width = max(width, len(r.name))
	}
	fmt.Fprintf(out, "%-*s %-22s %-22s\n", width, "", "python (Python3.9)", "node (Node.js18.15)")
	for _, r := range rows {
		fmt.Fprintf(out, "%-*s %-22s %-22s\n", width, r.name, r.py, r.js)
	}
	fmt.Fprintln(out, memNote)
	return nil
}

// startFloorServer starts `fgs bench <args>`, a floor server in its own
// process with GOMAXPROCS=1, and returns it with the URL it printed.
func startFloorServer(ctx context.Context, exe string, args ...string) (*exec.Cmd, string, error) {
	cmd := exec.CommandContext(ctx, exe, append([]string{"bench"}, args...)...)
	// One P, as fgs uses at one client (package procs): on a 2-core VM it
	// made the floor servers faster too, at one client and at 32.
	cmd.Env = append(os.Environ(), "GOMAXPROCS=1")
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, "", err
	}
	if err := cmd.Start(); err != nil {
		return nil, "", err
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		stopFloorServer(cmd)
		return nil, "", fmt.Errorf("%s: %w", args[0], err)
	}
	return cmd, "http://" + strings.TrimSpace(line) + "/", nil
}

// stopFloorServer interrupts a floor server and waits for it.
func stopFloorServer(cmd *exec.Cmd) {
	cmd.Process.Signal(os.Interrupt)
	cmd.Wait()
}

// warmFigures are the warm figures of one runtime: fgs and its floors.
type warmFigures struct {
	fgs, http, direct, relay *latencies
	b                        *latencies // the B server of an A/B comparison
}

// latencies are the sequential call latencies of one target, per round,
// and its server process's CPU per call.
type latencies struct {
	all    []time.Duration
	rounds []time.Duration // p50 of each round
	cpu    time.Duration
}

func (l *latencies) String() string {
	return fmtMS(pct(l.all, 50)) + " / " + fmtMS(pct(l.all, 99))
}

// ratio is the median over rounds of fgs's p50 over the sum of the
// floors' p50s in the same round, then the lowest and highest.
func (w *warmFigures) ratio(floors ...*latencies) string { return ratio(w.fgs, floors...) }

// ratio is the median over rounds of l's p50 over the sum of the floors'
// p50s in the same round, then the lowest and highest.
func ratio(l *latencies, floors ...*latencies) string {
	var r []float64
	for i, d := range l.rounds {
		var f time.Duration
		for _, fl := range floors {
			f += fl.rounds[i]
		}
		r = append(r, float64(d)/float64(f))
	}
	slices.Sort(r)
	return fmt.Sprintf("%.2fx (%.2f-%.2f)", r[len(r)/2], r[0], r[len(r)-1])
}

// warmRounds measures, at one client, n sequential calls to each of: the
// warm fgs function (req), the bare HTTP floor (floorReq), a plain direct
// call into a warm runtime process, and a relay server in front of one. It
// runs them in rounds, each target in turn, so that a noisy moment of the
// machine hits all of them rather than one.
//
// With reqB (an A/B comparison), the same server with other settings is one
// more target.
func warmRounds(ctx context.Context, hc *http.Client, exe string, bf benchFunc, req, reqB, floorReq *http.Request, fgsPid, pidB, floorPid, n, rounds int) (*warmFigures, error) {
	direct, err := startPlainRuntime(ctx, bf)
	if err != nil {
		return nil, fmt.Errorf("direct runtime floor: %w", err)
	}
	defer direct.close()
	relayCmd, relayURL, err := startFloorServer(ctx, exe, "relay-server", "--runtime", bf.label, "--listen", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("relay floor: %w", err)
	}
	defer stopFloorServer(relayCmd)
	relayReq, _ := http.NewRequest("POST", relayURL, nil)
	relayBody := []byte("{}\n")
	relayReq.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(relayBody)), nil }

	event := []byte("{}")
	var seq int
	directCalls := func(k int) ([]time.Duration, error) {
		lat := make([]time.Duration, 0, k)
		for range k {
			seq++
			t0 := time.Now()
			if _, err := direct.invoke("r"+strconv.Itoa(seq), event); err != nil {
				return nil, err
			}
			lat = append(lat, time.Since(t0))
		}
		return lat, nil
	}
	httpCalls := func(r *http.Request) func(int) ([]time.Duration, error) {
		return func(k int) ([]time.Duration, error) {
			lat, _, err := load(ctx, hc, r, 1, k, 0)
			return lat, err
		}
	}
	w := &warmFigures{&latencies{}, &latencies{}, &latencies{}, &latencies{}, nil}
	type target struct {
		l    *latencies
		pid  int // 0: measured in this process
		call func(int) ([]time.Duration, error)
	}
	targets := []target{
		{w.fgs, fgsPid, httpCalls(req)},
		{w.http, floorPid, httpCalls(floorReq)},
		{w.direct, 0, directCalls},
		{w.relay, relayCmd.Process.Pid, httpCalls(relayReq)},
	}
	if reqB != nil {
		w.b = &latencies{}
		targets = append(targets, target{w.b, pidB, httpCalls(reqB)})
	}
	per := max(n/rounds, 10)
	warmup := max(per/10, 50)
	for _, t := range targets {
		if _, err := t.call(n / 10); err != nil {
			return nil, err
		}
	}
	for range rounds {
		for _, t := range targets {
			if _, err := t.call(warmup); err != nil {
				return nil, err
			}
			cpu0 := procCPU(t.pid)
			lat, err := t.call(per)
			if err != nil {
				return nil, err
			}
			if t.pid != 0 {
				t.l.cpu += procCPU(t.pid) - cpu0
			}
			t.l.all = append(t.l.all, lat...)
			t.l.rounds = append(t.l.rounds, pct(lat, 50))
		}
	}
	for _, t := range targets {
		t.l.cpu /= time.Duration(max(len(t.l.all), 1))
	}
	return w, nil
}

func fmtMS(d time.Duration) string {
	if d < time.Millisecond {
		return fmt.Sprintf("%dus", d.Microseconds())
	}
	return fmt.Sprintf("%.2fms", float64(d.Microseconds())/1000)
}

func (s *benchServer) createFunction(hc *http.Client, name string, bf benchFunc) error {
	code := base64.StdEncoding.EncodeToString([]byte(bf.code))
	body := []byte(`{"func_name":"` + name + `","package":"default","runtime":"` + bf.runtime + `","timeout":30,"handler":"index.handler","memory_size":128,"code_type":"inline","code_filename":"` + bf.filename + `","func_code":{"file":"` + code + `"}}` + "\n")
	resp, err := hc.Do(s.signed("POST", "/v2/"+s.project+"/fgs/functions", body))
	if err != nil {
		return err
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("create %s: %s %s", name, resp.Status, b)
	}
	return nil
}

// invokeRequest is a signed invocation, replayable within the clock-skew
// window (the bench measures the server, not the client's signer).
func (s *benchServer) invokeRequest(name string) *http.Request {
	body := []byte("{}\n")
	r := s.signed("POST", "/v2/"+s.project+"/fgs/functions/"+name+"/invocations", body)
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	return r
}

func (s *benchServer) invokeOnce(hc *http.Client, name string) (time.Duration, bool, error) {
	r := s.invokeRequest(name)
	t0 := time.Now()
	resp, err := hc.Do(r)
	if err != nil {
		return 0, false, err
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	d := time.Since(t0)
	if resp.StatusCode != 200 || resp.Header.Get("X-Is-Func-Err") != "false" {
		return 0, false, fmt.Errorf("invoke %s: %s %s", name, resp.Status, b)
	}
	return d, resp.Header.Get("X-Openfgs-Cold-Start") == "true", nil
}

// load sends req from clients goroutines, either n requests in all or for
// window, and returns the latencies and the rate.
func load(ctx context.Context, hc *http.Client, req *http.Request, clients, n int, window time.Duration) ([]time.Duration, float64, error) {
	var mu sync.Mutex
	var lat []time.Duration
	var firstErr error
	var sent atomic.Int64
	deadline := time.Now().Add(window)
	var wg sync.WaitGroup
	start := time.Now()
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := make([]time.Duration, 0, 1024)
			for {
				if n > 0 && sent.Add(1) > int64(n) || n == 0 && time.Now().After(deadline) {
					break
				}
				r := req.Clone(ctx)
				if req.GetBody != nil {
					r.Body, _ = req.GetBody()
				}
				t0 := time.Now()
				resp, err := hc.Do(r)
				if err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 {
						err = fmt.Errorf("%s: %s", req.URL.Path, resp.Status)
					}
				}
				local = append(local, time.Since(t0))
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					break
				}
			}
			mu.Lock()
			lat = append(lat, local...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	return lat, float64(len(lat)) / time.Since(start).Seconds(), firstErr
}

// supervisorMemory reports what the supervisor adds per idle instance:
// the private memory of each sandbox's init process (the server's direct
// children), next to the runtime processes' own.
func supervisorMemory(serverPid int) string {
	var inits, runtimes []int64
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if ppid(pid) != serverPid {
			continue
		}
		inits = append(inits, privateKB(pid))
		for _, e2 := range ents {
			if c, err := strconv.Atoi(e2.Name()); err == nil && ppid(c) == pid {
				runtimes = append(runtimes, privateKB(c))
			}
		}
	}
	if len(inits) == 0 {
		return "supervisor memory per idle instance: no instances found"
	}
	avg := func(v []int64) float64 {
		var s int64
		for _, x := range v {
			s += x
		}
		return float64(s) / float64(max(len(v), 1)) / 1024
	}
	return fmt.Sprintf("supervisor memory per instance (private, sandbox init/reaper): %.2f MB average over %d instances; the runtime processes themselves: %.2f MB each", avg(inits), len(inits), avg(runtimes))
}

// procCPU is the CPU time (user and system) process pid has used so far,
// in clock ticks of 10 ms.
func procCPU(pid int) time.Duration {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0
	}
	// After the command: state, ppid, ... utime is field 14 of the whole
	// line and stime field 15, so 11 and 12 here.
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

func ppid(pid int) int {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return -1
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return -1
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 2 {
		return -1
	}
	p, _ := strconv.Atoi(f[1])
	return p
}

// privateKB is a process's private memory (Private_Clean+Private_Dirty).
func privateKB(pid int) int64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/smaps_rollup")
	if err != nil {
		return 0
	}
	var total int64
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "Private_Clean:") || strings.HasPrefix(l, "Private_Dirty:") {
			f := strings.Fields(l)
			if len(f) >= 2 {
				n, _ := strconv.ParseInt(f[1], 10, 64)
				total += n
			}
		}
	}
	return total
}
