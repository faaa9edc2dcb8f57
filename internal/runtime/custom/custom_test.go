//go:build linux

package custom_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openfgs/openfgs/internal/runtime"
	"github.com/openfgs/openfgs/internal/runtime/custom"
	"github.com/openfgs/openfgs/internal/runtime/runtimetest"
)

// hwcr is the minimal bootstrap of FunctionGraph's custom runtime guide,
// as is.
const hwcr = `#!/bin/sh
# HW-CR minimal bootstrap
while true; do H="$(mktemp)"
  EVENT=$(curl -sS -LD "$H" -X GET "http://$RUNTIME_API_ADDR/v1/runtime/invocation/request")
  RID=$(grep -Fi x-cff-request-id "$H" | tr -d '[:space:]' | cut -d: -f2); [ -z "$RID" ] && continue
  curl -X POST "http://$RUNTIME_API_ADDR/v1/runtime/invocation/response/$RID" -d "Echo: $EVENT"; done
`

// errorBoot reports every invocation as failed.
const errorBoot = `#!/bin/bash
set -u
API="http://$RUNTIME_API_ADDR/v1/runtime"
while true; do
  HEADERS="$(mktemp)"
  EVENT=$(curl -sS -D "$HEADERS" "$API/invocation/request")
  REQUEST_ID=$(grep -Fi x-cff-request-id "$HEADERS" | tr -d '[:space:]' | cut -d: -f2)
  rm -f "$HEADERS"
  [ -z "$REQUEST_ID" ] && { sleep 0.05; continue; }
  curl -sS -X POST "$API/invocation/error/$REQUEST_ID" \
    -d '{"errorType":"InvalidEvent","errorMessage":"cannot handle an event of '"${#EVENT}"' bytes"}'
done
`

// exitBoot takes one invocation and exits with status 3.
const exitBoot = `#!/bin/sh
curl -sS "http://$RUNTIME_API_ADDR/v1/runtime/invocation/request" > /dev/null
echo bye
exit 3
`

// initErrorBoot cannot start: it says so and exits.
const initErrorBoot = `#!/bin/sh
curl -sS -X POST "http://$RUNTIME_API_ADDR/v1/runtime/init/error" \
  -d '{"errorType":"ConfigError","errorMessage":"missing DB_URL"}'
sleep 5
`

// pyBoot is a bootstrap in Python keeping one connection to the runtime
// API; the event's "action" picks what it does.
const pyBoot = `#!/usr/bin/python3
import http.client, json, os, time

host, port = os.environ["RUNTIME_API_ADDR"].split(":")
api = http.client.HTTPConnection(host, int(port))

def call(method, path, body=None):
    api.request(method, path, body=body)
    r = api.getresponse()
    return r, r.read()

while True:
    r, event = call("GET", "/v1/runtime/invocation/request")
    rid = r.getheader("X-Cff-Request-Id")
    if r.status != 200 or not rid:
        time.sleep(0.05)
        continue
    ev = json.loads(event)
    action = ev.get("action")
    if action == "error":
        call("POST", "/v1/runtime/invocation/error/" + rid,
             json.dumps({"errorType": "ValueError", "errorMessage": "bad input", "stackTrace": ["index.py:1"]}))
        continue
    if action == "big":
        out = "x" * ev["n"]
    elif action == "sleep":
        time.sleep(ev.get("s", 0.4))
        out = rid
    elif action == "context":
        out = json.dumps({"headers": {k.lower(): v for k, v in r.getheaders()}, "env": {k: v for k, v in os.environ.items() if k in ("GREETING", "PASSWORD", "RUNTIME_USERDATA")}})
    else:
        out = json.dumps({"hello": ev.get("name")})
    r2, _ = call("POST", "/v1/runtime/invocation/response/" + rid, out.encode())
    if r2.status != 200:
        print("response for", rid, "got", r2.status, flush=True)
`

// newFunc writes bootstrap (unless empty) into a new code folder.
func newFunc(t testing.TB, bootstrap string) *runtime.Function {
	dir := t.TempDir()
	if bootstrap != "" {
		if err := os.WriteFile(filepath.Join(dir, "bootstrap"), []byte(bootstrap), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return runtimetest.NewFunction("Custom", "bootstrap", dir)
}

// instance is a started instance (in a network namespace of its own),
// attached.
type instance struct{ *runtimetest.Instance }

func TestMain(m *testing.M) {
	runtimetest.NetnsStarterMain()
	os.Exit(m.Run())
}

func tryLaunch(t testing.TB, k *custom.Kind, fn *runtime.Function) (instance, error) {
	t.Helper()
	prog, err := k.Program(fn)
	if err != nil {
		t.Fatalf("Program = %v", err)
	}
	return tryStart(t, k, fn, prog, 0)
}

// tryStart starts prog, waits delay (a slow executor), attaches and loads.
func tryStart(t testing.TB, k *custom.Kind, fn *runtime.Function, prog runtime.Program, delay time.Duration) (instance, error) {
	t.Helper()
	// mktemp in the bootstraps: keep its files in the test's folder.
	started := prog
	started.Env = append(append([]string{}, prog.Env...), "TMPDIR="+t.TempDir())
	p := runtimetest.Start(t, started)
	time.Sleep(delay)
	// A bootstrap that dies at once may be gone before Attach listens:
	// then Attach reports it, as Load would have a moment later.
	conn, err := k.Attach(context.Background(), p, fn)
	if err != nil {
		return instance{&runtimetest.Instance{Process: p}}, err
	}
	t.Cleanup(func() { conn.Close() })
	in := instance{&runtimetest.Instance{Conn: conn, Process: p}}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return in, in.Conn.Load(ctx, fn)
}

func launch(t testing.TB, k *custom.Kind, fn *runtime.Function) instance {
	t.Helper()
	in, err := tryLaunch(t, k, fn)
	if err != nil {
		t.Fatalf("Load = %v", err)
	}
	return in
}

// invoke runs event as an invocation due in 5 s.
func (in instance) invoke(ctx context.Context, event string, headers map[string]string) (string, runtime.Result, error) {
	c, err := in.InvokeWithin(ctx, event, headers, 5*time.Second)
	return c.RequestID, c.Result, err
}

func (in instance) mustInvoke(t testing.TB, event string) string {
	t.Helper()
	return string(in.MustInvoke(t, event).Result.Body)
}

func TestAvailable(t *testing.T) {
	k := custom.New()
	if err := k.Available("Custom"); err != nil {
		t.Fatal(err)
	}
	for _, rt := range []string{"http", "Go1.x", "Custom Image"} {
		if err := k.Available(rt); err == nil {
			t.Errorf("Available(%q) = nil", rt)
		}
	}
	if _, err := k.Program(nil); err == nil {
		t.Error("Program(nil) = nil error")
	}
}

func TestProgram(t *testing.T) {
	k := custom.New()
	fn := newFunc(t, hwcr)
	fn.UserData = map[string]string{"GREETING": "hi"}
	fn.EncryptedUserData = map[string]string{"PASSWORD": "s3cret"}
	prog, err := k.Program(fn)
	if err != nil {
		t.Fatal(err)
	}
	if prog.Path != "/bin/sh" || len(prog.Args) != 3 || prog.Args[0] != "-c" || prog.Args[2] != filepath.Join(fn.CodeDir, "bootstrap") ||
		prog.Dir != fn.CodeDir || prog.Port != custom.Port || custom.Port != 31000 || prog.Pipes || !prog.OwnNetwork {
		t.Errorf("Program = %+v", prog)
	}
	env := map[string]string{}
	for _, kv := range prog.Env {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	for k, v := range map[string]string{
		"GREETING":          "hi",
		"RUNTIME_FUNC_NAME": "hello",
		"RUNTIME_HANDLER":   "bootstrap",
		"RUNTIME_CODE_ROOT": fn.CodeDir,
		"RUNTIME_MEMORY":    "256",
		"RUNTIME_TIMEOUT":   "30",
		"RUNTIME_USERDATA":  `{"GREETING":"hi","PASSWORD":"s3cret"}`,
		"RUNTIME_API_ADDR":  "127.0.0.1:31000",
	} {
		if env[k] != v {
			t.Errorf("env %s = %q, want %q", k, env[k], v)
		}
	}
	if _, ok := env["PASSWORD"]; ok {
		t.Error("encrypted user data exported")
	}
}

func TestMissingBootstrap(t *testing.T) {
	k := custom.New()
	fn := newFunc(t, "")
	var fe *runtime.FuncError
	if _, err := k.Program(fn); !errors.As(err, &fe) || fe.Code != runtime.ErrBootstrap || fe.Message != "runtime bootstrap file is not found" {
		t.Fatalf("Program = %v", err)
	}
	if _, err := k.Attach(context.Background(), nil, fn); !errors.As(err, &fe) || fe.Code != runtime.ErrBootstrap || fe.Message != "runtime bootstrap file is not found" {
		t.Fatalf("Attach = %v", err)
	}
	os.WriteFile(filepath.Join(fn.CodeDir, "bootstrap"), []byte(hwcr), 0o644)
	if _, err := k.Program(fn); !errors.As(err, &fe) || fe.Code != runtime.ErrBootstrap || !strings.Contains(fe.Message, "not executable") {
		t.Fatalf("Program(not executable) = %v", err)
	}
}

func TestHWCRBootstrap(t *testing.T) {
	k := custom.New()
	in := launch(t, k, newFunc(t, hwcr))
	for i := 0; i < 3; i++ {
		event := fmt.Sprintf(`{"n":%d}`, i)
		if got := in.mustInvoke(t, event); got != "Echo: "+event {
			t.Fatalf("Body = %q, want %q", got, "Echo: "+event)
		}
	}
}

func TestPythonBootstrap(t *testing.T) {
	if _, err := os.Stat("/usr/bin/python3"); err != nil {
		t.Skip("no /usr/bin/python3")
	}
	k := custom.New()
	fn := newFunc(t, pyBoot)
	fn.UserData = map[string]string{"GREETING": "hi"}
	fn.EncryptedUserData = map[string]string{"PASSWORD": "s3cret"}
	fn.MaxResponseBytes = 1000
	in := launch(t, k, fn)
	bg := context.Background()

	if got := in.mustInvoke(t, `{"name":"world"}`); got != `{"hello": "world"}` {
		t.Errorf("hello: %s", got)
	}

	rid, res, err := in.invoke(bg, `{"action":"context"}`, map[string]string{
		"X-CFF-Access-Key": "ak", "X-CFF-Security-Token": "stoken", "X-CFF-Auth-Token": "token",
	})
	if err != nil || res.Err != nil {
		t.Fatalf("context: %v, %v", res.Err, err)
	}
	var got struct {
		Headers map[string]string `json:"headers"`
		Env     map[string]string `json:"env"`
	}
	if err := json.Unmarshal(res.Body, &got); err != nil {
		t.Fatalf("%s: %v", res.Body, err)
	}
	for k, v := range map[string]string{
		"x-cff-request-id": rid, "x-cff-invoke-type": "sync", "x-cff-access-key": "ak",
		"x-cff-security-token": "stoken", "x-cff-auth-token": "token", "content-type": "application/json",
	} {
		if got.Headers[k] != v {
			t.Errorf("header %s = %q, want %q", k, got.Headers[k], v)
		}
	}
	if d, err := strconv.ParseInt(got.Headers["x-openfgs-deadline"], 10, 64); err != nil || time.Until(time.UnixMilli(d)) < 3*time.Second {
		t.Errorf("deadline header %q", got.Headers["x-openfgs-deadline"])
	}
	if got.Env["GREETING"] != "hi" || got.Env["RUNTIME_USERDATA"] != `{"GREETING":"hi","PASSWORD":"s3cret"}` || got.Env["PASSWORD"] != "" {
		t.Errorf("env: GREETING=%q RUNTIME_USERDATA=%q PASSWORD=%q", got.Env["GREETING"], got.Env["RUNTIME_USERDATA"], got.Env["PASSWORD"])
	}

	_, res, err = in.invoke(bg, `{"action":"error"}`, nil)
	if fe := res.Err; err != nil || fe == nil || fe.Code != runtime.ErrInvocation || fe.Type != "ValueError" || fe.Message != "bad input" || len(fe.Stack) != 1 {
		t.Errorf("error: %+v, %v", res.Err, err)
	} else if string(res.Body) != string(fe.JSON()) {
		t.Errorf("error body %s", res.Body)
	}

	if got := in.mustInvoke(t, `{"action":"big","n":1000}`); len(got) != 1000 {
		t.Errorf("1000 bytes: got %d", len(got))
	}
	_, res, err = in.invoke(bg, `{"action":"big","n":1001}`, nil)
	if fe := res.Err; err != nil || fe == nil || fe.Code != runtime.ErrTooLarge || fe.Message != "Response body size '1001' larger than max value '1000'." {
		t.Errorf("1001 bytes: %+v, %v", res.Err, err)
	}
	// Still serving.
	if got := in.mustInvoke(t, `{"name":"again"}`); got != `{"hello": "again"}` {
		t.Errorf("after errors: %s", got)
	}
}

func TestTooLargeDefault(t *testing.T) {
	if _, err := os.Stat("/usr/bin/python3"); err != nil {
		t.Skip("no /usr/bin/python3")
	}
	in := launch(t, custom.New(), newFunc(t, pyBoot))
	_, res, err := in.invoke(context.Background(), `{"action":"big","n":7340032}`, nil)
	if fe := res.Err; err != nil || fe == nil || fe.Code != runtime.ErrTooLarge || fe.Message != "Response body size '7340032' larger than max value '6291456'." {
		t.Errorf("7 MiB: %+v, %v", res.Err, err)
	}
	if got := in.mustInvoke(t, `{"action":"big","n":6291456}`); len(got) != 6291456 {
		t.Errorf("6 MiB: got %d bytes", len(got))
	}
}

func TestErrorBootstrap(t *testing.T) {
	in := launch(t, custom.New(), newFunc(t, errorBoot))
	_, res, err := in.invoke(context.Background(), `{"k":1}`, nil)
	want := `cannot handle an event of 7 bytes`
	if fe := res.Err; err != nil || fe == nil || fe.Code != runtime.ErrInvocation || fe.Type != "InvalidEvent" || fe.Message != want {
		t.Fatalf("Invoke = %+v, %v", res.Err, err)
	}
}

func TestOneAtATime(t *testing.T) {
	if _, err := os.Stat("/usr/bin/python3"); err != nil {
		t.Skip("no /usr/bin/python3")
	}
	in := launch(t, custom.New(), newFunc(t, pyBoot))
	var wg sync.WaitGroup
	start := time.Now()
	for i := 0; i < 3; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rid, res, err := in.invoke(context.Background(), `{"action":"sleep","s":0.2}`, nil)
			if err != nil || res.Err != nil || string(res.Body) != rid {
				t.Errorf("call %d: %q, %v, %v", i, res.Body, res.Err, err)
			}
		}()
	}
	wg.Wait()
	if d := time.Since(start); d < 600*time.Millisecond || d > 3*time.Second {
		t.Errorf("3 invocations of 200 ms took %v, want them one after another", d)
	}
}

func TestTimeoutThenLateResponse(t *testing.T) {
	if _, err := os.Stat("/usr/bin/python3"); err != nil {
		t.Skip("no /usr/bin/python3")
	}
	in := launch(t, custom.New(), newFunc(t, pyBoot))
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	rid, _, err := in.invoke(ctx, `{"action":"sleep","s":0.3}`, nil)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Invoke = %v", err)
	}
	// The next invocation waits for the bootstrap to finish the late one
	// (whose response gets 404) and poll again.
	if got := in.mustInvoke(t, `{"name":"next"}`); got != `{"hello": "next"}` {
		t.Errorf("next: %s", got)
	}
	if !runtimetest.WaitFor(2*time.Second, func() bool { return strings.Contains(in.Process.OutputString(), "response for "+rid+" got 404") }) {
		t.Errorf("late response not refused; output %q", in.Process.OutputString())
	}
}

func TestAPIErrors(t *testing.T) {
	in := launch(t, custom.New(), newFunc(t, hwcr))
	// The runtime API is only reachable inside the instance's namespace.
	client := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			c, err := in.Process.Dial(ctx, custom.Port)
			if err != nil {
				return nil, err
			}
			return c.(net.Conn), nil
		},
	}}
	defer client.CloseIdleConnections()
	base := "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(custom.Port))
	for _, tc := range []struct {
		method, path string
		status       int
	}{
		{"POST", "/v1/runtime/invocation/response/nope", 404},
		{"POST", "/v1/runtime/invocation/error/nope", 404},
		{"POST", "/v1/runtime/invocation/request", 405},
		{"GET", "/v1/runtime/invocation/response/x", 405},
		{"GET", "/v2/other", 404},
	} {
		req, _ := http.NewRequest(tc.method, base+tc.path, strings.NewReader("x"))
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("%s %s = %d %s, want %d", tc.method, tc.path, resp.StatusCode, body, tc.status)
		}
	}
	// Still works.
	if got := in.mustInvoke(t, `1`); got != "Echo: 1" {
		t.Errorf("got %q", got)
	}
}

func TestExitMidInvoke(t *testing.T) {
	in := launch(t, custom.New(), newFunc(t, exitBoot))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	_, _, err := in.invoke(ctx, `{}`, nil)
	if !errors.Is(err, runtime.ErrBroken) || time.Since(start) > 5*time.Second {
		t.Fatalf("Invoke = %v after %v", err, time.Since(start))
	}
	if _, _, err := in.invoke(ctx, `{}`, nil); !errors.Is(err, runtime.ErrBroken) {
		t.Errorf("second Invoke = %v", err)
	}
}

func TestCloseDuringInvoke(t *testing.T) {
	in := launch(t, custom.New(), newFunc(t, `#!/bin/sh
curl -sS "http://$RUNTIME_API_ADDR/v1/runtime/invocation/request" > /dev/null
sleep 30
`))
	go func() {
		time.Sleep(100 * time.Millisecond)
		in.Conn.Close()
	}()
	start := time.Now()
	_, _, err := in.invoke(context.Background(), `{}`, nil)
	if !errors.Is(err, runtime.ErrBroken) || time.Since(start) > 2*time.Second {
		t.Fatalf("Invoke = %v after %v", err, time.Since(start))
	}
}

func TestStartFailures(t *testing.T) {
	cases := []struct {
		name, boot string
		code       int
		typ, msg   string
	}{
		{"InitError", initErrorBoot, runtime.ErrInit, "ConfigError", "missing DB_URL"},
		{"ExitsAtOnce", "#!/bin/sh\necho cannot start\nexit 1\n", runtime.ErrExited, "RuntimeExited", ""},
		{"NeverPolls", "#!/bin/sh\nsleep 30\n", runtime.ErrInitTime, "RuntimeInitTimeout", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			k := custom.New()
			k.StartTimeout = time.Second
			start := time.Now()
			_, err := tryLaunch(t, k, newFunc(t, tc.boot))
			var fe *runtime.FuncError
			if !errors.As(err, &fe) || fe.Code != tc.code || fe.Type != tc.typ || (tc.msg != "" && fe.Message != tc.msg) {
				t.Fatalf("Load = %v, want %d %s %q", err, tc.code, tc.typ, tc.msg)
			}
			t.Logf("Load after %v: %v", time.Since(start), err)
		})
	}
}

// pidBoot is the guide's loop answering with its pid and the event.
const pidBoot = `#!/bin/sh
while true; do H="$(mktemp)"
  EVENT=$(curl -sS -D "$H" "http://$RUNTIME_API_ADDR/v1/runtime/invocation/request")
  RID=$(grep -Fi x-cff-request-id "$H" | tr -d '[:space:]' | cut -d: -f2); rm -f "$H"; [ -z "$RID" ] && continue
  curl -sS -X POST "http://$RUNTIME_API_ADDR/v1/runtime/invocation/response/$RID" -d "$$ $EVENT"; done
`

// Two instances of the same function have their runtime APIs on the
// same port, side by side, each in its own network namespace; neither
// is reachable on the host's loopback or from another namespace.
func TestTwoInstances(t *testing.T) {
	k := custom.New()
	fn := newFunc(t, pidBoot)
	free := runtimetest.HostPortFree(custom.Port)
	a, b := launch(t, k, fn), launch(t, k, fn)
	for i := 0; i < 3; i++ {
		for _, in := range []instance{a, b} {
			event := fmt.Sprintf(`{"n":%d}`, i)
			want := fmt.Sprintf("%d %s", in.Process.Pid(), event)
			if got := in.mustInvoke(t, event); got != want {
				t.Errorf("got %q, want %q (from the instance's own bootstrap)", got, want)
			}
		}
	}
	runtimetest.CheckHostRefuses(t, custom.Port, free)
	runtimetest.CheckNetnsRefuses(t, custom.Port)
}

// The runtime API listens in the instance even when the port is taken on
// the host.
func TestHostPortTaken(t *testing.T) {
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(custom.Port)))
	if err != nil {
		t.Skipf("cannot hold the host's 127.0.0.1:%d: %v", custom.Port, err)
	}
	defer ln.Close()
	in := launch(t, custom.New(), newFunc(t, hwcr))
	if got := in.mustInvoke(t, `"ns"`); got != `Echo: "ns"` {
		t.Errorf("got %q", got)
	}
}

// oneShotBoot makes its first request without retrying: it works only
// when the runtime API is up before the bootstrap starts.
const oneShotBoot = `#!/bin/sh
H="$(mktemp)"
EVENT=$(curl -sS --fail -D "$H" "http://$RUNTIME_API_ADDR/v1/runtime/invocation/request") || { echo "first request failed"; exit 4; }
RID=$(grep -Fi x-cff-request-id "$H" | tr -d '[:space:]' | cut -d: -f2)
curl -sS -X POST "http://$RUNTIME_API_ADDR/v1/runtime/invocation/response/$RID" -d "once: $EVENT"
sleep 30
`

// The launcher holds the bootstrap back until Attach has made the
// listener, however late that is.
func TestLateAttach(t *testing.T) {
	k := custom.New()
	fn := newFunc(t, oneShotBoot)
	prog, err := k.Program(fn)
	if err != nil {
		t.Fatal(err)
	}
	in, err := tryStart(t, k, fn, prog, 300*time.Millisecond)
	if err != nil {
		t.Fatalf("Load = %v", err)
	}
	if got := in.mustInvoke(t, `1`); got != "once: 1" {
		t.Errorf("got %q", got)
	}
}

// The guide's bootstrap, as is, copes with a runtime API that comes up
// after it starts (here without the launcher, the bootstrap started
// directly): curl's refused connections only make it loop.
func TestHWCRBeforeListener(t *testing.T) {
	k := custom.New()
	fn := newFunc(t, hwcr)
	prog, err := k.Program(fn)
	if err != nil {
		t.Fatal(err)
	}
	prog.Path, prog.Args = filepath.Join(fn.CodeDir, "bootstrap"), nil
	in, err := tryStart(t, k, fn, prog, 300*time.Millisecond)
	if err != nil {
		t.Fatalf("Load = %v", err)
	}
	if !strings.Contains(in.Process.OutputString(), "curl: (7)") {
		t.Logf("the bootstrap did not poll before the listener was up; output %q", in.Process.OutputString())
	}
	for i := 0; i < 2; i++ {
		if got := in.mustInvoke(t, `"late"`); got != `Echo: "late"` {
			t.Errorf("got %q", got)
		}
	}
}

// When the code folder is not visible (a sandbox), a missing bootstrap
// shows as a process that exits at once, saying why.
func TestMissingBootstrapUnchecked(t *testing.T) {
	k := custom.New()
	for _, tc := range []struct {
		name, mode string
		status     string
		say        string
	}{
		{"Missing", "", "exit status 127", "runtime bootstrap file is not found"},
		{"NotExecutable", "0644", "exit status 126", "runtime bootstrap file is not executable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fn := newFunc(t, "")
			fn.CodeDir = runtime.CodeDir // not a folder of this host
			prog, err := k.Program(fn)
			if err != nil {
				t.Fatal(err)
			}
			dir := newFunc(t, "").CodeDir
			if tc.mode != "" {
				os.WriteFile(filepath.Join(dir, "bootstrap"), []byte(hwcr), 0o644)
			}
			prog.Args[2] = filepath.Join(dir, "bootstrap")
			prog.Dir = "/"
			start := time.Now()
			in, err := tryStart(t, k, fn, prog, 0)
			var fe *runtime.FuncError
			if !errors.As(err, &fe) || fe.Code != runtime.ErrExited || time.Since(start) > 3*time.Second {
				t.Fatalf("Load = %v after %v", err, time.Since(start))
			}
			exit := in.Process.Wait(10 * time.Second)
			if !strings.Contains(in.Process.OutputString(), tc.say) || exit == nil || exit.Error() != tc.status {
				t.Errorf("output %q, exit %v; want %q, %s", in.Process.OutputString(), exit, tc.say, tc.status)
			}
		})
	}
}

func benchmark(b *testing.B, boot string) {
	in := launch(b, custom.New(), newFunc(b, boot))
	inv := &runtime.Invocation{RequestID: "7f3ac4e2-1b6d-4c1e-9a51-2d0d5b8e6c11", Event: []byte(`{"name":"bench"}`),
		Deadline: time.Now().Add(time.Hour), Log: io.Discard}
	runtimetest.BenchmarkConn(b, in.Conn, inv, 20)
}

// BenchmarkInvokePython: a bootstrap keeping its connection (the runtime
// API's own cost).
func BenchmarkInvokePython(b *testing.B) { benchmark(b, pyBoot) }

// BenchmarkInvokeCurl: the guide's bootstrap, two curl processes per
// invocation.
func BenchmarkInvokeCurl(b *testing.B) { benchmark(b, hwcr) }

// Close (and the end of the process) leaves no goroutine behind.
func TestNoLeak(t *testing.T) {
	k := custom.New()
	for _, boot := range []string{hwcr, pyBoot} {
		fn := newFunc(t, boot)
		before := goruntime.NumGoroutine()
		func() {
			in := launch(t, k, fn)
			in.mustInvoke(t, `{"name":"x"}`)
			in.Conn.Close()
			in.Process.Stop()
		}()
		runtimetest.CheckGoroutines(t, before)
	}
}
