package api

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/openfgs/openfgs/internal/auth"
	codefs "github.com/openfgs/openfgs/internal/codestore/fs"
	"github.com/openfgs/openfgs/internal/fgs"
	"github.com/openfgs/openfgs/internal/functions"
	"github.com/openfgs/openfgs/internal/store/cache"
	"github.com/openfgs/openfgs/internal/store/sqlite"
)

// newTestServer returns a Server on a fresh SQLite store with one project
// and credential.
func newTestServer(tb testing.TB) (*Server, fgs.Credential) {
	tb.Helper()
	ctx := context.Background()
	dir := tb.TempDir()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "meta.db"), nil)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close(ctx) })
	code, err := codefs.Open(filepath.Join(dir, "code"))
	if err != nil {
		tb.Fatal(err)
	}
	st.PutDomain(ctx, fgs.Domain{ID: "d1", Name: "openfgs"})
	st.PutProject(ctx, fgs.Project{ID: "p1", Name: "cn-north-4", Domain: "d1"})
	cred := fgs.Credential{AccessKey: "TESTAK0123456789ABCD", SecretKey: "testSecretKey0123456789abcdefghijklmnop", Project: "p1"}
	st.PutCredential(ctx, cred)
	cst := cache.New(st, time.Second)
	fns := functions.New(functions.Options{Store: cst, Code: code, Limits: fgs.Limits{MaxFunctions: 400, MaxCodeBytes: 1 << 30}})
	s := New(Options{
		Store: cst, Functions: fns, Region: "cn-north-4",
		Verify: &auth.Verifier{Lookup: cst.Credential, MaxSkew: time.Hour},
		Tokens: &auth.Tokens{Key: bytes.Repeat([]byte{7}, 32)},
	})
	return s, cred
}

func signedReq(method, path string, body []byte, cred fgs.Credential) *http.Request {
	r := httptest.NewRequest(method, "http://127.0.0.1:8000"+path, bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("X-Project-Id", cred.Project)
	r.Header.Set("User-Agent", "test")
	auth.Sign(r, body, cred.AccessKey, cred.SecretKey, time.Now())
	return r
}

func BenchmarkShowFunctionConfig(b *testing.B) {
	s, cred := newTestServer(b)
	code := base64.StdEncoding.EncodeToString([]byte("def handler(event, context):\n    return event\n"))
	body := []byte(`{"func_name":"f","package":"default","runtime":"Python3.9","timeout":30,"handler":"index.handler","memory_size":128,"code_type":"inline","func_code":{"file":"` + code + `"}}`)
	w := httptest.NewRecorder()
	s.ServeHTTP(w, signedReq("POST", "/v2/p1/fgs/functions", body, cred))
	if w.Code != 200 {
		b.Fatalf("create: %d %s", w.Code, w.Body)
	}
	req := signedReq("GET", "/v2/p1/fgs/functions/urn:fss:cn-north-4:p1:function:default:f:latest/config", nil, cred)
	b.ResetTimer()
	for b.Loop() {
		w := httptest.NewRecorder()
		s.ServeHTTP(w, req)
		if w.Code != 200 {
			b.Fatalf("show: %d %s", w.Code, w.Body)
		}
	}
}

// nopInvoker answers every invocation at once, so BenchmarkInvoke measures
// the API's own work on the invocation path.
type nopInvoker struct{}

func (nopInvoker) Invoke(ctx context.Context, inv *fgs.Invocation) (*fgs.InvocationResult, error) {
	return &fgs.InvocationResult{Body: []byte(`{}`), Log: []byte("log\n"), Duration: time.Millisecond, MemoryMB: 10, InstanceID: "i-1"}, nil
}
func (nopInvoker) Forget(fgs.Key) {}

func BenchmarkInvoke_APIOnly(b *testing.B) {
	s, cred := newTestServer(b)
	s.Invoker = nopInvoker{}
	code := base64.StdEncoding.EncodeToString([]byte("def handler(event, context):\n    return event\n"))
	body := []byte(`{"func_name":"f","package":"default","runtime":"Python3.9","timeout":30,"handler":"index.handler","memory_size":128,"code_type":"inline","func_code":{"file":"` + code + `"}}`)
	w := httptest.NewRecorder()
	s.ServeHTTP(w, signedReq("POST", "/v2/p1/fgs/functions", body, cred))
	ev := []byte("{}\n")
	req := signedReq("POST", "/v2/p1/fgs/functions/urn:fss:cn-north-4:p1:function:default:f:latest/invocations", ev, cred)
	b.ResetTimer()
	for b.Loop() {
		r := req.Clone(context.Background())
		r.Body = io.NopCloser(bytes.NewReader(ev))
		w := httptest.NewRecorder()
		s.ServeHTTP(w, r)
		if w.Code != 200 {
			b.Fatalf("invoke: %d %s", w.Code, w.Body)
		}
	}
}

// BenchmarkInvoke_HTTP is BenchmarkInvoke_APIOnly through a real loopback
// connection (keep-alive, one client), so that the per-connection work
// of reading a body (its read deadline) is measured too.
func BenchmarkInvoke_HTTP(b *testing.B) {
	s, cred := newTestServer(b)
	s.Invoker = nopInvoker{}
	code := base64.StdEncoding.EncodeToString([]byte("def handler(event, context):\n    return event\n"))
	body := []byte(`{"func_name":"f","package":"default","runtime":"Python3.9","timeout":30,"handler":"index.handler","memory_size":128,"code_type":"inline","func_code":{"file":"` + code + `"}}`)
	w := httptest.NewRecorder()
	s.ServeHTTP(w, signedReq("POST", "/v2/p1/fgs/functions", body, cred))
	hs := httptest.NewServer(s)
	defer hs.Close()
	ev := []byte(`{"key":"value","n":1}` + "\n")
	req := signedReq("POST", "/v2/p1/fgs/functions/urn:fss:cn-north-4:p1:function:default:f:latest/invocations", ev, cred)
	req.RequestURI = ""
	req.URL.Scheme, req.URL.Host = "http", hs.Listener.Addr().String()
	client := hs.Client()
	b.ResetTimer()
	for b.Loop() {
		r := req.Clone(context.Background())
		r.Body = io.NopCloser(bytes.NewReader(ev))
		resp, err := client.Do(r)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatalf("invoke: %d", resp.StatusCode)
		}
	}
}
