package python_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/openfgs/openfgs/internal/runtime"
	"github.com/openfgs/openfgs/internal/runtime/python"
	"github.com/openfgs/openfgs/internal/runtime/runtimetest"
)

var code = runtimetest.Code{
	Runtime:   "Python3.9",
	Ext:       ".py",
	ErrorType: "ValueError",

	Hello: `
def handler(event, context):
    return {"hello": event["name"]}
`,
	String: `
def handler(event, context):
    return "hello, " + event["name"]
`,
	Context: `
def handler(event, context):
    logger = context.getLogger()
    logger.info("info line")
    logger.warn("warn line")
    logger.error("error line")
    logger.debug("debug line")
    return {
        "getRequestID": context.getRequestID(),
        "getRemainingTimeInMilliSeconds": context.getRemainingTimeInMilliSeconds(),
        "getAccessKey": context.getAccessKey(),
        "getSecretKey": context.getSecretKey(),
        "getSecurityAccessKey": context.getSecurityAccessKey(),
        "getSecuritySecretKey": context.getSecuritySecretKey(),
        "getSecurityToken": context.getSecurityToken(),
        "getToken": context.getToken(),
        "getFunctionName": context.getFunctionName(),
        "getRunningTimeInSeconds": context.getRunningTimeInSeconds(),
        "getVersion": context.getVersion(),
        "getMemorySize": context.getMemorySize(),
        "getCPUNumber": context.getCPUNumber(),
        "getPackage": context.getPackage(),
        "getProjectID": context.getProjectID(),
        "getAlias": context.getAlias(),
        "userData": context.getUserData("GREETING"),
        "userDataDefault": context.getUserData("NOPE", "fallback"),
    }
`,
	UserData: `
import os

GREETING = os.environ.get("GREETING")

def handler(event, context):
    return {
        "atImport": GREETING,
        "env": dict(os.environ),
        "greeting": context.getUserData("GREETING"),
        "password": context.getUserData("PASSWORD"),
    }
`,
	Init: `
count = 0

def initializer(context):
    global count
    count += 1
    context.getLogger().info("initialized")

def handler(event, context):
    return {"count": count}
`,
	InitFails: `
def initializer(context):
    raise ValueError("boom")

def handler(event, context):
    return "never"
`,
	Raise: `
def check(event):
    if "name" not in event:
        raise ValueError("bad input")

def handler(event, context):
    check(event)
    return "ok"
`,
	Syntax: `
def handler(event, context)
    return "no colon"
`,
	ImportFails: `
import os

if not os.environ.get("CONFIG"):
    raise ValueError("no config")

def handler(event, context):
    return "ok"
`,
	Logs: `
import sys

def handler(event, context):
    print("one")
    context.getLogger().info("two")
    sys.stderr.write("three\n")
    print("four")
    return "ok"
`,
	PID: `
import os

def handler(event, context):
    return {"pid": os.getpid()}
`,
	Sleep: `
import time

def handler(event, context):
    print("start", context.getRequestID())
    time.sleep(0.4)
    print("end", context.getRequestID())
    return context.getRequestID()
`,
	Exit: `
import os

def handler(event, context):
    print("bye")
    os._exit(3)
`,
	Big: `
def handler(event, context):
    return "x" * event["n"]
`,
}

func newKind(t testing.TB) *python.Kind {
	t.Helper()
	k, err := python.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if k.Interpreter() == "" {
		t.Skipf("no Python 3 interpreter: %v", k.Available("Python3.9"))
	}
	return k
}

func TestConformance(t *testing.T) {
	runtimetest.Run(t, newKind(t), code)
}

func TestKind_Available(t *testing.T) {
	k := newKind(t)
	for _, rt := range []string{"Python3.6", "Python3.9", "Python3.10"} {
		if err := k.Available(rt); err != nil {
			t.Errorf("Available(%q) = %v", rt, err)
		}
	}
	for _, rt := range []string{"Python2.7", "Python3.99", "Node.js20.15", "Python"} {
		if err := k.Available(rt); err == nil {
			t.Errorf("Available(%q) = nil, want an error", rt)
		}
	}
	if err := k.Available("Python2.7"); !strings.Contains(err.Error(), "2.7") {
		t.Errorf("Available(Python2.7) = %v, want it to name Python 2.7", err)
	}
	if p := k.Interpreter(); strings.Contains(p, "pyenv") || strings.Contains(p, "shims") {
		t.Errorf("Interpreter() = %s, a shim", p)
	}
}

func TestKind_Program(t *testing.T) {
	k := newKind(t)
	generic, err := k.Program(nil)
	if err != nil {
		t.Fatal(err)
	}
	if !generic.Pipes || generic.Path != k.Interpreter() || generic.Args[len(generic.Args)-1] != k.Bootstrap() {
		t.Errorf("Program(nil) = %+v", generic)
	}
	for _, kv := range generic.Env {
		if strings.HasPrefix(kv, "RUNTIME_") {
			t.Errorf("generic program has %s", kv)
		}
	}
	fn := &runtime.Function{Runtime: "Python3.10", Handler: "index.handler", UserData: map[string]string{"A": "1"}}
	p, err := k.Program(fn)
	if err != nil {
		t.Fatal(err)
	}
	if p.Dir != runtime.CodeDir {
		t.Errorf("Program(fn).Dir = %q, want %q", p.Dir, runtime.CodeDir)
	}
	env := strings.Join(p.Env, "\n")
	for _, want := range []string{"A=1", "RUNTIME_HANDLER=index.handler", "RUNTIME_CODE_ROOT=/opt/function/code"} {
		if !strings.Contains(env, want) {
			t.Errorf("Program(fn).Env lacks %s", want)
		}
	}
	if _, err := k.Program(&runtime.Function{Runtime: "Python2.7"}); err == nil {
		t.Error("Program(Python2.7) = nil error")
	}
}

// Python's own ways: dotted package paths, async handlers, bytes results,
// None, a non-JSON event, output of threads the handler starts.
func TestPythonSpecifics(t *testing.T) {
	k := newKind(t)
	cases := []struct {
		name    string
		files   map[string]string
		handler string
		event   string
		body    string
		log     string
	}{
		{"DottedPackage", map[string]string{
			"pkg/__init__.py":     "",
			"pkg/api/__init__.py": "",
			"pkg/api/main.py":     "from . import helper\n\ndef handler(event, context):\n    return helper.greet()\n",
			"pkg/api/helper.py":   "def greet():\n    return 'from a package'\n",
		}, "pkg.api.main.handler", `{}`, "from a package", ""},
		{"SiblingImport", map[string]string{
			"src/index.py": "import util\n\ndef handler(event, context):\n    return util.VALUE\n",
			"src/util.py":  "VALUE = 'sibling'\n",
		}, "src/index.handler", `{}`, "sibling", ""},
		{"ShadowsStdlib", map[string]string{
			"json.py": "def handler(event, context):\n    return 'my json.py'\n",
		}, "json.handler", `{}`, "my json.py", ""},
		{"Async", map[string]string{
			"index.py": "import asyncio\n\nasync def handler(event, context):\n    await asyncio.sleep(0.01)\n    return {'async': True}\n",
		}, "index.handler", `{}`, `{"async": true}`, ""},
		{"Bytes", map[string]string{
			"index.py": "def handler(event, context):\n    return b'\\x00\\x01raw'\n",
		}, "index.handler", `{}`, "\x00\x01raw", ""},
		{"None", map[string]string{
			"index.py": "def handler(event, context):\n    print('nothing to return')\n",
		}, "index.handler", `{}`, "", "nothing to return\n"},
		{"List", map[string]string{
			"index.py": "def handler(event, context):\n    return [1, 'two', None]\n",
		}, "index.handler", `{}`, `[1, "two", null]`, ""},
		{"TextEvent", map[string]string{
			"index.py": "def handler(event, context):\n    return type(event).__name__ + ':' + event\n",
		}, "index.handler", `plain text`, "str:plain text", ""},
		{"ThreadOutput", map[string]string{
			"index.py": "import threading\n\ndef handler(event, context):\n    t = threading.Thread(target=print, args=('from a thread',))\n    t.start()\n    t.join()\n    return 'ok'\n",
		}, "index.handler", `{}`, "ok", "from a thread\n"},
		{"Unicode", map[string]string{
			"index.py": "def handler(event, context):\n    print('h\u00e9llo \u4e16\u754c')\n    return event['s'] + ' \u2713'\n",
		}, "index.handler", `{"s":"caf\u00e9"}`, "caf\u00e9 \u2713", "h\u00e9llo \u4e16\u754c\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fn := runtimetest.Func(t, "Python3.10", tc.files)
			fn.Handler = tc.handler
			in := runtimetest.MustLaunch(t, k, fn)
			c := in.MustInvoke(t, tc.event)
			if string(c.Result.Body) != tc.body {
				t.Errorf("Body = %q, want %q", c.Result.Body, tc.body)
			}
			if c.Log != tc.log {
				t.Errorf("Log = %q, want %q", c.Log, tc.log)
			}
		})
	}
}

// A handler that sleeps past its context's deadline: Invoke returns
// ctx.Err() at once and the executor can kill the instance.
func TestInvoke_ContextDone(t *testing.T) {
	k := newKind(t)
	fn := runtimetest.Func(t, "Python3.9", map[string]string{"index.py": "import time\n\ndef handler(event, context):\n    time.sleep(30)\n"})
	in := runtimetest.MustLaunch(t, k, fn)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := in.Invoke(ctx, `{}`, nil)
	if err != context.DeadlineExceeded {
		t.Fatalf("Invoke = %v, want context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Invoke returned after %v", d)
	}
}

func TestColdStartTimes(t *testing.T) {
	runtimetest.ColdStartTimes(t, newKind(t), runtimetest.Func(t, "Python3.9", map[string]string{"index.py": code.Hello}), 10)
}

func BenchmarkPythonInvoke(b *testing.B) {
	k := newKind(b)
	fn := runtimetest.Func(b, "Python3.9", map[string]string{"index.py": "def handler(event, context):\n    return 'ok'\n"})
	runtimetest.BenchmarkInvoke(b, k, fn)
}
