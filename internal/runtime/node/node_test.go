package node_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/openfgs/openfgs/internal/runtime"
	"github.com/openfgs/openfgs/internal/runtime/node"
	"github.com/openfgs/openfgs/internal/runtime/runtimetest"
)

var code = runtimetest.Code{
	Runtime:   "Node.js16.17",
	Ext:       ".js",
	ErrorType: "TypeError",

	Hello: `
exports.handler = async (event, context) => {
  return { hello: event.name };
};
`,
	String: `
exports.handler = function (event, context, callback) {
  callback(null, 'hello, ' + event.name);
};
`,
	Context: `
exports.handler = async (event, context) => {
  const logger = context.getLogger();
  logger.info('info line');
  logger.warn('warn line');
  logger.error('error line');
  logger.debug('debug line');
  return {
    getRequestID: context.getRequestID(),
    getRemainingTimeInMilliSeconds: context.getRemainingTimeInMilliSeconds(),
    getAccessKey: context.getAccessKey(),
    getSecretKey: context.getSecretKey(),
    getSecurityAccessKey: context.getSecurityAccessKey(),
    getSecuritySecretKey: context.getSecuritySecretKey(),
    getSecurityToken: context.getSecurityToken(),
    getToken: context.getToken(),
    getFunctionName: context.getFunctionName(),
    getRunningTimeInSeconds: context.getRunningTimeInSeconds(),
    getVersion: context.getVersion(),
    getMemorySize: context.getMemorySize(),
    getCPUNumber: context.getCPUNumber(),
    getPackage: context.getPackage(),
    getProjectID: context.getProjectID(),
    getAlias: context.getAlias(),
    userData: context.getUserData('GREETING'),
    userDataDefault: context.getUserData('NOPE', 'fallback'),
  };
};
`,
	UserData: `
const GREETING = process.env.GREETING;

exports.handler = async (event, context) => {
  return {
    atImport: GREETING,
    env: { ...process.env },
    greeting: context.getUserData('GREETING'),
    password: context.getUserData('PASSWORD'),
  };
};
`,
	Init: `
let count = 0;

exports.initializer = function (context, callback) {
  count++;
  context.getLogger().info('initialized');
  callback(null, '');
};

exports.handler = async (event, context) => {
  return { count };
};
`,
	InitFails: `
exports.initializer = async (context) => {
  throw new TypeError('boom');
};

exports.handler = async (event, context) => 'never';
`,
	Raise: `
function check(event) {
  if (!event.name) {
    throw new TypeError('bad input');
  }
}

exports.handler = async (event, context) => {
  check(event);
  return 'ok';
};
`,
	Syntax: `
exports.handler = async (event, context) => {
  return 'no closing brace';
`,
	ImportFails: `
if (!process.env.CONFIG) {
  throw new TypeError('no config');
}

exports.handler = async (event, context) => 'ok';
`,
	Logs: `
exports.handler = async (event, context) => {
  console.log('one');
  context.getLogger().info('two');
  process.stderr.write('three\n');
  console.log('four');
  return 'ok';
};
`,
	PID: `
exports.handler = async (event, context) => {
  return { pid: process.pid };
};
`,
	Sleep: `
const { setTimeout: sleep } = require('timers/promises');

exports.handler = async (event, context) => {
  console.log('start ' + context.getRequestID());
  await sleep(400);
  console.log('end ' + context.getRequestID());
  return context.getRequestID();
};
`,
	Exit: `
exports.handler = async (event, context) => {
  console.log('bye');
  process.exit(3);
};
`,
	Big: `
exports.handler = async (event, context) => 'x'.repeat(event.n);
`,
}

func newKind(t testing.TB) *node.Kind {
	t.Helper()
	k, err := node.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if k.Binary() == "" {
		t.Skipf("no Node.js: %v", k.Available("Node.js20.15"))
	}
	return k
}

func TestConformance(t *testing.T) {
	runtimetest.Run(t, newKind(t), code)
}

func TestKind_Available(t *testing.T) {
	k := newKind(t)
	for _, rt := range []string{"Node.js6.10", "Node.js8.10", "Node.js10.16", "Node.js12.13", "Node.js14.18", "Node.js16.17", "Node.js18.15", "Node.js20.15"} {
		if err := k.Available(rt); err != nil {
			t.Errorf("Available(%q) = %v", rt, err)
		}
	}
	for _, rt := range []string{"Node.js99.1", "Python3.9", "Node.js"} {
		if err := k.Available(rt); err == nil {
			t.Errorf("Available(%q) = nil, want an error", rt)
		}
	}
}

func TestKind_Program(t *testing.T) {
	k := newKind(t)
	generic, err := k.Program(nil)
	if err != nil {
		t.Fatal(err)
	}
	if !generic.Pipes || generic.Path != k.Binary() || generic.Args[len(generic.Args)-1] != k.Bootstrap() {
		t.Errorf("Program(nil) = %+v", generic)
	}
	p, err := k.Program(&runtime.Function{Runtime: "Node.js20.15", Handler: "index.handler", UserData: map[string]string{"A": "1"}})
	if err != nil {
		t.Fatal(err)
	}
	env := strings.Join(p.Env, "\n")
	for _, want := range []string{"A=1", "RUNTIME_HANDLER=index.handler"} {
		if !strings.Contains(env, want) {
			t.Errorf("Program(fn).Env lacks %s", want)
		}
	}
}

// Node's own ways: callbacks (with errors), plain functions, Buffers,
// undefined and null, ES modules, errors thrown from timers.
func TestNodeSpecifics(t *testing.T) {
	k := newKind(t)
	cases := []struct {
		name    string
		files   map[string]string
		event   string
		body    string
		errType string // "" = success
		errMsg  string
	}{
		{"CallbackLater", map[string]string{"index.js": `
exports.handler = function (event, context, callback) {
  setTimeout(() => callback(null, { later: true }), 10);
};`}, `{}`, `{"later":true}`, "", ""},
		{"CallbackError", map[string]string{"index.js": `
exports.handler = function (event, context, callback) {
  callback(new Error('went wrong'));
};`}, `{}`, "", "Error", "function entry exception, error: went wrong"},
		{"CallbackStringError", map[string]string{"index.js": `
exports.handler = (event, context, callback) => callback('plain text');
`}, `{}`, "", "Error", "function entry exception, error: plain text"},
		{"PlainFunction", map[string]string{"index.js": `
exports.handler = function (event, context) {
  return 'sync ' + event.n;
};`}, `{"n":1}`, "sync 1", "", ""},
		{"PromiseHandler", map[string]string{"index.js": `
exports.handler = (event, context) => new Promise((resolve) => setTimeout(() => resolve([1, 2]), 5));
`}, `{}`, "[1,2]", "", ""},
		{"Buffer", map[string]string{"index.js": `
exports.handler = async () => Buffer.from([0, 1, 0x72, 0x61, 0x77]);
`}, `{}`, "\x00\x01raw", "", ""},
		{"Undefined", map[string]string{"index.js": `
exports.handler = async () => {};
`}, `{}`, "", "", ""},
		{"Null", map[string]string{"index.js": `
exports.handler = async () => null;
`}, `{}`, "", "", ""},
		{"TextEvent", map[string]string{"index.js": `
exports.handler = async (event) => typeof event + ':' + event;
`}, `plain text`, "string:plain text", "", ""},
		{"ESModule", map[string]string{"index.mjs": `
export const handler = async (event, context) => ({ esm: context.getFunctionName() });
`}, `{}`, `{"esm":"hello"}`, "", ""},
		{"ThrowInTimer", map[string]string{"index.js": `
exports.handler = function (event, context, callback) {
  setTimeout(() => { throw new RangeError('from a timer'); }, 5);
};`}, `{}`, "", "RangeError", "function invocation exception, error: from a timer"},
		{"ThrowNonError", map[string]string{"index.js": `
exports.handler = async () => { throw 'just a string'; };
`}, `{}`, "", "Error", "function invocation exception, error: just a string"},
		{"Unicode", map[string]string{"index.js": `
exports.handler = async (event) => event.s + ' \u2713';
`}, `{"s":"caf\u00e9"}`, "caf\u00e9 \u2713", "", ""},
		{"RequireSibling", map[string]string{
			"index.js":                  "const util = require('./lib/util');\nconst dep = require('dep');\nexports.handler = async () => util.value + ' ' + dep.value;\n",
			"lib/util.js":               "exports.value = 'sibling';\n",
			"node_modules/dep/index.js": "exports.value = 'dependency';\n",
		}, `{}`, "sibling dependency", "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fn := runtimetest.Func(t, "Node.js20.15", tc.files)
			in := runtimetest.MustLaunch(t, k, fn)
			c, err := in.Invoke(context.Background(), tc.event, nil)
			if err != nil {
				t.Fatalf("Invoke = %v", err)
			}
			if tc.errType == "" {
				if c.Result.Err != nil || string(c.Result.Body) != tc.body {
					t.Fatalf("Invoke = %q, %v, want %q", c.Result.Body, c.Result.Err, tc.body)
				}
				return
			}
			fe := c.Result.Err
			if fe == nil || fe.Code != runtime.ErrInvocation || fe.Type != tc.errType || fe.Message != tc.errMsg {
				t.Fatalf("Invoke = %+v, want type %s, message %q", fe, tc.errType, tc.errMsg)
			}
			if string(c.Result.Body) != string(fe.JSON()) {
				t.Errorf("Body = %s, want %s", c.Result.Body, fe.JSON())
			}
			// The instance still serves.
			if _, err := in.Invoke(context.Background(), tc.event, nil); err != nil {
				t.Errorf("second Invoke = %v", err)
			}
		})
	}
}

func TestInitializerCallbackError(t *testing.T) {
	k := newKind(t)
	fn := runtimetest.Func(t, "Node.js20.15", map[string]string{"index.js": `
exports.initializer = function (context, callback) {
  callback(new Error('no database'));
};
exports.handler = async () => 'never';
`})
	fn.InitializerHandler = "index.initializer"
	_, err := runtimetest.Launch(t, k, fn)
	fe, ok := err.(*runtime.FuncError)
	if !ok || fe.Code != runtime.ErrInit || fe.Type != "HandledInitializationError" || fe.Message != "function initialization exception: no database" {
		t.Fatalf("Load = %v, want ErrInit HandledInitializationError", err)
	}
}

func TestInvoke_ContextDone(t *testing.T) {
	k := newKind(t)
	fn := runtimetest.Func(t, "Node.js20.15", map[string]string{"index.js": "exports.handler = () => new Promise(() => {});\n"})
	in := runtimetest.MustLaunch(t, k, fn)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := in.Invoke(ctx, `{}`, nil); err != context.DeadlineExceeded {
		t.Fatalf("Invoke = %v, want context.DeadlineExceeded", err)
	}
}

func TestColdStartTimes(t *testing.T) {
	runtimetest.ColdStartTimes(t, newKind(t), runtimetest.Func(t, "Node.js20.15", map[string]string{"index.js": code.Hello}), 10)
}

func BenchmarkNodeInvoke(b *testing.B) {
	k := newKind(b)
	fn := runtimetest.Func(b, "Node.js20.15", map[string]string{"index.js": "exports.handler = async (event, context) => 'ok';\n"})
	runtimetest.BenchmarkInvoke(b, k, fn)
}
