package conformance

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"

	"github.com/huaweicloud/huaweicloud-sdk-go-v3/services/functiongraph/v2/model"
)

// Python functions as FunctionGraph users write them.

const pyEcho = `# -*- coding:utf-8 -*-
import json


def handler(event, context):
    kind = event.get("kind", "dict") if isinstance(event, dict) else "dict"
    if kind == "str":
        return "plain text, not JSON: " + event.get("text", "")
    if kind == "int":
        return 42
    if kind == "float":
        return 2.5
    if kind == "none":
        return None
    if kind == "list":
        return [1, "two", {"three": 3}]
    if kind == "bool":
        return True
    return {"event": event, "requestId": context.getRequestID()}
`

const pyZipIndex = `from helpers import shout
import pkg.sub as sub


def handler(event, context):
    return {"shout": shout(event.get("name", "")), "sub": sub.NAME}
`

const pyLogs = `import sys


def handler(event, context):
    print("first line from print")
    context.getLogger().info("second line from the logger")
    sys.stderr.write("third line to stderr\n")
    print("fourth line from print")
    for i in range(event.get("filler", 0)):
        print("filler line %05d %s" % (i, "x" * 60))
    if event.get("filler"):
        print("LAST-MARKER")
    return "logged"
`

const pySleep = `import os
import time


def handler(event, context):
    start = time.time()
    time.sleep(event.get("seconds", 0))
    return {"pid": os.getpid(), "start": start, "end": time.time()}
`

const pyContextEnv = `import json
import os
import socket

NAMES = ["RUNTIME_FUNC_NAME", "RUNTIME_PACKAGE", "RUNTIME_FUNC_VERSION", "RUNTIME_HANDLER",
         "RUNTIME_TIMEOUT", "RUNTIME_MEMORY", "RUNTIME_CPU", "RUNTIME_PROJECT_ID",
         "RUNTIME_CODE_ROOT", "RUNTIME_USERDATA", "GREETING", "DB_HOST"]


def handler(event, context):
    return {
        "env": {k: os.environ.get(k) for k in NAMES},
        "ctx": {
            "requestId": context.getRequestID(),
            "remainingMs": context.getRemainingTimeInMilliSeconds(),
            "functionName": context.getFunctionName(),
            "package": context.getPackage(),
            "version": context.getVersion(),
            "memory": context.getMemorySize(),
            "cpu": context.getCPUNumber(),
            "projectId": context.getProjectID(),
            "runningTime": context.getRunningTimeInSeconds(),
            "greeting": context.getUserData("GREETING"),
            "missing": context.getUserData("NOT_SET"),
        },
        "hostname": socket.gethostname(),
        "uid": os.getuid(),
    }
`

const pyInit = `import os

STATE = {"inits": 0, "calls": 0, "initFunction": None}


def init(context):
    STATE["inits"] += 1
    STATE["initFunction"] = context.getFunctionName()
    print("initializer ran")


def handler(event, context):
    STATE["calls"] += 1
    return {"inits": STATE["inits"], "calls": STATE["calls"], "pid": os.getpid(),
            "initFunction": STATE["initFunction"]}
`

const pyInitFails = `import time


def init(context):
    time.sleep(0.4)
    raise RuntimeError("no database")


def handler(event, context):
    return {"ok": True}
`

const pyFail = `import os
import time


class PaymentDeclined(Exception):
    pass


def handler(event, context):
    what = event.get("fail", "")
    print("about to " + (what or "succeed"))
    if what == "zero":
        return 1 / 0
    if what == "custom":
        raise PaymentDeclined("card 4242 declined")
    if what == "exit":
        os._exit(3)
    if what == "sleep":
        time.sleep(event.get("seconds", 10))
    if what == "oom":
        hog = []
        while True:
            hog.append(b"x" * (16 << 20))
    return {"ok": True, "pid": os.getpid()}
`

const pyPayload = `def handler(event, context):
    data = event.get("data", "")
    return {"length": len(data), "tail": data[-8:]}
`

const pyVersioned = `import os
import time

VERSION = %d


def handler(event, context):
    time.sleep(event.get("seconds", 0))
    return {"version": VERSION, "color": os.environ.get("COLOR")}
`

const pySandbox = `import os
import socket


def try_write(path):
    try:
        with open(path, "w") as f:
            f.write("probe")
        return "written"
    except OSError as e:
        return "refused: " + (e.strerror or str(e))


def handler(event, context):
    out = {
        "uid": os.getuid(),
        "euid": os.geteuid(),
        "root": try_write("/conformance-probe"),
        "etc": try_write("/etc/conformance-probe"),
        "code": try_write("/opt/function/code/probe.txt"),
        "codeFiles": sorted(os.listdir("/opt/function/code")),
        "hostname": socket.gethostname(),
        "visible": {p: os.path.exists(p) for p in event["paths"]},
    }
    tmp = "/tmp/probe-" + context.getRequestID()
    out["tmpWrite"] = try_write(tmp)
    with open(tmp) as f:
        out["tmpRead"] = f.read()
    return out
`

// TestInvokePython runs Python functions (spec 5.1.1 and the runtime
// contract) on one server.
func TestInvokePython(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOpts{})
	c := s.Client(t)
	rt := &langCase{lang: "python", runtime: "Python3.9"}

	t.Run("InlineSDK", func(t *testing.T) {
		t.Parallel()
		urn := deploy(t, c, fnSpec{Name: "py-echo-sdk", Runtime: "Python3.9", Inline: pyEcho})
		checkSDKHappy(t, c, urn)
	})

	t.Run("Zip", func(t *testing.T) {
		t.Parallel()
		urn := deploy(t, c, fnSpec{Name: "py-zip", Runtime: "Python3.10", Files: map[string]string{
			"index.py":        pyZipIndex,
			"helpers.py":      "def shout(s):\n    return s.upper() + \"!\"\n",
			"pkg/__init__.py": "",
			"pkg/sub.py":      "NAME = \"sub-module\"\n",
		}})
		r := s.invokeOK(t, urn, `{"name":"quiet"}`, nil)
		m := r.ResultJSON(t)
		if m["shout"] != "QUIET!" || m["sub"] != "sub-module" {
			t.Errorf("zip function result %v, want shout QUIET! and sub sub-module", m)
		}
		// A handler in a subfolder of the package: src/main.handler
		// loads src/main.py, which imports its neighbour.
		urn = deploy(t, c, fnSpec{Name: "py-zip-src", Runtime: "Python3.9", Handler: "src/main.handler", Files: map[string]string{
			"src/main.py": "import util\n\n\ndef handler(event, context):\n    return util.greet(event[\"name\"])\n",
			"src/util.py": "def greet(name):\n    return \"hi \" + name\n",
		}})
		r = s.invokeOK(t, urn, `{"name":"src"}`, nil)
		if r.Result != "hi src" {
			t.Errorf("handler src/main.handler: result %q, want %q", r.Result, "hi src")
		}
	})

	t.Run("ResultTypes", func(t *testing.T) {
		t.Parallel()
		urn := deploy(t, c, fnSpec{Name: "py-results", Runtime: "Python3.9", Inline: pyEcho})
		checkResultTypes(t, s, urn, "none")
	})

	t.Run("Versions", func(t *testing.T) {
		t.Parallel()
		urn := deploy(t, c, fnSpec{Name: "py-versions", Runtime: "Python3.9", Inline: pyEcho})
		checkVersions(t, s, urn)
	})

	t.Run("TailLog", func(t *testing.T) {
		t.Parallel()
		urn := deploy(t, c, fnSpec{Name: "py-logs", Runtime: "Python3.9", Inline: pyLogs})
		checkTailLog(t, s, urn, []string{"first line from print", "LOGGER second line from the logger", "third line to stderr", "fourth line from print"})
	})

	t.Run("Headers", func(t *testing.T) {
		t.Parallel()
		urn := deploy(t, c, fnSpec{Name: "py-headers", Runtime: "Python3.9", Inline: pySleep})
		checkHeaders(t, s, urn, 128)
	})

	t.Run("ContextAndEnv", func(t *testing.T) {
		t.Parallel()
		urn := deploy(t, c, fnSpec{Name: "py-context", Runtime: "Python3.9", Inline: pyContextEnv, Memory: 256, Timeout: 7,
			UserData: `{"GREETING":"hello","DB_HOST":"db.internal"}`})
		checkContextEnv(t, s, urn, "py-context", 256, 7, "index.handler")
	})

	t.Run("Initializer", func(t *testing.T) {
		t.Parallel()
		urn := deploy(t, c, fnSpec{Name: "py-init", Runtime: "Python3.9", Inline: pyInit, Init: "index.init", InitTimeout: 10})
		checkInitOnce(t, s, urn, "py-init")
	})

	t.Run("Errors", func(t *testing.T) {
		t.Parallel()
		rt.checkErrors(t, s, c, pyFail, map[string]errCase{
			"zero":   {event: `{"fail":"zero"}`, code: 4002, etype: "ZeroDivisionError", msg: "function invocation exception, error: ", contains: "division by zero"},
			"custom": {event: `{"fail":"custom"}`, code: 4002, etype: "PaymentDeclined", msg: "function invocation exception, error: card 4242 declined"},
		})
	})

	t.Run("EntryErrors", func(t *testing.T) {
		t.Parallel()
		rt.checkEntryErrors(t, s, c, pyEcho, "def handler(event, context)\n    return 1\n")
	})

	t.Run("Timeout", func(t *testing.T) {
		t.Parallel()
		rt.checkCrash(t, s, c, pyFail, "py-timeout", `{"fail":"sleep","seconds":10}`, 128, 4010, "FunctionTimeout")
	})

	t.Run("OutOfMemory", func(t *testing.T) {
		t.Parallel()
		rt.checkCrash(t, s, c, pyFail, "py-oom", `{"fail":"oom"}`, 128, 4205, "MemoryLimitExceeded")
	})

	t.Run("ProcessExit", func(t *testing.T) {
		t.Parallel()
		rt.checkCrash(t, s, c, pyFail, "py-exit", `{"fail":"exit"}`, 128, 4204, "RuntimeExited")
	})

	t.Run("InitializerFails", func(t *testing.T) {
		t.Parallel()
		rt.checkInitFails(t, s, c, pyInitFails, pyInit)
	})

	t.Run("Payload", func(t *testing.T) {
		t.Parallel()
		urn := deploy(t, c, fnSpec{Name: "py-payload", Runtime: "Python3.9", Inline: pyPayload, Memory: 512})
		checkPayload(t, s, c, urn)
	})

	t.Run("UpdateCodeAndConfig", func(t *testing.T) {
		t.Parallel()
		checkUpdates(t, s, c, "py-updates", "Python3.9", func(v int) string { return fmt.Sprintf(pyVersioned, v) })
	})

	t.Run("Sandbox", func(t *testing.T) {
		t.Parallel()
		urn := deploy(t, c, fnSpec{Name: "py-sandbox", Runtime: "Python3.9", Inline: pySandbox})
		paths := append([]string{"/work", "/work/main", filepath.Dir(fgsBin)}, hostFiles(t, s.DataDir)...)
		ev, _ := json.Marshal(map[string]any{"paths": paths})
		r := s.invokeOK(t, urn, string(ev), nil)
		var got struct {
			UID, EUID         int
			Root, Etc, Code   string
			CodeFiles         []string
			Hostname          string
			Visible           map[string]bool
			TmpWrite, TmpRead string
		}
		if err := json.Unmarshal([]byte(r.Result), &got); err != nil {
			t.Fatalf("sandbox report: %v: %s", err, r.Result)
		}
		if got.UID == 0 || got.EUID == 0 {
			t.Errorf("the function runs as uid %d (euid %d), want a non-root uid", got.UID, got.EUID)
		}
		for what, res := range map[string]string{"/": got.Root, "/etc": got.Etc, "/opt/function/code": got.Code} {
			if !strings.HasPrefix(res, "refused") {
				t.Errorf("writing a file in %s: %s, want it refused (read-only)", what, res)
			}
		}
		if len(got.CodeFiles) != 1 || got.CodeFiles[0] != "index.py" {
			t.Errorf("/opt/function/code holds %v, want [index.py]", got.CodeFiles)
		}
		if got.TmpWrite != "written" || got.TmpRead != "probe" {
			t.Errorf("/tmp: write %q, read back %q; want it writable", got.TmpWrite, got.TmpRead)
		}
		for _, p := range paths {
			// The runtime's own bootstrap is bound read-only at its
			// host path; nothing else of the data directory (metadata,
			// keys, other functions' code) may be.
			if got.Visible[p] && !strings.Contains(p, "/runtime/") {
				t.Errorf("%s of the host is visible inside the sandbox", p)
			}
		}
		if got.Hostname == "" || got.Hostname != r.Instance() {
			t.Errorf("socket.gethostname() = %q, want the instance id %q", got.Hostname, r.Instance())
		}
	})

	t.Run("NoUserCodeAfterDelete", func(t *testing.T) {
		t.Parallel()
		urn := deploy(t, c, fnSpec{Name: "py-deleted", Runtime: "Python3.9", Inline: pyEcho})
		s.invokeOK(t, urn, `{}`, nil)
		_, err := deleteFn(c, unqualified(urn))
		must(t, "DeleteFunction", err)
		_, err = c.InvokeFunction(&model.InvokeFunctionRequest{FunctionUrn: urn, Body: map[string]interface{}{}})
		wantSDKError(t, "InvokeFunction after DeleteFunction", err, 404, "FSS.1051")
	})
}

// hostFiles lists up to 300 regular files under dir on the host.
func hostFiles(t testing.TB, dir string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() && len(out) < 300 {
			out = append(out, p)
		}
		return nil
	})
	if len(out) == 0 {
		t.Fatalf("no files under the data directory %s", dir)
	}
	return out
}
