package conformance

import (
	"fmt"
	"strings"
	"testing"
)

// Node.js functions as FunctionGraph users write them: CommonJS,
// `exports.handler = async (event, context) => ...` or the callback form.

const nodeEcho = `exports.handler = async (event, context) => {
  switch (event.kind) {
    case 'str': return 'plain text, not JSON: ' + (event.text || '');
    case 'int': return 42;
    case 'float': return 2.5;
    case 'bool': return true;
    case 'null': return null;
    case 'undefined': return undefined;
    case 'list': return [1, 'two', { three: 3 }];
    default: return { event, requestId: context.getRequestID() };
  }
};
`

const nodeCallback = `exports.handler = function (event, context, callback) {
  setTimeout(() => {
    if (event.fail) {
      callback(new Error('declined by the callback'));
      return;
    }
    callback(null, { style: 'callback', name: event.name, requestId: context.getRequestID() });
  }, 10);
};
`

const nodeZipIndex = `const helper = require('./lib/helper');
const pkg = require('./package.json');

exports.handler = async (event) => ({ greeting: helper.greet(event.name), pkg: pkg.name });
`

const nodeLogs = `exports.handler = async (event, context) => {
  console.log('first line from console.log');
  context.getLogger().info('second line from the logger');
  console.error('third line from console.error');
  console.log('fourth line from console.log');
  for (let i = 0; i < (event.filler || 0); i++) {
    console.log('filler line ' + String(i).padStart(5, '0') + ' ' + 'x'.repeat(60));
  }
  if (event.filler) console.log('LAST-MARKER');
  return 'logged';
};
`

const nodeSleep = `exports.handler = async (event) => {
  const start = Date.now();
  await new Promise((resolve) => setTimeout(resolve, (event.seconds || 0) * 1000));
  return { pid: process.pid, start, end: Date.now() };
};
`

const nodeContextEnv = `const os = require('os');

const NAMES = ['RUNTIME_FUNC_NAME', 'RUNTIME_PACKAGE', 'RUNTIME_FUNC_VERSION', 'RUNTIME_HANDLER',
  'RUNTIME_TIMEOUT', 'RUNTIME_MEMORY', 'RUNTIME_CPU', 'RUNTIME_PROJECT_ID',
  'RUNTIME_CODE_ROOT', 'RUNTIME_USERDATA', 'GREETING', 'DB_HOST'];

const orNull = (v) => (v === undefined ? null : v);

exports.handler = async (event, context) => {
  const env = {};
  for (const k of NAMES) env[k] = orNull(process.env[k]);
  return {
    env,
    ctx: {
      requestId: context.getRequestID(),
      remainingMs: context.getRemainingTimeInMilliSeconds(),
      functionName: context.getFunctionName(),
      package: context.getPackage(),
      version: context.getVersion(),
      memory: context.getMemorySize(),
      cpu: context.getCPUNumber(),
      projectId: context.getProjectID(),
      runningTime: context.getRunningTimeInSeconds(),
      greeting: orNull(context.getUserData('GREETING')),
      missing: orNull(context.getUserData('NOT_SET')),
    },
    hostname: os.hostname(),
    uid: process.getuid(),
  };
};
`

const nodeInit = `let inits = 0;
let calls = 0;
let initFunction = null;

exports.initializer = function (context, callback) {
  inits++;
  initFunction = context.getFunctionName();
  console.log('initializer ran');
  callback(null, '');
};

exports.handler = async (event, context) => {
  calls++;
  return { inits, calls, pid: process.pid, initFunction };
};
`

const nodeInitFails = `exports.initializer = function (context, callback) {
  setTimeout(() => callback(new Error('no database')), 400);
};

exports.handler = async () => ({ ok: true });
`

const nodeFail = `exports.handler = async (event, context) => {
  console.log('about to ' + (event.fail || 'succeed'));
  switch (event.fail) {
    case 'throw':
      throw new Error('card 4242 declined');
    case 'type':
      return event.missing.property;
    case 'exit':
      process.exit(1);
      break;
    case 'sleep':
      await new Promise((resolve) => setTimeout(resolve, (event.seconds || 10) * 1000));
      break;
    case 'oom': {
      const hog = [];
      for (;;) hog.push(Buffer.alloc(16 << 20, 1));
    }
  }
  return { ok: true, pid: process.pid };
};
`

const nodePayload = `exports.handler = async (event) => {
  const data = event.data || '';
  return { length: data.length, tail: data.slice(-8) };
};
`

const nodeVersioned = `const VERSION = %d;

exports.handler = async (event) => {
  await new Promise((resolve) => setTimeout(resolve, (event.seconds || 0) * 1000));
  return { version: VERSION, color: process.env.COLOR === undefined ? null : process.env.COLOR };
};
`

// TestInvokeNode runs Node.js functions on one server.
func TestInvokeNode(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOpts{})
	c := s.Client(t)
	rt := &langCase{lang: "node", runtime: "Node.js18.15"}

	t.Run("InlineSDK", func(t *testing.T) {
		t.Parallel()
		urn := deploy(t, c, fnSpec{Name: "node-echo-sdk", Runtime: "Node.js18.15", Inline: nodeEcho})
		checkSDKHappy(t, c, urn)
	})

	t.Run("Callback", func(t *testing.T) {
		t.Parallel()
		urn := deploy(t, c, fnSpec{Name: "node-callback", Runtime: "Node.js16.17", Inline: nodeCallback})
		r := s.invokeOK(t, urn, `{"name":"cb"}`, nil)
		m := r.ResultJSON(t)
		if m["style"] != "callback" || m["name"] != "cb" || m["requestId"] != r.RequestID {
			t.Errorf("callback handler: result %v, want style callback, name cb, requestId %s", m, r.RequestID)
		}
		r = s.invoke(t, urn, `{"fail":true}`, nil)
		fe := wantFuncError(t, "callback(err)", r, 4002, "", "")
		if !strings.Contains(fe.ErrorMessage, "declined by the callback") {
			t.Errorf("callback(err): errorMessage %q, want the error's message", fe.ErrorMessage)
		}
		s.invokeOK(t, urn, `{"name":"again"}`, nil)
	})

	t.Run("Zip", func(t *testing.T) {
		t.Parallel()
		urn := deploy(t, c, fnSpec{Name: "node-zip", Runtime: "Node.js18.15", Files: map[string]string{
			"index.js":      nodeZipIndex,
			"lib/helper.js": nodeHelper,
			"package.json":  `{"name":"zip-fn","version":"1.0.0","main":"index.js"}` + "\n",
		}})
		r := s.invokeOK(t, urn, `{"name":"zip"}`, nil)
		if m := r.ResultJSON(t); m["greeting"] != "hello zip" || m["pkg"] != "zip-fn" {
			t.Errorf("zip function: result %v, want greeting hello zip and pkg zip-fn", m)
		}
		urn = deploy(t, c, fnSpec{Name: "node-zip-src", Runtime: "Node.js14.18", Handler: "src/app.handler", Files: map[string]string{
			"src/app.js":  "const u = require('./util');\nexports.handler = async (event) => u.greet(event.name);\n",
			"src/util.js": "exports.greet = (n) => 'hi ' + n;\n",
		}})
		if r := s.invokeOK(t, urn, `{"name":"src"}`, nil); r.Result != "hi src" {
			t.Errorf("handler src/app.handler: result %q, want %q", r.Result, "hi src")
		}
	})

	t.Run("ResultTypes", func(t *testing.T) {
		t.Parallel()
		urn := deploy(t, c, fnSpec{Name: "node-results", Runtime: "Node.js18.15", Inline: nodeEcho})
		checkResultTypes(t, s, urn, "null", "undefined")
	})

	t.Run("Versions", func(t *testing.T) {
		t.Parallel()
		urn := deploy(t, c, fnSpec{Name: "node-versions", Runtime: "Node.js18.15", Inline: nodeEcho})
		checkVersions(t, s, urn)
	})

	t.Run("TailLog", func(t *testing.T) {
		t.Parallel()
		urn := deploy(t, c, fnSpec{Name: "node-logs", Runtime: "Node.js18.15", Inline: nodeLogs})
		checkTailLog(t, s, urn, []string{"first line from console.log", "LOGGER second line from the logger", "third line from console.error", "fourth line from console.log"})
	})

	t.Run("Headers", func(t *testing.T) {
		t.Parallel()
		urn := deploy(t, c, fnSpec{Name: "node-headers", Runtime: "Node.js18.15", Inline: nodeSleep})
		checkHeaders(t, s, urn, 128)
	})

	t.Run("ContextAndEnv", func(t *testing.T) {
		t.Parallel()
		urn := deploy(t, c, fnSpec{Name: "node-context", Runtime: "Node.js18.15", Inline: nodeContextEnv, Memory: 512, Timeout: 9,
			UserData: `{"GREETING":"hello","DB_HOST":"db.internal"}`})
		checkContextEnv(t, s, urn, "node-context", 512, 9, "index.handler")
	})

	t.Run("Initializer", func(t *testing.T) {
		t.Parallel()
		urn := deploy(t, c, fnSpec{Name: "node-init", Runtime: "Node.js18.15", Inline: nodeInit, Init: "index.initializer", InitTimeout: 10})
		checkInitOnce(t, s, urn, "node-init")
	})

	t.Run("Errors", func(t *testing.T) {
		t.Parallel()
		rt.checkErrors(t, s, c, nodeFail, map[string]errCase{
			"throw": {event: `{"fail":"throw"}`, code: 4002, etype: "Error", msg: "function invocation exception, error: card 4242 declined"},
			"type":  {event: `{"fail":"type"}`, code: 4002, etype: "TypeError", msg: "function invocation exception, error: ", contains: "property"},
		})
	})

	t.Run("EntryErrors", func(t *testing.T) {
		t.Parallel()
		rt.checkEntryErrors(t, s, c, nodeEcho, "exports.handler = async (event => {\n  return 1;\n};\n")
	})

	t.Run("Timeout", func(t *testing.T) {
		t.Parallel()
		rt.checkCrash(t, s, c, nodeFail, "node-timeout", `{"fail":"sleep","seconds":10}`, 128, 4010, "FunctionTimeout")
	})

	t.Run("OutOfMemory", func(t *testing.T) {
		t.Parallel()
		rt.checkCrash(t, s, c, nodeFail, "node-oom", `{"fail":"oom"}`, 128, 4205, "MemoryLimitExceeded")
	})

	t.Run("ProcessExit", func(t *testing.T) {
		t.Parallel()
		rt.checkCrash(t, s, c, nodeFail, "node-exit", `{"fail":"exit"}`, 128, 4204, "RuntimeExited")
	})

	t.Run("InitializerFails", func(t *testing.T) {
		t.Parallel()
		rt.checkInitFails(t, s, c, nodeInitFails, nodeInit)
	})

	t.Run("Payload", func(t *testing.T) {
		t.Parallel()
		urn := deploy(t, c, fnSpec{Name: "node-payload", Runtime: "Node.js18.15", Inline: nodePayload, Memory: 512})
		checkPayload(t, s, c, urn)
	})

	t.Run("UpdateCodeAndConfig", func(t *testing.T) {
		t.Parallel()
		checkUpdates(t, s, c, "node-updates", "Node.js18.15", func(v int) string { return fmt.Sprintf(nodeVersioned, v) })
	})
}
