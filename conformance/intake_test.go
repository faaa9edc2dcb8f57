package conformance

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// This file covers what an unauthenticated client can make the server
// spend (issue 12 item 5): request bodies are read only after the headers
// authenticate the request, large bodies share a memory budget
// (--body-budget), slow bodies are cut off (--body-timeout,
// --body-min-rate), and password tokens are throttled per user and per
// source address with no timing difference for unknown users.

// pid is the fgs process's id.
func (s *Server) pid(t *testing.T) int {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		t.Fatal("fgs is not running")
	}
	return s.proc.cmd.Process.Pid
}

// memKB reads a field of /proc/<pid>/status (VmRSS, VmHWM) in kB.
func (s *Server) memKB(t *testing.T, field string) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.pid(t)))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				t.Fatalf("%s: %q: %v", field, line, err)
			}
			return n
		}
	}
	t.Fatalf("no %s in /proc/%d/status", field, s.pid(t))
	return 0
}

// zeros is an endless body of '0' bytes that costs the client nothing.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = '0'
	}
	return len(p), nil
}

// bigOutcome is what became of one large-body request.
type bigOutcome struct {
	status int    // 0 when the exchange failed
	code   string // error_code of the response
	err    error
}

// sendBig sends n concurrent requests with a size-byte body each, made by
// prep, and returns what came back.
func sendBig(t *testing.T, n int, size int64, prep func(*http.Request)) []bigOutcome {
	t.Helper()
	client := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	out := make([]bigOutcome, n)
	var wg sync.WaitGroup
	for i := range out {
		wg.Go(func() {
			req, err := http.NewRequest("POST", "", io.LimitReader(zeros{}, size))
			if err != nil {
				out[i].err = err
				return
			}
			req.ContentLength = size
			prep(req)
			resp, err := client.Do(req)
			if err != nil {
				out[i].err = err
				return
			}
			defer resp.Body.Close()
			var e struct {
				Code string `json:"error_code"`
			}
			b, _ := io.ReadAll(resp.Body)
			json.Unmarshal(b, &e)
			out[i].status, out[i].code = resp.StatusCode, e.Code
		})
	}
	wg.Wait()
	return out
}

// checkOutcomes checks that every request was refused with one of the
// allowed statuses, or had its connection closed while still sending
// (the server answers before the body and closes).
func checkOutcomes(t *testing.T, what string, out []bigOutcome, allowed map[int]string) {
	t.Helper()
	counts := map[string]int{}
	for _, o := range out {
		switch {
		case o.err != nil:
			msg := o.err.Error()
			if !strings.Contains(msg, "broken pipe") && !strings.Contains(msg, "connection reset") && !strings.Contains(msg, "EOF") {
				t.Errorf("%s: %v, want a response or a closed connection", what, o.err)
			}
			counts["connection closed while sending"]++
		case allowed[o.status] != o.code:
			t.Errorf("%s: HTTP %d %s, want one of %v", what, o.status, o.code, allowed)
		default:
			counts[fmt.Sprintf("HTTP %d %s", o.status, o.code)]++
		}
	}
	t.Logf("%s: %v", what, counts)
}

// bodyMemoryBound is the documented bound (docs/api.md, "Request bodies")
// on how far request bodies raise the server's memory: twice the body
// budget, since a freed body buffer is reused only after Go's next
// garbage collection, plus 64 MB of slack for buffers and the runtime.
func bodyMemoryBound(budgetMB int64) int64 { return (2*budgetMB + 64) << 10 } // kB

func TestBodies_UnauthenticatedMemory(t *testing.T) {
	t.Parallel()
	const budgetMB = 100
	s := startServer(t, serverOpts{Extra: []string{"--body-budget", strconv.Itoa(budgetMB)}})
	c := s.Client(t)
	mustCreate(t, c, pyInline("before-flood"))
	base := s.memKB(t, "VmRSS")
	fns := s.URL + "/v2/" + s.Project + "/fgs/functions"
	code := fns + "/before-flood/code"
	const n, size = 40, 60 << 20

	start := time.Now()
	out := sendBig(t, n, size, func(r *http.Request) {
		r.URL, _ = r.URL.Parse(fns)
		r.Header.Set("Content-Type", "application/json")
	})
	checkOutcomes(t, "unsigned 60 MB POST", out, map[int]string{401: "FSS.0401"})
	out = sendBig(t, n, size, func(r *http.Request) {
		r.URL, _ = r.URL.Parse(code)
		r.Method = "PUT"
		r.Header.Set("X-Project-Id", s.Project)
		signHMACSHA256(r, nil, randomAK(), s.SK, time.Now())
	})
	checkOutcomes(t, "unknown-AK 60 MB PUT", out, map[int]string{401: "FSS.0401"})
	if took := time.Since(start); took > 20*time.Second {
		t.Errorf("%d unsigned and %d unknown-AK 60 MB requests took %v, want them refused at once", n, n, took)
	}
	after := s.memKB(t, "VmHWM")
	t.Logf("VmRSS before %d MB; VmHWM after 2x%d anonymous 60 MB bodies %d MB", base>>10, n, after>>10)
	if after-base > 64<<10 {
		t.Errorf("anonymous bodies raised the server's peak memory by %d MB, want next to nothing (they are never read)", (after-base)>>10)
	}

	// Signed with the real AK but a wrong SK: the signature covers the
	// body's digest, so these are read, within the budget.
	out = sendBig(t, n, size, func(r *http.Request) {
		r.URL, _ = r.URL.Parse(code)
		r.Method = "PUT"
		r.Header.Set("X-Project-Id", s.Project)
		signHMACSHA256(r, nil, s.AK, randomToken(40), time.Now())
	})
	checkOutcomes(t, "badly signed 60 MB PUT", out, map[int]string{401: "FSS.0401", 429: "FSS.0429"})
	peak := s.memKB(t, "VmHWM")
	t.Logf("VmHWM after %d badly signed 60 MB bodies: %d MB (budget %d MB, bound %d MB over %d MB)", n, peak>>10, budgetMB, bodyMemoryBound(budgetMB)>>10, base>>10)
	if peak-base > bodyMemoryBound(budgetMB) {
		t.Errorf("badly signed bodies raised the server's peak memory by %d MB, want at most %d MB with --body-budget %d",
			(peak-base)>>10, bodyMemoryBound(budgetMB)>>10, budgetMB)
	}

	// The SDK still works, large bodies included.
	_, err := showConfig(c, "before-flood")
	must(t, "ShowFunctionConfig after the flood", err)
	mustCreate(t, c, pyInline("after-flood"))
}

// TestBodies_Slow: a body that trickles is cut off after about
// --body-timeout, whatever size it announced; an unauthenticated one is
// answered at once.
func TestBodies_Slow(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOpts{Extra: []string{"--body-timeout", "2s"}})
	target := "/v2/" + s.Project + "/fgs/functions"
	const perKind = 50
	type result struct {
		kind   string
		status int
		closed time.Duration // when the server closed the connection
		err    error
	}
	results := make(chan result, 2*perKind)
	start := time.Now()
	for i := range 2 * perKind {
		signed := i%2 == 0
		go func() {
			r := result{kind: "unsigned"}
			if signed {
				r.kind = "signed"
			}
			defer func() { results <- r }()
			conn, err := net.Dial("tcp", s.Addr)
			if err != nil {
				r.err = err
				return
			}
			defer conn.Close()
			req, _ := http.NewRequest("POST", s.URL+target, nil)
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("X-Project-Id", s.Project)
			if signed {
				signHMACSHA256(req, nil, s.AK, s.SK, time.Now())
			}
			req.ContentLength = 1 << 20
			pr, pw := io.Pipe()
			req.Body = pr
			go req.Write(conn)
			// One byte a second: far under any minimum rate.
			go func() {
				for {
					if _, err := pw.Write([]byte("{")); err != nil {
						return
					}
					time.Sleep(time.Second)
				}
			}()
			defer pw.Close()
			conn.SetReadDeadline(time.Now().Add(30 * time.Second))
			br := bufio.NewReader(conn)
			if resp, err := http.ReadResponse(br, req); err == nil {
				r.status = resp.StatusCode
				io.Copy(io.Discard, resp.Body)
			}
			_, err = io.Copy(io.Discard, br) // until the server closes
			r.closed = time.Since(start)
			if err != nil && !strings.Contains(err.Error(), "connection reset") {
				r.err = err
			}
		}()
	}
	var longest = map[string]time.Duration{}
	for range 2 * perKind {
		r := <-results
		if r.err != nil {
			t.Errorf("%s slow body: %v", r.kind, r.err)
			continue
		}
		want := 401
		if r.kind == "signed" {
			want = 408
		}
		if r.status != want {
			t.Errorf("%s slow body: HTTP %d, want %d", r.kind, r.status, want)
		}
		longest[r.kind] = max(longest[r.kind], r.closed)
	}
	t.Logf("slowest close: unsigned %v, signed %v (--body-timeout 2s)", longest["unsigned"].Round(time.Millisecond), longest["signed"].Round(time.Millisecond))
	if longest["unsigned"] > 3*time.Second {
		t.Errorf("an unsigned slow body held its connection %v, want it closed at once", longest["unsigned"])
	}
	if longest["signed"] > 6*time.Second {
		t.Errorf("a signed slow body held its connection %v, want it closed about --body-timeout 2s", longest["signed"])
	}
	// The server still serves.
	_, err := list(s.Client(t), listArgs{})
	must(t, "ListFunctions after the slow bodies", err)
}

// tokenFrom asks for a token from a given loopback source address.
func (s *Server) tokenFrom(t *testing.T, source, user, password string) rawResp {
	t.Helper()
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		DisableKeepAlives: true,
		DialContext:       (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(source)}}).DialContext,
	}}
	req := s.newRaw(t, "POST", "/v3/auth/tokens", tokenRequest(user, password, bootDomain, map[string]any{"id": s.Project}))
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("token request from %s: %v", source, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return rawResp{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// TestTokens_Throttled: with the default limits a user may fail 5
// password checks a minute, from any address, and an address may make 30
// token requests a minute.
func TestTokens_Throttled(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOpts{})

	t.Run("PerUser", func(t *testing.T) {
		for i := range 5 {
			if r := s.tokenFrom(t, "127.0.0.2", bootUser, "wrong-"+strconv.Itoa(i)); r.Status != 401 {
				t.Fatalf("wrong password %d: %v, want 401", i+1, r)
			}
		}
		// The sixth, from another address, right password or not.
		for _, pw := range []string{"wrong", s.Password} {
			r := s.tokenFrom(t, "127.0.0.3", bootUser, pw)
			wantRawError(t, "6th password check for one user", r, 429, "FSS.0429")
			if r.Header.Get("Retry-After") == "" {
				t.Errorf("429 without Retry-After")
			}
		}
		// An unknown user is throttled just the same.
		for i := range 5 {
			if r := s.tokenFrom(t, "127.0.0.4", "nobody", "x"+strconv.Itoa(i)); r.Status != 401 {
				t.Fatalf("unknown user, attempt %d: %v, want 401", i+1, r)
			}
		}
		wantRawError(t, "6th attempt for an unknown user", s.tokenFrom(t, "127.0.0.5", "nobody", "x"), 429, "FSS.0429")
	})

	t.Run("PerSource", func(t *testing.T) {
		start := time.Now()
		for i := range 30 {
			if r := s.tokenFrom(t, "127.0.0.6", "user-"+strconv.Itoa(i), "x"); r.Status != 401 {
				t.Fatalf("request %d from one address: %v, want 401", i+1, r)
			}
		}
		// The bucket refills at one request every 2 s while these run
		// (each costs a password check): allow for that.
		extra := int(time.Since(start)/(2*time.Second)) + 1
		var r rawResp
		for i := range extra + 1 {
			if r = s.tokenFrom(t, "127.0.0.6", "someone-"+strconv.Itoa(i), "x"); r.Status != 401 {
				break
			}
		}
		wantRawError(t, fmt.Sprintf("token requests from one address beyond 30 (+%d refilled)", extra), r, 429, "FSS.0429")
		if r := s.tokenFrom(t, "127.0.0.7", "someone", "x"); r.Status != 401 {
			t.Errorf("a request from another address: %v, want 401", r)
		}
	})
}

// TestTokens_NoUserTimingOracle: an unknown user is refused in the time
// a wrong password takes.
func TestTokens_NoUserTimingOracle(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOpts{Extra: []string{"--token-user-limit", "1000", "--token-source-limit", "1000"}})
	kinds := []struct{ name, user string }{{"wrong password", bootUser}, {"unknown user", "nobody"}}
	best := []time.Duration{time.Hour, time.Hour}
	for i := range 9 {
		for k, kind := range kinds {
			start := time.Now()
			r := s.token(t, kind.user, "wrong-"+strconv.Itoa(i), bootDomain, map[string]any{"id": s.Project})
			best[k] = min(best[k], time.Since(start))
			if r.Status != 401 {
				t.Fatalf("%s: %v, want 401", kind.name, r)
			}
		}
	}
	ratio := float64(best[1]) / float64(best[0])
	t.Logf("fastest refusal: wrong password %v, unknown user %v (ratio %.2f)", best[0], best[1], ratio)
	if ratio < 0.5 || ratio > 2 {
		t.Errorf("an unknown user is refused in %v, a wrong password in %v (ratio %.2f): the timing tells whether the user exists", best[1], best[0], ratio)
	}
}
