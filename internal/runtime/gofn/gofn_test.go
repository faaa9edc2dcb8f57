//go:build linux

package gofn_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openfgs/openfgs/internal/runtime"
	"github.com/openfgs/openfgs/internal/runtime/gofn"
	"github.com/openfgs/openfgs/internal/runtime/runtimetest"
)

var build struct {
	once sync.Once
	dir  string // holds the binary "handler"
	err  error
}

func TestMain(m *testing.M) {
	runtimetest.NetnsStarterMain()
	code := m.Run()
	if build.dir != "" {
		os.RemoveAll(build.dir)
	}
	os.Exit(code)
}

// codeDir builds testdata/fn (once per test run) as a user builds a
// Go1.x function and returns the folder holding the binary "handler".
func codeDir(t testing.TB) string {
	t.Helper()
	build.once.Do(func() {
		goBin, err := exec.LookPath("go")
		if err != nil {
			build.err = err
			return
		}
		dir, err := os.MkdirTemp("", "gofn-test-")
		if err != nil {
			build.err = err
			return
		}
		build.dir = dir
		src, _ := filepath.Abs("testdata/fn")
		cmd := exec.Command(goBin, "build", "-o", filepath.Join(dir, "handler"), ".")
		cmd.Dir = src
		cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod", "CGO_ENABLED=0", "GOOS=linux")
		if out, err := cmd.CombinedOutput(); err != nil {
			build.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if build.err != nil {
		t.Fatal(build.err)
	}
	return build.dir
}

func newFunc(t testing.TB) *runtime.Function {
	return runtimetest.NewFunction("Go1.x", "handler", codeDir(t))
}

// instance is a started instance (in a network namespace of its own),
// attached.
type instance struct{ *runtimetest.Instance }

// launch starts an instance of fn and loads it.
func launch(t testing.TB, k *gofn.Kind, fn *runtime.Function) instance {
	t.Helper()
	return instance{runtimetest.MustLaunch(t, k, fn)}
}

// invoke runs event as an invocation due in 5 s.
func (in instance) invoke(t testing.TB, event string, headers map[string]string) (string, runtime.Result, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := in.InvokeWithin(ctx, event, headers, 5*time.Second)
	return c.RequestID, c.Result, err
}

func (in instance) mustInvoke(t testing.TB, event string) string {
	t.Helper()
	return string(in.MustInvoke(t, event).Result.Body)
}

func TestAvailable(t *testing.T) {
	k := gofn.New()
	if err := k.Available("Go1.x"); err != nil {
		t.Fatal(err)
	}
	for _, rt := range []string{"Go1.8", "Python3.9", "Custom", "http"} {
		if err := k.Available(rt); err == nil {
			t.Errorf("Available(%q) = nil", rt)
		}
	}
}

func TestProgram(t *testing.T) {
	k := gofn.New()
	if _, err := k.Program(nil); err == nil {
		t.Error("Program(nil) = nil error")
	}
	fn := newFunc(t)
	fn.UserData = map[string]string{"GREETING": "hi"}
	fn.EncryptedUserData = map[string]string{"PASSWORD": "s3cret"}
	fn.InitializerHandler = "init"
	fn.InitializerTimeout = 5 * time.Second
	p1, err := k.Program(fn)
	if err != nil {
		t.Fatal(err)
	}
	p2, err := k.Program(fn)
	if err != nil {
		t.Fatal(err)
	}
	// Every instance: the same port, in a network namespace of its own.
	if p1.Port != gofn.Port || p2.Port != gofn.Port || gofn.Port != 8000 {
		t.Errorf("ports %d and %d, want %d", p1.Port, p2.Port, gofn.Port)
	}
	if p1.Path != filepath.Join(fn.CodeDir, "handler") || p1.Dir != fn.CodeDir || p1.Pipes || !p1.OwnNetwork || !p2.OwnNetwork {
		t.Errorf("Program = %+v", p1)
	}
	env := map[string]string{}
	for _, kv := range p1.Env {
		k, v, _ := strings.Cut(kv, "=")
		if _, dup := env[k]; dup {
			t.Errorf("%s set twice", k)
		}
		env[k] = v
	}
	want := map[string]string{
		"GREETING":                    "hi",
		"RUNTIME_PROJECT_ID":          fn.Project,
		"RUNTIME_FUNC_NAME":           "hello",
		"RUNTIME_FUNC_VERSION":        "latest",
		"RUNTIME_PACKAGE":             "default",
		"RUNTIME_HANDLER":             "handler",
		"RUNTIME_TIMEOUT":             "30",
		"RUNTIME_USERDATA":            `{"GREETING":"hi","PASSWORD":"s3cret"}`,
		"RUNTIME_CPU":                 "400",
		"RUNTIME_MEMORY":              "256",
		"RUNTIME_CODE_ROOT":           fn.CodeDir,
		"RUNTIME_INITIALIZER_HANDLER": "init",
		"RUNTIME_INITIALIZER_TIMEOUT": "5",
		"RUNTIME_MAX_RESP_BODY_SIZE":  "6291456",
		"RUNTIME_API_ADDR":            "127.0.0.1:8000",
	}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("env %s = %q, want %q", k, env[k], v)
		}
	}
	if _, ok := env["PASSWORD"]; ok {
		t.Error("encrypted user data exported as a variable")
	}
	for _, h := range []string{"", "/bin/sh", "../x", "a/../../b", "."} {
		fn := newFunc(t)
		fn.Handler = h
		var fe *runtime.FuncError
		if _, err := k.Program(fn); !errors.As(err, &fe) || fe.Code != runtime.ErrEntry {
			t.Errorf("Program(handler %q) = %v, want a FuncError %d", h, err, runtime.ErrEntry)
		}
	}
}

func TestMissingHandler(t *testing.T) {
	k := gofn.New()
	fn := newFunc(t)
	fn.Handler = "nothere"
	var fe *runtime.FuncError
	if _, err := k.Program(fn); !errors.As(err, &fe) || fe.Code != runtime.ErrEntry || !strings.Contains(fe.Message, "nothere") {
		t.Fatalf("Program = %v, want FuncError %d naming nothere", err, runtime.ErrEntry)
	}
	if _, err := k.Attach(context.Background(), nil, fn); !errors.As(err, &fe) || fe.Code != runtime.ErrEntry {
		t.Fatalf("Attach = %v, want FuncError %d", err, runtime.ErrEntry)
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "handler"), []byte("not executable"), 0o644)
	fn.CodeDir, fn.Handler = dir, "handler"
	if _, err := k.Program(fn); !errors.As(err, &fe) || fe.Code != runtime.ErrEntry || !strings.Contains(fe.Message, "not executable") {
		t.Fatalf("Program(not executable) = %v", err)
	}
}

func TestResults(t *testing.T) {
	k := gofn.New()
	in := launch(t, k, newFunc(t))
	if got := in.mustInvoke(t, `{"action":"hello","name":"world"}`); got != `{"hello":"world"}` {
		t.Errorf("hello: %s", got)
	}
	if got := in.mustInvoke(t, `{"action":"string","name":"world"}`); got != "hello, world" {
		t.Errorf("string: %q", got)
	}
	got := in.mustInvoke(t, `{"action":"apig","httpMethod":"POST","path":"/p","body":"aGk=","isBase64Encoded":true}`)
	if got != `{"body":"POST /p hi","headers":{"Content-Type":"text/plain"},"statusCode":200,"isBase64Encoded":false}` {
		t.Errorf("apig: %s", got)
	}
	// Async invocations have no result.
	if _, res, err := in.invoke(t, `{"action":"string","name":"x"}`, map[string]string{"X-CFF-Invoke-Type": "async"}); err != nil || res.Err != nil || len(res.Body) != 0 {
		t.Errorf("async: %q, %v, %v", res.Body, res.Err, err)
	}
}

func TestContext(t *testing.T) {
	k := gofn.New()
	fn := newFunc(t)
	runtimetest.SetUpContext(fn)
	fn.EncryptedUserData = map[string]string{"PASSWORD": "s3cret"}
	in := launch(t, k, fn)
	rid, res, err := in.invoke(t, `{"action":"context"}`, runtimetest.ContextHeaders())
	if err != nil || res.Err != nil {
		t.Fatalf("Invoke = %v, %v", res.Err, err)
	}
	var got map[string]any
	if err := json.Unmarshal(res.Body, &got); err != nil {
		t.Fatalf("Body %s: %v", res.Body, err)
	}
	// The deadline is 5 s after the call started (less than the timeout).
	runtimetest.CheckContext(t, got, rid, fn, map[string]any{
		"password":    "s3cret",
		"envGreeting": "hi",
		"envPassword": "",
	})
	if !runtimetest.WaitFor(2*time.Second, func() bool { return strings.Contains(in.Process.OutputString(), " "+rid+" context of hello\n") }) {
		t.Errorf("no logger line for %s in the output %q", rid, in.Process.OutputString())
	}
}

func TestErrors(t *testing.T) {
	k := gofn.New()
	in := launch(t, k, newFunc(t))
	cases := []struct {
		event, typ, msg string
		stack           bool
	}{
		{`{"action":"error"}`, "FunctionReturnError", "bad input", false},
		{`{"action":"nil"}`, "FunctionReturnError", "response is empty", false},
		{`{"action":"panic","name":"k"}`, "panic", "assignment to entry in nil map", true},
		{`not json`, "FunctionReturnError", "bad event: invalid character 'o' in literal null (expecting 'u')", false},
	}
	for _, tc := range cases {
		_, res, err := in.invoke(t, tc.event, nil)
		if err != nil {
			t.Fatalf("%s: Invoke = %v", tc.event, err)
		}
		fe := res.Err
		if fe == nil || fe.Code != runtime.ErrInvocation || fe.Type != tc.typ || fe.Message != tc.msg {
			t.Errorf("%s: error %+v, want %d %s %q", tc.event, fe, runtime.ErrInvocation, tc.typ, tc.msg)
			continue
		}
		if tc.stack != (len(fe.Stack) > 0) {
			t.Errorf("%s: stack %q", tc.event, fe.Stack)
		}
		if tc.stack && !strings.Contains(strings.Join(fe.Stack, "\n"), "main.go:") {
			t.Errorf("%s: stack %q does not show main.go", tc.event, fe.Stack)
		}
		if string(res.Body) != string(fe.JSON()) {
			t.Errorf("%s: Body %s, want the error's JSON", tc.event, res.Body)
		}
	}
	// Still serving after the panic, in the same process.
	pid := fmt.Sprintf(`{"pid":%d}`, in.Process.Pid())
	if got := in.mustInvoke(t, `{"action":"pid"}`); got != pid {
		t.Errorf("after the panic: %s, want %s", got, pid)
	}
}

func TestTooLarge(t *testing.T) {
	k := gofn.New()
	fn := newFunc(t)
	fn.MaxResponseBytes = 1000
	in := launch(t, k, fn)
	if got := in.mustInvoke(t, `{"action":"big","n":1000}`); len(got) != 1000 {
		t.Fatalf("1000 bytes: got %d", len(got))
	}
	_, res, err := in.invoke(t, `{"action":"big","n":1001}`, nil)
	want := "Response body size '1001' larger than max value '1000'."
	if err != nil || res.Err == nil || res.Err.Code != runtime.ErrTooLarge || res.Err.Message != want {
		t.Fatalf("1001 bytes: %+v, %v", res.Err, err)
	}
}

func TestConcurrent(t *testing.T) {
	k := gofn.New()
	in := launch(t, k, newFunc(t))
	var wg sync.WaitGroup
	start := time.Now()
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rid, res, err := in.invoke(t, `{"action":"sleep"}`, nil)
			if err != nil || res.Err != nil || string(res.Body) != rid {
				t.Errorf("call %d: %q, %v, %v", i, res.Body, res.Err, err)
			}
		}()
	}
	wg.Wait()
	if d := time.Since(start); d > 1200*time.Millisecond {
		t.Errorf("4 concurrent 400 ms invocations took %v", d)
	}
}

func TestExitMidInvoke(t *testing.T) {
	k := gofn.New()
	in := launch(t, k, newFunc(t))
	start := time.Now()
	_, _, err := in.invoke(t, `{"action":"exit"}`, nil)
	if err == nil || !errors.Is(err, runtime.ErrBroken) {
		t.Fatalf("Invoke = %v, want an error wrapping ErrBroken", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v", d)
	}
	if _, _, err := in.invoke(t, `{"action":"noop"}`, nil); !errors.Is(err, runtime.ErrBroken) {
		t.Errorf("second Invoke = %v", err)
	}
	if exit := in.Process.Wait(10 * time.Second); exit == nil || !strings.Contains(exit.Error(), "exit status 3") {
		t.Errorf("exit = %v", exit)
	}
}

func TestTimeout(t *testing.T) {
	k := gofn.New()
	in := launch(t, k, newFunc(t))
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := in.Conn.Invoke(ctx, &runtime.Invocation{RequestID: "r", Event: []byte(`{"action":"sleep"}`), Log: io.Discard})
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > time.Second {
		t.Fatalf("Invoke = %v after %v", err, time.Since(start))
	}
	// The late result is dropped; the instance keeps serving.
	if got := in.mustInvoke(t, `{"action":"string","name":"later"}`); got != "hello, later" {
		t.Errorf("after a timeout: %q", got)
	}
}

func TestCloseDuringInvoke(t *testing.T) {
	k := gofn.New()
	in := launch(t, k, newFunc(t))
	go func() {
		time.Sleep(50 * time.Millisecond)
		in.Conn.Close()
	}()
	start := time.Now()
	_, _, err := in.invoke(t, `{"action":"sleep"}`, nil)
	if !errors.Is(err, runtime.ErrBroken) || time.Since(start) > 300*time.Millisecond {
		t.Fatalf("Invoke = %v after %v", err, time.Since(start))
	}
}

// Two instances of the same function serve on the same port, each in
// its own network namespace, and neither is reachable on the host's
// loopback.
func TestTwoInstances(t *testing.T) {
	k := gofn.New()
	fn := newFunc(t)
	free := runtimetest.HostPortFree(gofn.Port)
	a, b := launch(t, k, fn), launch(t, k, fn)
	for _, in := range []instance{a, b} {
		pid := fmt.Sprintf(`{"pid":%d}`, in.Process.Pid())
		for i := 0; i < 3; i++ {
			if got := in.mustInvoke(t, `{"action":"pid"}`); got != pid {
				t.Errorf("answer %s, want %s (the instance's own process)", got, pid)
			}
		}
	}
	if !runtimetest.CheckHostRefuses(t, gofn.Port, free) {
		return
	}
	// Not through Process.Dial of another process either: only the
	// instance's own namespace has its server.
	runtimetest.CheckNetnsRefuses(t, gofn.Port)
}

// The instance's binary listens even when the port is taken on the host.
func TestHostPortTaken(t *testing.T) {
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(gofn.Port)))
	if err != nil {
		t.Skipf("cannot hold the host's 127.0.0.1:%d: %v", gofn.Port, err)
	}
	defer ln.Close()
	in := launch(t, gofn.New(), newFunc(t))
	if got := in.mustInvoke(t, `{"action":"string","name":"ns"}`); got != "hello, ns" {
		t.Errorf("got %q", got)
	}
}

// The end of the process fails a pending Load promptly with ErrExited,
// even while the Conn is still dialing.
func TestExitDuringLoad(t *testing.T) {
	k := gofn.New()
	fn := script(t, "sleep 0.3; exit 2")
	start := time.Now()
	_, err := runtimetest.Launch(t, k, fn)
	var fe *runtime.FuncError
	if !errors.As(err, &fe) || fe.Code != runtime.ErrExited || time.Since(start) > 3*time.Second {
		t.Fatalf("Load = %v after %v, want FuncError %d at once", err, time.Since(start), runtime.ErrExited)
	}
}

// script writes an executable shell script as the handler binary.
func script(t *testing.T, body string) *runtime.Function {
	fn := newFunc(t)
	fn.CodeDir = t.TempDir()
	if err := os.WriteFile(filepath.Join(fn.CodeDir, "handler"), []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return fn
}

func TestStartFailures(t *testing.T) {
	python := "/usr/bin/python3"
	cases := []struct {
		name, body string
		code       int
		mention    string
	}{
		{"ExitsAtOnce", "echo starting; exit 3", runtime.ErrExited, "ended before it listened"},
		{"NeverListens", "sleep 60", runtime.ErrInitTime, "timed out after 1s"},
		{"NotRPC", `exec ` + python + ` -c 'import http.server, os
h, p = os.environ["RUNTIME_API_ADDR"].split(":")
http.server.HTTPServer((h, int(p)), http.server.BaseHTTPRequestHandler).serve_forever()'`, runtime.ErrEntry, "runtime.Register"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "NotRPC" {
				if _, err := os.Stat(python); err != nil {
					t.Skip("no python3")
				}
			}
			k := gofn.New()
			k.StartTimeout = time.Second
			if tc.name == "NotRPC" {
				// A Python start can take over a second on a loaded
				// machine; this case is about what it answers.
				k.StartTimeout = 15 * time.Second
			}
			start := time.Now()
			_, err := runtimetest.Launch(t, k, script(t, tc.body))
			var fe *runtime.FuncError
			if !errors.As(err, &fe) || fe.Code != tc.code || !strings.Contains(fe.Message, tc.mention) {
				t.Fatalf("Load = %v, want FuncError %d mentioning %q", err, tc.code, tc.mention)
			}
			t.Logf("Load after %v: %v", time.Since(start), err)
		})
	}
}

// Load gives up when its ctx ends or the Conn is closed, and can be
// retried after a ctx ended.
func TestLoadCancel(t *testing.T) {
	k := gofn.New()
	fn := script(t, "sleep 60")
	prog, err := k.Program(fn)
	if err != nil {
		t.Fatal(err)
	}
	conn := runtimetest.Attach(t, k, runtimetest.Start(t, prog), fn).Conn
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := conn.Load(ctx, fn); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Load = %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- conn.Load(context.Background(), fn) }()
	time.Sleep(50 * time.Millisecond)
	conn.Close()
	select {
	case err := <-done:
		if !errors.Is(err, runtime.ErrBroken) {
			t.Errorf("Load after Close = %v", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Load did not return after Close")
	}
}

func BenchmarkInvoke(b *testing.B) {
	k := gofn.New()
	in := launch(b, k, newFunc(b))
	inv := &runtime.Invocation{RequestID: "7f3ac4e2-1b6d-4c1e-9a51-2d0d5b8e6c11", Event: []byte(`{"action":"noop"}`),
		Deadline: time.Now().Add(time.Hour), Log: io.Discard}
	runtimetest.BenchmarkConn(b, in.Conn, inv, 100)
}

// Close (and the end of the process) leaves no goroutine behind.
func TestNoLeak(t *testing.T) {
	k := gofn.New()
	fn := newFunc(t)
	before := goruntime.NumGoroutine()
	func() {
		prog, err := k.Program(fn)
		if err != nil {
			t.Fatal(err)
		}
		in := instance{runtimetest.Attach(t, k, runtimetest.Start(t, prog), fn)}
		in.mustInvoke(t, `{"action":"noop"}`)
		in.Conn.Close()
		in.Process.Stop()
	}()
	runtimetest.CheckGoroutines(t, before)
}
