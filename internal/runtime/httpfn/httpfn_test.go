//go:build linux

package httpfn_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openfgs/openfgs/internal/runtime"
	"github.com/openfgs/openfgs/internal/runtime/httpfn"
	"github.com/openfgs/openfgs/internal/runtime/runtimetest"
)

const (
	python = "/usr/bin/python3.11"
	node   = "/usr/bin/node"
)

// pyApp is an HTTP function in Python: a start command (no #! line, not
// executable, as users upload it) and a server on 127.0.0.1:8000.
var pyApp = map[string]string{
	"bootstrap": python + " -u $RUNTIME_CODE_ROOT/server.py\n",
	"server.py": `import json, os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit, parse_qs

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def handle_any(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        if url.path == "/big":
            out = b"x" * int(query["n"][0])
            ctype = "text/plain"
        else:
            out = json.dumps({
                "method": self.command,
                "path": url.path,
                "query": query,
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "body": body.decode(),
                "pid": os.getpid(),
                "greeting": os.environ.get("GREETING"),
            }).encode()
            ctype = "application/json"
        self.send_response(201 if self.command == "PUT" else 200)
        self.send_header("Content-Type", ctype)
        self.send_header("X-Custom", "a")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    do_GET = do_POST = do_PUT = do_DELETE = handle_any

    def log_message(self, *args):
        pass

print("listening on 8000")
ThreadingHTTPServer(("127.0.0.1", 8000), Handler).serve_forever()
`,
}

// nodeApp is an HTTP function in Node.js listening on 0.0.0.0:8000.
var nodeApp = map[string]string{
	"bootstrap": node + " $RUNTIME_CODE_ROOT/index.js\n",
	"index.js": `const http = require('http');

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const url = new URL(req.url, 'http://localhost');
    switch (url.pathname) {
      case '/sleep':
        console.log('start ' + req.headers['x-cff-request-id']);
        setTimeout(() => res.end(req.headers['x-cff-request-id']), 400);
        return;
      case '/exit':
        console.log('bye');
        process.exit(3);
      case '/big':
        res.end('x'.repeat(Number(url.searchParams.get('n'))));
        return;
    }
    res.setHeader('Content-Type', 'application/json');
    res.setHeader('Set-Cookie', ['a=1', 'b=2']);
    res.end(JSON.stringify({
      method: req.method,
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers: req.headers,
      body: Buffer.concat(chunks).toString(),
      pid: process.pid,
    }));
  });
});
server.keepAliveTimeout = 200; // close idle connections quickly
server.listen(8000, '0.0.0.0');
`,
}

func TestMain(m *testing.M) {
	runtimetest.NetnsStarterMain()
	os.Exit(m.Run())
}

// newFunc writes files into a new code folder of the function "web".
func newFunc(t testing.TB, files map[string]string) *runtime.Function {
	fn := runtimetest.Func(t, "http", files)
	fn.URN = "urn:fss:cn-north-4:0123456789abcdef0123456789abcdef:function:default:web"
	fn.Name = "web"
	fn.Handler = "bootstrap"
	return fn
}

func need(t testing.TB, path string) {
	if _, err := os.Stat(path); err != nil {
		t.Skipf("no %s", path)
	}
}

// instance is a started instance (in a network namespace of its own),
// attached.
type instance struct{ *runtimetest.Instance }

func launch(t testing.TB, k *httpfn.Kind, fn *runtime.Function) instance {
	t.Helper()
	return instance{runtimetest.MustLaunch(t, k, fn)}
}

// invoke runs event as an invocation due in 5 s.
func (in instance) invoke(ctx context.Context, event string, headers map[string]string) (string, runtime.Result, error) {
	c, err := in.InvokeWithin(ctx, event, headers, 5*time.Second)
	return c.RequestID, c.Result, err
}

// response is an HTTP function's result, its body decoded.
type response struct {
	StatusCode int
	Headers    map[string][]string
	Body       []byte
}

func decode(t testing.TB, res runtime.Result) response {
	t.Helper()
	var r struct {
		Body            string              `json:"body"`
		Headers         map[string][]string `json:"headers"`
		StatusCode      int                 `json:"statusCode"`
		IsBase64Encoded bool                `json:"isBase64Encoded"`
	}
	if err := json.Unmarshal(res.Body, &r); err != nil {
		t.Fatalf("result %s: %v", res.Body, err)
	}
	if !r.IsBase64Encoded {
		t.Errorf("isBase64Encoded false in %s", res.Body)
	}
	body, err := base64.StdEncoding.DecodeString(r.Body)
	if err != nil {
		t.Fatalf("body %q: %v", r.Body, err)
	}
	return response{r.StatusCode, r.Headers, body}
}

func (in instance) call(t testing.TB, event string, headers map[string]string) (string, response) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	rid, res, err := in.invoke(ctx, event, headers)
	if err != nil || res.Err != nil {
		t.Fatalf("Invoke(%s) = %v, %v", event, res.Err, err)
	}
	return rid, decode(t, res)
}

// echo is what the test apps answer.
type echo struct {
	Method  string            `json:"method"`
	Path    string            `json:"path"`
	Query   json.RawMessage   `json:"query"`
	Headers map[string]string `json:"headers"`
	Body    string            `json:"body"`
	PID     int               `json:"pid"`
}

func echoOf(t testing.TB, r response) echo {
	t.Helper()
	var e echo
	if err := json.Unmarshal(r.Body, &e); err != nil {
		t.Fatalf("app answered %q: %v", r.Body, err)
	}
	return e
}

func TestAvailable(t *testing.T) {
	k := httpfn.New()
	if err := k.Available("http"); err != nil {
		t.Fatal(err)
	}
	for _, rt := range []string{"Custom", "Custom Image", "Go1.x"} {
		if err := k.Available(rt); err == nil {
			t.Errorf("Available(%q) = nil", rt)
		}
	}
	if _, err := k.Program(nil); err == nil {
		t.Error("Program(nil) = nil error")
	}
	k.Shell = "/nonexistent/sh"
	if err := k.Available("http"); err == nil {
		t.Error("Available without a shell = nil")
	}
}

func TestProgram(t *testing.T) {
	fn := newFunc(t, nodeApp)
	fn.UserData = map[string]string{"GREETING": "hi"}
	fn.EncryptedUserData = map[string]string{"PASSWORD": "s3cret"}
	prog, err := httpfn.New().Program(fn)
	if err != nil {
		t.Fatal(err)
	}
	if prog.Path != "/bin/sh" || len(prog.Args) != 3 || prog.Args[0] != "-c" || prog.Args[2] != filepath.Join(fn.CodeDir, "bootstrap") ||
		prog.Port != 8000 || !prog.OwnNetwork || prog.Pipes || prog.Dir != fn.CodeDir {
		t.Errorf("Program = %+v", prog)
	}
	env := strings.Join(prog.Env, "\n") + "\n"
	for _, want := range []string{"GREETING=hi\n", "RUNTIME_FUNC_NAME=web\n", "RUNTIME_CODE_ROOT=" + fn.CodeDir + "\n",
		`RUNTIME_USERDATA={"GREETING":"hi","PASSWORD":"s3cret"}` + "\n"} {
		if !strings.Contains(env, want) {
			t.Errorf("env lacks %q:\n%s", want, env)
		}
	}
	if strings.Contains(env, "\nPASSWORD=") {
		t.Error("encrypted user data exported")
	}
}

func TestMissingBootstrap(t *testing.T) {
	k := httpfn.New()
	fn := newFunc(t, map[string]string{"index.js": nodeApp["index.js"]})
	var fe *runtime.FuncError
	if _, err := k.Program(fn); !errors.As(err, &fe) || fe.Code != runtime.ErrBootstrap || fe.Message != "runtime bootstrap file is not found" {
		t.Fatalf("Program = %v", err)
	}
	if _, err := k.Attach(context.Background(), nil, fn); !errors.As(err, &fe) || fe.Code != runtime.ErrBootstrap {
		t.Fatalf("Attach = %v", err)
	}
}

func TestPythonApp(t *testing.T) {
	need(t, python)
	fn := newFunc(t, pyApp)
	fn.UserData = map[string]string{"GREETING": "hi"}
	in := launch(t, httpfn.New(), fn)

	// An APIG event: its request, with the function's headers.
	event := `{"httpMethod":"GET","path":"/items/42","queryStringParameters":{"q":"a b","n":"1"},
		"headers":{"accept":"application/json","x-user":"bob","host":"api.example.com","connection":"close"},
		"body":"","isBase64Encoded":true,"requestContext":{"requestId":"r1"},"pathParameters":{"id":"42"}}`
	rid, r := in.call(t, event, map[string]string{"X-CFF-Security-Token": "stoken"})
	if r.StatusCode != 200 || r.Headers["X-Custom"][0] != "a" || r.Headers["Content-Type"][0] != "application/json" {
		t.Errorf("response %d %v", r.StatusCode, r.Headers)
	}
	e := echoOf(t, r)
	if e.Method != "GET" || e.Path != "/items/42" || string(e.Query) != `{"n": ["1"], "q": ["a b"]}` || e.Body != "" {
		t.Errorf("request %s %s %s %q", e.Method, e.Path, e.Query, e.Body)
	}
	for k, v := range map[string]string{
		"accept": "application/json", "x-user": "bob", "host": "api.example.com",
		"x-cff-request-id": rid, "x-cff-memory": "256", "x-cff-timeout": "30", "x-cff-func-version": "latest",
		"x-cff-func-name": "web", "x-cff-project-id": fn.Project, "x-cff-package": "default",
		"x-cff-region": "cn-north-4", "x-cff-security-token": "stoken",
	} {
		if e.Headers[k] != v {
			t.Errorf("header %s = %q, want %q", k, e.Headers[k], v)
		}
	}
	if e.Headers["connection"] == "close" {
		t.Error("the event's Connection header was passed on")
	}

	// A base64 body, PUT.
	_, r = in.call(t, `{"httpMethod":"PUT","path":"/up","body":"eyJrIjoidiJ9","isBase64Encoded":true,"headers":{"content-type":"application/json"}}`, nil)
	if e := echoOf(t, r); r.StatusCode != 201 || e.Method != "PUT" || e.Body != `{"k":"v"}` || e.Headers["content-length"] != "9" {
		t.Errorf("PUT: %d %+v", r.StatusCode, e)
	}

	// Not an APIG event: POST / with the event as the body.
	_, r = in.call(t, `{"name":"world"}`, nil)
	if e := echoOf(t, r); e.Method != "POST" || e.Path != "/" || e.Body != `{"name":"world"}` || e.Headers["content-type"] != "application/json" {
		t.Errorf("plain event: %+v", e)
	}
}

func TestNodeApp(t *testing.T) {
	need(t, node)
	in := launch(t, httpfn.New(), newFunc(t, nodeApp))
	_, r := in.call(t, `{"httpMethod":"POST","path":"/p%2Fq","queryStringParameters":{"x":"1"},"body":"hello","isBase64Encoded":false}`, nil)
	e := echoOf(t, r)
	if e.Method != "POST" || e.Path != "/p%2Fq" || string(e.Query) != `{"x":"1"}` || e.Body != "hello" {
		t.Errorf("request %+v", e)
	}
	if got := r.Headers["Set-Cookie"]; len(got) != 2 || got[0] != "a=1" || got[1] != "b=2" {
		t.Errorf("Set-Cookie = %q", got)
	}
	// The app closes idle connections after 200 ms: the next request
	// notices and goes over a new one.
	time.Sleep(300 * time.Millisecond)
	_, r = in.call(t, `[1,2,3]`, nil)
	if e := echoOf(t, r); e.Body != `[1,2,3]` || e.Method != "POST" {
		t.Errorf("after idle: %+v", e)
	}
}

func TestConcurrent(t *testing.T) {
	need(t, node)
	in := launch(t, httpfn.New(), newFunc(t, nodeApp))
	var wg sync.WaitGroup
	start := time.Now()
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			rid, res, err := in.invoke(ctx, `{"httpMethod":"GET","path":"/sleep"}`, nil)
			if err != nil || res.Err != nil {
				t.Errorf("call %d: %v, %v", i, res.Err, err)
				return
			}
			if r := decode(t, res); string(r.Body) != rid {
				t.Errorf("call %d: %q, want %q", i, r.Body, rid)
			}
		}()
	}
	wg.Wait()
	if d := time.Since(start); d > 1200*time.Millisecond {
		t.Errorf("4 concurrent 400 ms requests took %v", d)
	}
}

// Two instances both listen on port 8000, each in its own namespace.
func TestTwoInstances(t *testing.T) {
	need(t, node)
	k := httpfn.New()
	fn := newFunc(t, nodeApp)
	free := runtimetest.HostPortFree(httpfn.Port)
	a, b := launch(t, k, fn), launch(t, k, fn)
	pids := map[int]bool{}
	for i := 0; i < 3; i++ {
		for _, in := range []instance{a, b} {
			_, r := in.call(t, `{}`, nil)
			pids[echoOf(t, r).PID] = true
		}
	}
	if len(pids) != 2 {
		t.Errorf("answers came from pids %v, want two", pids)
	}
	runtimetest.CheckHostRefuses(t, httpfn.Port, free)
}

func TestTooLarge(t *testing.T) {
	need(t, node)
	fn := newFunc(t, nodeApp)
	fn.MaxResponseBytes = 1000
	in := launch(t, httpfn.New(), fn)
	if _, r := in.call(t, `{"httpMethod":"GET","path":"/big","queryStringParameters":{"n":"1000"}}`, nil); len(r.Body) != 1000 {
		t.Errorf("1000 bytes: %d", len(r.Body))
	}
	_, res, err := in.invoke(context.Background(), `{"httpMethod":"GET","path":"/big","queryStringParameters":{"n":"1001"}}`, nil)
	if fe := res.Err; err != nil || fe == nil || fe.Code != runtime.ErrTooLarge || fe.Message != "Response body size '1001' larger than max value '1000'." {
		t.Errorf("1001 bytes: %+v, %v", res.Err, err)
	}
	// Default limit, 6 MB.
	in = launch(t, httpfn.New(), newFunc(t, nodeApp))
	if _, r := in.call(t, `{"httpMethod":"GET","path":"/big","queryStringParameters":{"n":"6291456"}}`, nil); len(r.Body) != 6291456 {
		t.Errorf("6 MiB: %d", len(r.Body))
	}
	_, res, err = in.invoke(context.Background(), `{"httpMethod":"GET","path":"/big","queryStringParameters":{"n":"7340032"}}`, nil)
	if fe := res.Err; err != nil || fe == nil || fe.Code != runtime.ErrTooLarge || fe.Message != "Response body size '7340032' larger than max value '6291456'." {
		t.Errorf("7 MiB: %+v, %v", res.Err, err)
	}
}

func TestExitMidInvoke(t *testing.T) {
	need(t, node)
	in := launch(t, httpfn.New(), newFunc(t, nodeApp))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	_, _, err := in.invoke(ctx, `{"httpMethod":"GET","path":"/exit"}`, nil)
	if !errors.Is(err, runtime.ErrBroken) || time.Since(start) > 5*time.Second {
		t.Fatalf("Invoke = %v after %v", err, time.Since(start))
	}
	<-in.Process.Exited()
	if _, _, err := in.invoke(ctx, `{}`, nil); !errors.Is(err, runtime.ErrBroken) {
		t.Errorf("Invoke after the exit = %v", err)
	}
}

func TestTimeoutAndClose(t *testing.T) {
	need(t, node)
	in := launch(t, httpfn.New(), newFunc(t, nodeApp))
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, _, err := in.invoke(ctx, `{"httpMethod":"GET","path":"/sleep"}`, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Invoke = %v", err)
	}
	go func() {
		time.Sleep(100 * time.Millisecond)
		in.Conn.Close()
	}()
	start := time.Now()
	if _, _, err := in.invoke(context.Background(), `{"httpMethod":"GET","path":"/sleep"}`, nil); !errors.Is(err, runtime.ErrBroken) || time.Since(start) > time.Second {
		t.Fatalf("Invoke during Close = %v after %v", err, time.Since(start))
	}
}

func TestStartFailures(t *testing.T) {
	cases := []struct {
		name  string
		files map[string]string
		code  int
	}{
		{"Exits", map[string]string{"bootstrap": "echo no server; exit 3\n"}, runtime.ErrExited},
		{"NeverListens", map[string]string{"bootstrap": "sleep 30\n"}, runtime.ErrInitTime},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			k := httpfn.New()
			k.StartTimeout = time.Second
			_, err := runtimetest.Launch(t, k, newFunc(t, tc.files))
			var fe *runtime.FuncError
			if !errors.As(err, &fe) || fe.Code != tc.code {
				t.Fatalf("Load = %v, want FuncError %d", err, tc.code)
			}
			t.Logf("Load = %v", err)
		})
	}
}

// When the code folder is not visible (a sandbox), a missing bootstrap
// shows as a process that exits at once, saying why.
func TestMissingBootstrapUnchecked(t *testing.T) {
	k := httpfn.New()
	fn := newFunc(t, nil)
	fn.CodeDir = runtime.CodeDir // not a folder of this host
	prog, err := k.Program(fn)
	if err != nil {
		t.Fatal(err)
	}
	prog.Dir = "/"
	in := runtimetest.Attach(t, k, runtimetest.Start(t, prog), fn)
	var fe *runtime.FuncError
	if err := in.Conn.Load(context.Background(), fn); !errors.As(err, &fe) || fe.Code != runtime.ErrExited {
		t.Fatalf("Load = %v", err)
	}
	exit := in.Process.Wait(10 * time.Second)
	if !strings.Contains(in.Process.OutputString(), "runtime bootstrap file is not found") || !strings.Contains(exit.Error(), "exit status 127") {
		t.Errorf("output %q, exit %v", in.Process.OutputString(), exit)
	}
}

// An executable bootstrap with a #! line runs under its interpreter.
func TestShebangBootstrap(t *testing.T) {
	need(t, python)
	fn := newFunc(t, map[string]string{"server.py": pyApp["server.py"]})
	boot := "#!/bin/bash\n[[ -n $RUNTIME_CODE_ROOT ]] && exec " + python + " $RUNTIME_CODE_ROOT/server.py\n"
	if err := os.WriteFile(filepath.Join(fn.CodeDir, "bootstrap"), []byte(boot), 0o755); err != nil {
		t.Fatal(err)
	}
	in := launch(t, httpfn.New(), fn)
	if _, r := in.call(t, `{"httpMethod":"DELETE","path":"/x"}`, nil); echoOf(t, r).Method != "DELETE" {
		t.Errorf("got %s", r.Body)
	}
}

func benchmark(b *testing.B, files map[string]string) {
	in := launch(b, httpfn.New(), newFunc(b, files))
	inv := &runtime.Invocation{RequestID: "7f3ac4e2-1b6d-4c1e-9a51-2d0d5b8e6c11",
		Event: []byte(`{"httpMethod":"GET","path":"/","headers":{"accept":"*/*"}}`), Deadline: time.Now().Add(time.Hour), Log: io.Discard}
	runtimetest.BenchmarkConn(b, in.Conn, inv, 50)
}

func BenchmarkInvokeNode(b *testing.B) {
	need(b, node)
	benchmark(b, nodeApp)
}

func BenchmarkInvokePython(b *testing.B) {
	need(b, python)
	benchmark(b, pyApp)
}

// Close (and the end of the process) leaves no goroutine behind.
func TestNoLeak(t *testing.T) {
	need(t, node)
	k := httpfn.New()
	fn := newFunc(t, nodeApp)
	before := goruntime.NumGoroutine()
	func() {
		in := launch(t, k, fn)
		for i := 0; i < 3; i++ {
			in.call(t, `{}`, nil)
		}
		in.Conn.Close()
		in.Process.Stop()
	}()
	runtimetest.CheckGoroutines(t, before)
}
