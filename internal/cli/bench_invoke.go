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
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	"github.com/openfgs/openfgs/internal/runtime"
	"github.com/openfgs/openfgs/internal/runtime/node"
	"github.com/openfgs/openfgs/internal/runtime/python"
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
	var requests, coldRuns int
	var window time.Duration
	var debugListen string
	cmd := &cobra.Command{
		Use:   "invoke",
		Short: "Invocation latency, throughput and cold starts of no-op Python and Node.js functions, next to their floors",
		Long: `Starts fgs servers in their own processes (one with a pre-started generic
instance per runtime, one without) and a bare HTTP server in its own
process, then measures, with SDK-style signed requests:
  cold start: the first call after create (with and without pre-started
              instances) and the first call after scale-to-zero
  warm:       p50 and p99 latency at 1 client, throughput at 1, 8, 32 clients
and the floors, in the same run:
  a bare loopback HTTP round trip to a server in its own process
  a direct call into a warm runtime process over its pipes (no HTTP, no fgs)
plus the supervisor's memory per idle instance.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return benchInvoke(cmd.Context(), cmd.OutOrStdout(), requests, coldRuns, window, debugListen)
		},
	}
	cmd.Flags().IntVar(&requests, "requests", 2000, "sequential requests for the latency figures")
	cmd.Flags().IntVar(&coldRuns, "cold", 5, "cold starts measured per kind")
	cmd.Flags().DurationVar(&window, "window", 2*time.Second, "how long each throughput point runs")
	cmd.Flags().StringVar(&debugListen, "debug-listen", "", "serve the measured server's pprof profiles on this address")
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

func benchInvoke(ctx context.Context, out io.Writer, requests, coldRuns int, window time.Duration, debugListen string) error {
	if requests < 10 || coldRuns < 1 || window <= 0 {
		return fmt.Errorf("--requests must be at least 10, --cold at least 1, --window positive")
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
	withPool, err := startBenchServer(ctx, args...)
	if err != nil {
		return err
	}
	defer withPool.stop()
	noPool, err := startBenchServer(ctx, "--prestart", "0", "--idle-timeout", "1s")
	if err != nil {
		return err
	}
	defer noPool.stop()
	floorCmd := exec.CommandContext(ctx, exe, "bench", "floor-server", "--listen", "127.0.0.1:0")
	floorOut, _ := floorCmd.StdoutPipe()
	if err := floorCmd.Start(); err != nil {
		return err
	}
	defer func() { floorCmd.Process.Signal(os.Interrupt); floorCmd.Wait() }()
	line, err := bufio.NewReader(floorOut).ReadString('\n')
	if err != nil {
		return fmt.Errorf("floor server: %w", err)
	}
	floorURL := "http://" + strings.TrimSpace(line) + "/"

	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true}}
	type row struct{ name, py, js string }
	var rows []row
	add := func(name string, vals map[string]string) {
		rows = append(rows, row{name, vals["python"], vals["node"]})
	}
	cold1, cold2, cold3 := map[string]string{}, map[string]string{}, map[string]string{}
	warm, tput := map[string]string{}, map[string]string{}
	direct := map[string]string{}
	var warmP50 = map[string]time.Duration{}
	var directP50 = map[string]time.Duration{}
	var memNote string

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

		// Warm latency and throughput.
		name = bf.label + "-warm"
		if err := withPool.createFunction(hc, name, bf); err != nil {
			return err
		}
		req := withPool.invokeRequest(name)
		if _, _, err := load(ctx, hc, req, 1, requests/10, 0); err != nil {
			return err
		}
		l, _, err := load(ctx, hc, req, 1, requests, 0)
		if err != nil {
			return err
		}
		warm[bf.label] = fmtMS(pct(l, 50)) + " / " + fmtMS(pct(l, 99))
		warmP50[bf.label] = pct(l, 50)
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

		// Floor: a direct call into a warm runtime process.
		dl, err := directRuntime(ctx, bf, requests)
		if err != nil {
			return fmt.Errorf("direct runtime floor: %w", err)
		}
		direct[bf.label] = fmtMS(pct(dl, 50)) + " / " + fmtMS(pct(dl, 99))
		directP50[bf.label] = pct(dl, 50)
	}

	// Floor: a bare HTTP round trip to a server in its own process.
	floorReq, _ := http.NewRequest("POST", floorURL, nil)
	floorBody := []byte("{}")
	floorReq.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(floorBody)), nil }
	load(ctx, hc, floorReq, 1, requests/10, 0)
	fl, _, err := load(ctx, hc, floorReq, 1, requests, 0)
	if err != nil {
		return err
	}
	var ftp []string
	for _, c := range []int{1, 8, 32} {
		_, rate, err := load(ctx, hc, floorReq, c, 0, window)
		if err != nil {
			return err
		}
		ftp = append(ftp, fmt.Sprintf("%.0f", rate))
	}
	floorP50 := pct(fl, 50)

	add("cold start, first call after create (pre-started)", cold1)
	add("cold start, first call after create (no pool)", cold2)
	add("cold start after scale-to-zero (pre-started)", cold3)
	add("warm p50 / p99, 1 client", warm)
	add("throughput inv/s, 1 / 8 / 32 clients", tput)
	add("floor: direct call into a warm runtime, p50 / p99", direct)
	rows = append(rows, row{"floor: bare HTTP round trip, p50 / p99", fmtMS(floorP50) + " / " + fmtMS(pct(fl, 99)), "(same)"})
	rows = append(rows, row{"floor: bare HTTP throughput, 1 / 8 / 32 clients", strings.Join(ftp, " / "), "(same)"})
	rows = append(rows, row{"warm p50 / bare HTTP floor p50", fmt.Sprintf("%.2fx", float64(warmP50["python"])/float64(floorP50)), fmt.Sprintf("%.2fx", float64(warmP50["node"])/float64(floorP50))})
	rows = append(rows, row{"warm p50 / (HTTP floor + direct runtime) p50",
		fmt.Sprintf("%.2fx", float64(warmP50["python"])/float64(floorP50+directP50["python"])),
		fmt.Sprintf("%.2fx", float64(warmP50["node"])/float64(floorP50+directP50["node"]))})

	fmt.Fprintf(out, "fgs bench invoke: %d sequential requests, %d cold starts per kind (medians), %v per throughput point; servers in their own processes\n", requests, coldRuns, window)
	fmt.Fprintf(out, "%-52s %-22s %-22s\n", "", "python (Python3.9)", "node (Node.js18.15)")
	for _, r := range rows {
		fmt.Fprintf(out, "%-52s %-22s %-22s\n", r.name, r.py, r.js)
	}
	fmt.Fprintln(out, memNote)
	return nil
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

// directRuntime measures the floor of the runtime itself: a warm
// bootstrap process started without a sandbox, called over its pipes.
func directRuntime(ctx context.Context, bf benchFunc, n int) ([]time.Duration, error) {
	dir, err := os.MkdirTemp("", "fgs-bench-rt-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	code := filepath.Join(dir, "code")
	os.Mkdir(code, 0o755)
	if err := os.WriteFile(filepath.Join(code, bf.filename), []byte(bf.code), 0o644); err != nil {
		return nil, err
	}
	var kind runtime.Kind
	if bf.label == "python" {
		kind, err = python.New(dir)
	} else {
		kind, err = node.New(dir)
	}
	if err != nil {
		return nil, err
	}
	fn := &runtime.Function{Name: "direct", Package: "default", Version: "latest", Runtime: bf.runtime, Handler: "index.handler",
		Timeout: 30 * time.Second, MemoryMB: 128, CPU: 300, Concurrency: 1, CodeDir: code, MaxResponseBytes: 6 << 20, MaxRequestBytes: 6 << 20}
	prog, err := kind.Program(fn)
	if err != nil {
		return nil, err
	}
	reqR, reqW, _ := os.Pipe()
	frR, frW, _ := os.Pipe()
	cmd := exec.CommandContext(ctx, prog.Path, prog.Args...)
	cmd.Env, cmd.Dir = prog.Env, prog.Dir
	cmd.ExtraFiles = []*os.File{reqR, frW}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	reqR.Close()
	frW.Close()
	defer func() { reqW.Close(); frR.Close(); cmd.Process.Kill(); cmd.Wait() }()
	conn, err := kind.Attach(ctx, &directProcess{reqW, frR}, fn)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	if err := conn.Load(ctx, fn); err != nil {
		return nil, err
	}
	event := []byte("{}")
	lat := make([]time.Duration, 0, n)
	for i := range n + n/10 {
		inv := &runtime.Invocation{RequestID: "r" + strconv.Itoa(i), Event: event, Deadline: time.Now().Add(30 * time.Second), Log: io.Discard}
		t0 := time.Now()
		if _, err := conn.Invoke(ctx, inv); err != nil {
			return nil, err
		}
		if i >= n/10 {
			lat = append(lat, time.Since(t0))
		}
	}
	return lat, nil
}

type directProcess struct {
	w io.Writer
	r io.Reader
}

func (p *directProcess) Requests() io.Writer { return p.w }
func (p *directProcess) Frames() io.Reader   { return p.r }
func (p *directProcess) Output() io.Reader   { return nil }
func (p *directProcess) Dial(ctx context.Context, port int) (io.ReadWriteCloser, error) {
	return nil, fmt.Errorf("no network")
}
func (p *directProcess) Listen(ctx context.Context, port int) (net.Listener, error) {
	return nil, fmt.Errorf("no network")
}
func (p *directProcess) Done() <-chan struct{} { return nil }

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
