package cli

import (
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
	"slices"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/openfgs/openfgs/internal/auth"
)

func benchCmd(getenv func(string) string) *cobra.Command {
	bench := &cobra.Command{Use: "bench", Short: "Measure fgs against a floor taken in the same run"}
	var requests, rounds, clients int
	api := &cobra.Command{
		Use:   "api",
		Short: "Signed ShowFunctionConfig through the full HTTP stack vs an unauthenticated no-op on the same server",
		Long: `Starts an fgs server in its own process with a fresh data dir, creates a
function, then alternates rounds of two request kinds from this process:
  floor: GET /health, an unauthenticated no-op handler of the same server
  full:  a signed GET .../functions/{urn}/config (auth, store read, JSON)
and prints the median and p99 latency of each and their ratio.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return benchAPI(cmd.Context(), cmd.OutOrStdout(), requests, rounds, clients)
		},
	}
	api.Flags().IntVar(&requests, "requests", 2000, "requests of each kind per round")
	api.Flags().IntVar(&rounds, "rounds", 5, "rounds (kinds alternate within each)")
	api.Flags().IntVar(&clients, "clients", 1, "concurrent clients")
	bench.AddCommand(api, benchInvokeCmd(), floorServerCmd(), relayServerCmd())
	return bench
}

// benchServer is an fgs server child process with a throwaway data dir.
type benchServer struct {
	url, ak, sk, project string
	cmd                  *exec.Cmd
	dir                  string
}

// startBenchServer starts `fgs server` with the flags extra and, besides
// this process's environment and the server's credential, env.
func startBenchServer(ctx context.Context, env []string, extra ...string) (*benchServer, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "fgs-bench-")
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	s := &benchServer{url: "http://" + addr, ak: auth.GenerateAccessKey(), sk: auth.GenerateSecretKey(), project: auth.GenerateID(), dir: dir}
	os.Chmod(dir, 0o711) // sandboxes reach code under the data dir
	s.cmd = exec.CommandContext(ctx, exe, append([]string{"server", "--listen", addr, "--data-dir", filepath.Join(dir, "data"), "--log-level", "warn"}, extra...)...)
	s.cmd.Env = append(os.Environ(), "FGS_ACCESS_KEY="+s.ak, "FGS_SECRET_KEY="+s.sk, "FGS_PROJECT_ID="+s.project, "FGS_PASSWORD="+auth.GenerateSecretKey())
	s.cmd.Env = append(s.cmd.Env, env...)
	s.cmd.Stderr = os.Stderr
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(s.url + "/health")
		if err == nil {
			resp.Body.Close()
			return s, nil
		}
		if time.Now().After(deadline) {
			s.stop()
			return nil, fmt.Errorf("server did not come up: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (s *benchServer) stop() {
	if s.cmd.Process != nil {
		s.cmd.Process.Signal(os.Interrupt)
		s.cmd.Wait()
	}
	os.RemoveAll(s.dir)
}

// signed builds a request signed with the server's credential.
func (s *benchServer) signed(method, path string, body []byte) *http.Request {
	r, _ := http.NewRequest(method, s.url+path, bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("X-Project-Id", s.project)
	r.Header.Set("User-Agent", "openfgs-bench")
	auth.Sign(r, body, s.ak, s.sk, time.Now())
	return r
}

func benchAPI(ctx context.Context, out io.Writer, requests, rounds, clients int) error {
	if requests < 1 || rounds < 1 || clients < 1 {
		return fmt.Errorf("--requests, --rounds and --clients must be positive")
	}
	s, err := startBenchServer(ctx, nil)
	if err != nil {
		return err
	}
	defer s.stop()
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients, DisableCompression: true}}

	code := base64.StdEncoding.EncodeToString([]byte("def handler(event, context):\n    return event\n"))
	body := []byte(`{"func_name":"bench","package":"default","runtime":"Python3.9","timeout":30,"handler":"index.handler","memory_size":128,"code_type":"inline","func_code":{"file":"` + code + `"}}` + "\n")
	resp, err := hc.Do(s.signed("POST", "/v2/"+s.project+"/fgs/functions", body))
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("create function: %s", resp.Status)
	}

	// One signature, replayed: the signature is valid for the clock-skew
	// window, and the bench measures the server, not the client's signer.
	full := s.signed("GET", "/v2/"+s.project+"/fgs/functions/urn:fss:cn-north-4:"+s.project+":function:default:bench:latest/config", nil)
	floor, _ := http.NewRequest("GET", s.url+"/health", nil)

	run := func(req *http.Request) ([]time.Duration, time.Duration, error) {
		lat := make([]time.Duration, requests)
		var mu sync.Mutex
		var firstErr error
		var wg sync.WaitGroup
		next := make(chan int, requests)
		for i := range requests {
			next <- i
		}
		close(next)
		start := time.Now()
		for range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range next {
					r := req.Clone(ctx)
					t0 := time.Now()
					resp, err := hc.Do(r)
					if err == nil {
						io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
						if resp.StatusCode != 200 {
							err = fmt.Errorf("%s %s: %s", req.Method, req.URL.Path, resp.Status)
						}
					}
					lat[i] = time.Since(t0)
					if err != nil {
						mu.Lock()
						if firstErr == nil {
							firstErr = err
						}
						mu.Unlock()
					}
				}
			}()
		}
		wg.Wait()
		return lat, time.Since(start), firstErr
	}
	// Warm up connections and caches.
	if _, _, err := run(floor); err != nil {
		return err
	}
	if _, _, err := run(full); err != nil {
		return err
	}
	var floorAll, fullAll []time.Duration
	var floorMed, fullMed, ratios []float64
	var floorWall, fullWall time.Duration
	for i := range rounds {
		order := []*http.Request{floor, full}
		if i%2 == 1 {
			order = []*http.Request{full, floor}
		}
		for _, req := range order {
			lat, wall, err := run(req)
			if err != nil {
				return err
			}
			if req == floor {
				floorAll, floorWall = append(floorAll, lat...), floorWall+wall
				floorMed = append(floorMed, float64(pct(lat, 50)))
			} else {
				fullAll, fullWall = append(fullAll, lat...), fullWall+wall
				fullMed = append(fullMed, float64(pct(lat, 50)))
			}
		}
		ratios = append(ratios, fullMed[i]/floorMed[i])
	}
	n := float64(requests * rounds)
	fmt.Fprintf(out, "fgs bench api: %d rounds x %d requests per kind, %d client(s), server in its own process\n", rounds, requests, clients)
	fmt.Fprintf(out, "%-44s %10s %10s %12s\n", "kind", "p50", "p99", "req/s")
	fmt.Fprintf(out, "%-44s %10v %10v %12.0f\n", "floor: GET /health (no auth, no-op)", pct(floorAll, 50).Round(time.Microsecond), pct(floorAll, 99).Round(time.Microsecond), n/floorWall.Seconds())
	fmt.Fprintf(out, "%-44s %10v %10v %12.0f\n", "full: signed ShowFunctionConfig", pct(fullAll, 50).Round(time.Microsecond), pct(fullAll, 99).Round(time.Microsecond), n/fullWall.Seconds())
	slices.Sort(ratios)
	fmt.Fprintf(out, "ratio of medians full/floor: %.2f (median of per-round ratios; rounds: %s)\n", ratios[len(ratios)/2], fmtRatios(ratios))
	return nil
}

func pct(d []time.Duration, p int) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	i := (len(s) - 1) * p / 100
	return s[i]
}

func fmtRatios(r []float64) string {
	var b bytes.Buffer
	for i, x := range r {
		if i > 0 {
			b.WriteString(" ")
		}
		fmt.Fprintf(&b, "%.2f", x)
	}
	return b.String()
}
