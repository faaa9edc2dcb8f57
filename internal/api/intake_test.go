package api

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/openfgs/openfgs/internal/auth"
	"github.com/openfgs/openfgs/internal/fgs"
)

// serveHTTP serves s on a loopback port and returns its address.
func serveHTTP(t *testing.T, s *Server) string {
	t.Helper()
	hs := httptest.NewServer(s)
	t.Cleanup(hs.Close)
	return hs.Listener.Addr().String()
}

// rawExchange writes req's header and then body (which may block) to a
// new connection to addr, and reads the response, waiting at most
// within. The connection is returned for further checks.
func rawExchange(t *testing.T, addr string, req *http.Request, body io.Reader, within time.Duration) (*http.Response, net.Conn, *bufio.Reader, error) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	req.Body = io.NopCloser(body)
	go req.Write(conn) // blocks on a body that blocks; ends when conn closes
	conn.SetReadDeadline(time.Now().Add(within))
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, req)
	if err == nil {
		resp.Body = io.NopCloser(bytes.NewReader(mustRead(t, resp.Body)))
	}
	return resp, conn, br, err
}

func mustRead(t *testing.T, r io.Reader) []byte {
	t.Helper()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("reading response body: %v", err)
	}
	return b
}

// stalled is a body that sends head, then nothing until the test ends.
func stalled(t *testing.T, head []byte) io.Reader {
	pr, pw := io.Pipe()
	t.Cleanup(func() { pw.Close() })
	return io.MultiReader(bytes.NewReader(head), pr)
}

// wantFSS checks an error response's status and code.
func wantFSS(t *testing.T, what string, resp *http.Response, status int, code string) {
	t.Helper()
	var e errorBody
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != status || json.Unmarshal(b, &e) != nil || e.Code != code || e.Msg == "" {
		t.Errorf("%s: HTTP %d %s, want %d %s", what, resp.StatusCode, b, status, code)
	}
}

// wantClosed checks that the server closes the connection after its
// response.
func wantClosed(t *testing.T, what string, conn net.Conn, br *bufio.Reader) {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(3 * time.Second))
	if _, err := br.ReadByte(); !errors.Is(err, io.EOF) && !isReset(err) {
		t.Errorf("%s: after the response the connection gives %v, want it closed", what, err)
	}
}

func isReset(err error) bool {
	return err != nil && strings.Contains(err.Error(), "connection reset")
}

// An unauthenticated request is answered before its body is read, however
// large the body claims to be, and its connection is closed.
func TestIntake_RefusesBeforeBody(t *testing.T) {
	s, cred := newTestServer(t)
	addr := serveHTTP(t, s)
	const path = "/v2/p1/fgs/functions/urn:fss:cn-north-4:p1:function:default:f:latest/code"
	for _, tc := range []struct {
		name string
		prep func(r *http.Request)
	}{
		{"unsigned", func(r *http.Request) {}},
		{"unknown AK", func(r *http.Request) { auth.Sign(r, nil, "NOSUCHAK0123456789AB", cred.SecretKey, time.Now()) }},
		{"skewed date", func(r *http.Request) { auth.Sign(r, nil, cred.AccessKey, cred.SecretKey, time.Now().Add(-2*time.Hour)) }},
		{"bad token", func(r *http.Request) { r.Header.Set("X-Auth-Token", "v1.nope.nope") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest("PUT", "http://"+addr+path, nil)
			req.Header.Set("X-Project-Id", "p1")
			tc.prep(req)
			req.ContentLength = 60 << 20
			start := time.Now()
			resp, conn, br, err := rawExchange(t, addr, req, stalled(t, make([]byte, 1024)), 3*time.Second)
			if err != nil {
				t.Fatalf("no response to a %s request with a stalled 60 MB body: %v (the server waits for the body)", tc.name, err)
			}
			wantFSS(t, tc.name, resp, 401, "FSS.0401")
			if took := time.Since(start); took > time.Second {
				t.Errorf("answered after %v, want at once", took)
			}
			if !resp.Close {
				t.Errorf("no Connection: close on the response")
			}
			wantClosed(t, tc.name, conn, br)
		})
	}
}

// A body that arrives too slowly is cut off after about BodyTimeout,
// whatever size it announced.
func TestIntake_SlowBody(t *testing.T) {
	s, cred := newTestServer(t)
	s.in = newIntake(0, 300*time.Millisecond, 1024)
	addr := serveHTTP(t, s)
	body := bytes.Repeat([]byte(" "), 100<<10)
	req := signedReq("PUT", "/v2/p1/fgs/functions/urn:fss:cn-north-4:p1:function:default:f:latest/config-max-instance", body, cred)
	req.URL.Host, req.Host = addr, addr
	req.ContentLength = int64(len(body))
	// 10 bytes, then one byte every 50 ms: 20 B/s, far under 1 KB/s.
	pr, pw := io.Pipe()
	t.Cleanup(func() { pw.Close() })
	go func() {
		pw.Write(body[:10])
		for i := 10; i < len(body); i++ {
			time.Sleep(50 * time.Millisecond)
			if _, err := pw.Write(body[i : i+1]); err != nil {
				return
			}
		}
	}()
	start := time.Now()
	resp, conn, br, err := rawExchange(t, addr, req, pr, 5*time.Second)
	if err != nil {
		t.Fatalf("a trickling body was not cut off: %v", err)
	}
	took := time.Since(start)
	wantFSS(t, "trickling body", resp, 408, "FSS.0408")
	if took < 300*time.Millisecond || took > 2*time.Second {
		t.Errorf("cut off after %v, want about the 300ms body timeout", took)
	}
	wantClosed(t, "trickling body", conn, br)
}

// Large bodies share a budget: one that does not fit waits, then gets
// 429; once the budget is free again it goes through.
func TestIntake_Budget(t *testing.T) {
	s, cred := newTestServer(t)
	s.in = newIntake(1<<20, 2*time.Second, 1<<20)
	s.in.wait = 200 * time.Millisecond
	addr := serveHTTP(t, s)
	const path = "/v2/p1/fgs/functions/urn:fss:cn-north-4:p1:function:default:f:latest/config-max-instance"
	body := append(bytes.Repeat([]byte(" "), 700<<10), "{}"...)
	signed := func() *http.Request {
		r := signedReq("PUT", path, body, cred)
		r.URL.Host, r.Host = addr, addr
		r.ContentLength = int64(len(body))
		return r
	}

	// A holds 700 KB of the 1 MB budget while its body stalls.
	holder := make(chan *http.Response, 1)
	go func() {
		resp, _, _, err := rawExchange(t, addr, signed(), stalled(t, body[:1024]), 5*time.Second)
		if err != nil {
			t.Errorf("stalled holder: %v", err)
		}
		holder <- resp
	}()
	time.Sleep(200 * time.Millisecond) // A is in

	resp, _, _, err := rawExchange(t, addr, signed(), bytes.NewReader(body), 3*time.Second)
	if err != nil {
		t.Fatalf("request over budget: %v", err)
	}
	wantFSS(t, "request over budget", resp, 429, "FSS.0429")
	if resp.Header.Get("Retry-After") == "" {
		t.Errorf("429 without Retry-After")
	}

	// A is cut off by its body timeout and releases its share.
	if r := <-holder; r != nil {
		wantFSS(t, "stalled holder", r, 408, "FSS.0408")
	}
	resp, _, _, err = rawExchange(t, addr, signed(), bytes.NewReader(body), 3*time.Second)
	if err != nil {
		t.Fatalf("request after the budget freed: %v", err)
	}
	wantFSS(t, "request after the budget freed", resp, 400, "FSS.1026") // the handler ran: the body lacks max_instance_num
}

// Once the body is in, the pace deadline is lifted: a handler may run far
// longer than BodyTimeout without its request being cancelled.
func TestIntake_DeadlineLiftedAfterBody(t *testing.T) {
	s, cred := newTestServer(t)
	s.in = newIntake(0, 200*time.Millisecond, 1<<20)
	s.signed("POST /test/slow", 0, func(w http.ResponseWriter, r *http.Request, c *call) error {
		time.Sleep(800 * time.Millisecond)
		if err := r.Context().Err(); err != nil {
			return fgs.E(fgs.Other, fgs.Msg("cancelled: "+err.Error()))
		}
		writeJSON(w, 200, map[string]int{"got": len(c.Body)})
		return nil
	})
	addr := serveHTTP(t, s)
	for i := range 2 { // twice: the connection is reused
		body := []byte(`{"n":1}` + "\n")
		req := signedReq("POST", "/test/slow", body, cred)
		req.RequestURI = ""
		req.URL.Scheme, req.URL.Host, req.Host = "http", addr, addr
		req.Body = io.NopCloser(bytes.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b := mustRead(t, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(b) != `{"got":8}` {
			t.Errorf("request %d: HTTP %d %s, want 200 {\"got\":8}", i+1, resp.StatusCode, b)
		}
	}
}
