package runtimetest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openfgs/openfgs/internal/runtime"
)

// Code is one language's function code for the cases of Run. Each field
// but the first three is the complete text of a handler file, written the
// way a FunctionGraph user writes it; its comment says what the code must
// do. The handler is "index.handler" and the initializer "index.initializer"
// unless said otherwise.
type Code struct {
	Runtime string // the API enum, e.g. "Python3.9"
	Ext     string // the extension of source files, e.g. ".py"
	// ErrorType is the type (class) name of the errors that Raise and
	// InitFails raise, e.g. "ValueError".
	ErrorType string

	// Hello returns the object {"hello": <event's "name">}.
	Hello string
	// String returns the string "hello, " + <event's "name">.
	String string
	// Context returns an object with the result of each context method
	// under the method's name ("getRequestID": ..., no arguments), plus
	// "userData": getUserData("GREETING"), "userDataDefault":
	// getUserData("NOPE", "fallback"). It logs "info line", "warn line",
	// "error line" and "debug line" with the context logger's info, warn,
	// error and debug.
	Context string
	// UserData reads the variable GREETING when its module is imported
	// and returns {"atImport": <that>, "env": <the whole environment>,
	// "greeting": getUserData("GREETING"), "password":
	// getUserData("PASSWORD")}.
	UserData string
	// Init counts its calls in a module variable; the handler returns
	// {"count": <the count>}.
	Init string
	// InitFails has an initializer that raises ErrorType with message "boom".
	InitFails string
	// Raise raises ErrorType with message "bad input".
	Raise string
	// Syntax has a syntax error.
	Syntax string
	// ImportFails raises ErrorType with message "no config" when imported.
	ImportFails string
	// Logs prints "one", logs "two" with the context logger's info, writes
	// "three" and a newline to stderr, prints "four", and returns "ok".
	Logs string
	// PID returns {"pid": <its process id>}.
	PID string
	// Sleep prints "start <request id>", waits 400 ms without holding the
	// instance (an async sleep, or a sleep in its own thread), prints
	// "end <request id>" and returns the request id as a string.
	Sleep string
	// Exit prints "bye" and ends its process at once with status 3.
	Exit string
	// Big returns a string of <event's "n"> letters "x".
	Big string
}

// Func writes files (name -> content) into a new code folder and returns
// a function using it, with handler "index.handler".
func Func(t testing.TB, rt string, files map[string]string) *runtime.Function {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		path := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return NewFunction(rt, "index.handler", dir)
}

// NewFunction returns the function the tests use: "hello" in package
// "default" of a fixed project, version latest, 30 s, 256 MB, 400
// millicores, with handler and code folder codeDir.
func NewFunction(rt, handler, codeDir string) *runtime.Function {
	return &runtime.Function{
		URN:      "urn:fss:cn-north-4:0123456789abcdef0123456789abcdef:function:default:hello",
		Name:     "hello",
		Package:  "default",
		Project:  "0123456789abcdef0123456789abcdef",
		Region:   "cn-north-4",
		Version:  "latest",
		Runtime:  rt,
		Handler:  handler,
		Timeout:  30 * time.Second,
		MemoryMB: 256,
		CPU:      400,
		CodeDir:  codeDir,
	}
}

// Instance is a started, attached instance.
type Instance struct {
	Conn    runtime.Conn
	Process *Process
}

// Launch starts an instance of fn (a program made for fn), attaches to it
// and loads fn, returning the error of Load.
func Launch(t testing.TB, kind runtime.Kind, fn *runtime.Function) (*Instance, error) {
	t.Helper()
	prog, err := kind.Program(fn)
	if err != nil {
		t.Fatalf("Program(%s) = %v", fn.Runtime, err)
	}
	in := Attach(t, kind, Start(t, prog), fn)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return in, in.Conn.Load(ctx, fn)
}

// LaunchGeneric starts a generic instance (Program(nil)) and attaches to
// it without loading a function; it waits until the instance is ready.
func LaunchGeneric(t testing.TB, kind runtime.Kind) *Instance {
	t.Helper()
	prog, err := kind.Program(nil)
	if err != nil {
		t.Fatalf("Program(nil) = %v", err)
	}
	in := Attach(t, kind, Start(t, prog), nil)
	if fc, ok := in.Conn.(*runtime.FrameConn); ok {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := fc.WaitReady(ctx); err != nil {
			t.Fatalf("generic instance not ready: %v", err)
		}
	}
	return in
}

// Attach attaches kind's Conn for fn (nil: a generic instance) to the
// started p, without loading fn; the Conn is closed when the test ends.
func Attach(t testing.TB, kind runtime.Kind, p *Process, fn *runtime.Function) *Instance {
	t.Helper()
	conn, err := kind.Attach(context.Background(), p, fn)
	if err != nil {
		t.Fatalf("Attach = %v", err)
	}
	if fc, ok := conn.(*runtime.FrameConn); ok {
		fc.SetOutput(testWriter{t})
	}
	t.Cleanup(func() { conn.Close() })
	return &Instance{Conn: conn, Process: p}
}

// MustLaunch is Launch failing the test when Load fails.
func MustLaunch(t testing.TB, kind runtime.Kind, fn *runtime.Function) *Instance {
	t.Helper()
	in, err := Launch(t, kind, fn)
	if err != nil {
		t.Fatalf("Load(%s) = %v", fn.Handler, err)
	}
	return in
}

// Call is one finished invocation.
type Call struct {
	RequestID string
	Result    runtime.Result
	Log       string
}

var requestCounter struct {
	sync.Mutex
	n int
}

// NewRequestID returns a request id unique in the test binary.
func NewRequestID() string {
	requestCounter.Lock()
	defer requestCounter.Unlock()
	requestCounter.n++
	return fmt.Sprintf("%08x-0000-4000-8000-%012d", time.Now().UnixNano()&0xffffffff, requestCounter.n)
}

// Invoke runs one invocation of event, with the given context headers,
// and returns it; the error is Invoke's.
func (in *Instance) Invoke(ctx context.Context, event string, headers map[string]string) (Call, error) {
	return in.InvokeWithin(ctx, event, headers, 30*time.Second)
}

// InvokeWithin is Invoke of an invocation whose deadline is d from now
// (rather than 30 s).
func (in *Instance) InvokeWithin(ctx context.Context, event string, headers map[string]string, d time.Duration) (Call, error) {
	var log lockedBuffer
	inv := &runtime.Invocation{
		RequestID: NewRequestID(),
		Event:     []byte(event),
		Deadline:  time.Now().Add(d),
		Headers:   headers,
		Log:       &log,
	}
	res, err := in.Conn.Invoke(ctx, inv)
	return Call{RequestID: inv.RequestID, Result: res, Log: string(log.Bytes())}, err
}

// MustInvoke is Invoke failing the test on an error or a function error.
func (in *Instance) MustInvoke(t testing.TB, event string) Call {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := in.Invoke(ctx, event, nil)
	if err != nil {
		t.Fatalf("Invoke(%s) = %v", event, err)
	}
	if c.Result.Err != nil {
		t.Fatalf("Invoke(%s) = function error %v, body %s", event, c.Result.Err, c.Result.Body)
	}
	return c
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Logf("instance output (no invocation): %s", strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// JSONEqual reports whether a and b are the same JSON value.
func JSONEqual(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return reflectEqual(x, y)
}

func reflectEqual(x, y any) bool {
	bx, _ := json.Marshal(x) // maps marshal with sorted keys
	by, _ := json.Marshal(y)
	return bytes.Equal(bx, by)
}

// logLine matches a context logger line: <UTC time> <request id> <LEVEL> <msg>.
var logLine = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z (\S+) (DEBUG|INFO|WARN|ERROR) (.*)$`)

// Run is the conformance suite of a language runtime: it runs code's
// functions on instances of kind, without a sandbox.
func Run(t *testing.T, kind runtime.Kind, code Code) {
	index := "index" + code.Ext
	one := func(src string) map[string]string { return map[string]string{index: src} }
	bg := context.Background()

	t.Run("Available", func(t *testing.T) {
		if err := kind.Available(code.Runtime); err != nil {
			t.Fatalf("Available(%q) = %v", code.Runtime, err)
		}
	})

	t.Run("HelloDict", func(t *testing.T) {
		in := MustLaunch(t, kind, Func(t, code.Runtime, one(code.Hello)))
		c := in.MustInvoke(t, `{"name":"world"}`)
		if !JSONEqual(c.Result.Body, []byte(`{"hello":"world"}`)) {
			t.Fatalf("Body = %s, want JSON {\"hello\":\"world\"}", c.Result.Body)
		}
	})

	t.Run("Subfolder", func(t *testing.T) {
		fn := Func(t, code.Runtime, map[string]string{"src/index" + code.Ext: code.Hello})
		fn.Handler = "src/index.handler"
		in := MustLaunch(t, kind, fn)
		c := in.MustInvoke(t, `{"name":"sub"}`)
		if !JSONEqual(c.Result.Body, []byte(`{"hello":"sub"}`)) {
			t.Fatalf("Body = %s, want JSON {\"hello\":\"sub\"}", c.Result.Body)
		}
	})

	t.Run("String", func(t *testing.T) {
		in := MustLaunch(t, kind, Func(t, code.Runtime, one(code.String)))
		c := in.MustInvoke(t, `{"name":"world"}`)
		if got := string(c.Result.Body); got != "hello, world" {
			t.Fatalf("Body = %q, want %q (raw)", got, "hello, world")
		}
	})

	t.Run("Context", func(t *testing.T) {
		fn := Func(t, code.Runtime, one(code.Context))
		SetUpContext(fn)
		in := MustLaunch(t, kind, fn)
		c, err := in.InvokeWithin(bg, `{}`, ContextHeaders(), 5*time.Second)
		rid, res := c.RequestID, c.Result
		if err != nil || res.Err != nil {
			t.Fatalf("Invoke = %v, %v (%s)", res.Err, err, res.Body)
		}
		var got map[string]any
		if err := json.Unmarshal(res.Body, &got); err != nil {
			t.Fatalf("Body %s: %v", res.Body, err)
		}
		CheckContext(t, got, rid, fn, map[string]any{"userDataDefault": "fallback"})
		lines := strings.Split(strings.TrimSuffix(c.Log, "\n"), "\n")
		wantLines := [][2]string{{"INFO", "info line"}, {"WARN", "warn line"}, {"ERROR", "error line"}, {"DEBUG", "debug line"}}
		if len(lines) != len(wantLines) {
			t.Fatalf("log = %q, want %d logger lines", c.Log, len(wantLines))
		}
		for i, l := range lines {
			m := logLine.FindStringSubmatch(l)
			if m == nil || m[2] != rid || m[3] != wantLines[i][0] || m[4] != wantLines[i][1] {
				t.Errorf("log line %d = %q, want <UTC time> %s %s %s", i, l, rid, wantLines[i][0], wantLines[i][1])
			}
		}
	})

	checkUserData := func(t *testing.T, c Call, fn *runtime.Function) {
		t.Helper()
		var got struct {
			AtImport *string           `json:"atImport"`
			Env      map[string]string `json:"env"`
			Greeting *string           `json:"greeting"`
			Password *string           `json:"password"`
		}
		if err := json.Unmarshal(c.Result.Body, &got); err != nil {
			t.Fatalf("Body %s: %v", c.Result.Body, err)
		}
		if got.AtImport == nil || *got.AtImport != "hi there" {
			t.Errorf("GREETING at import = %v, want %q", got.AtImport, "hi there")
		}
		if got.Greeting == nil || *got.Greeting != "hi there" {
			t.Errorf("getUserData(GREETING) = %v, want %q", got.Greeting, "hi there")
		}
		if got.Password == nil || *got.Password != "s3cret" {
			t.Errorf("getUserData(PASSWORD) = %v, want %q", got.Password, "s3cret")
		}
		if v, ok := got.Env["PASSWORD"]; ok {
			t.Errorf("encrypted user data in the environment: PASSWORD=%q", v)
		}
		wantEnv := map[string]string{
			"GREETING":                    "hi there",
			"RUNTIME_PROJECT_ID":          fn.Project,
			"RUNTIME_FUNC_NAME":           "hello",
			"RUNTIME_FUNC_VERSION":        "latest",
			"RUNTIME_PACKAGE":             "default",
			"RUNTIME_HANDLER":             "index.handler",
			"RUNTIME_TIMEOUT":             "30",
			"RUNTIME_USERDATA":            `{"GREETING":"hi there"}`,
			"RUNTIME_CPU":                 "400",
			"RUNTIME_MEMORY":              "256",
			"RUNTIME_CODE_ROOT":           fn.CodeDir,
			"RUNTIME_INITIALIZER_HANDLER": "",
			"RUNTIME_INITIALIZER_TIMEOUT": "0",
			"RUNTIME_ALIAS":               "",
			"RUNTIME_MAX_RESP_BODY_SIZE":  "6291456",
		}
		for k, v := range wantEnv {
			if got, ok := got.Env[k]; !ok || got != v {
				t.Errorf("env %s = %q (set: %v), want %q", k, got, ok, v)
			}
		}
	}
	userDataFunc := func(t *testing.T) *runtime.Function {
		fn := Func(t, code.Runtime, one(code.UserData))
		fn.UserData = map[string]string{"GREETING": "hi there"}
		fn.EncryptedUserData = map[string]string{"PASSWORD": "s3cret"}
		return fn
	}

	t.Run("UserData", func(t *testing.T) {
		fn := userDataFunc(t)
		in := MustLaunch(t, kind, fn)
		checkUserData(t, in.MustInvoke(t, `{}`), fn)
	})

	t.Run("GenericLoad", func(t *testing.T) {
		in := LaunchGeneric(t, kind)
		fn := userDataFunc(t)
		ctx, cancel := context.WithTimeout(bg, 30*time.Second)
		defer cancel()
		if err := in.Conn.Load(ctx, fn); err != nil {
			t.Fatalf("Load = %v", err)
		}
		checkUserData(t, in.MustInvoke(t, `{}`), fn)
	})

	t.Run("InitializerOnce", func(t *testing.T) {
		fn := Func(t, code.Runtime, one(code.Init))
		fn.InitializerHandler = "index.initializer"
		fn.InitializerTimeout = 10 * time.Second
		in := MustLaunch(t, kind, fn)
		for i := 0; i < 3; i++ {
			c := in.MustInvoke(t, `{}`)
			if !JSONEqual(c.Result.Body, []byte(`{"count":1}`)) {
				t.Fatalf("invocation %d: Body = %s, want {\"count\":1}", i, c.Result.Body)
			}
		}
	})

	t.Run("InitializerFails", func(t *testing.T) {
		fn := Func(t, code.Runtime, one(code.InitFails))
		fn.InitializerHandler = "index.initializer"
		_, err := Launch(t, kind, fn)
		fe := funcError(t, err)
		if fe.Code != runtime.ErrInit || fe.Message != "function initialization exception: boom" || fe.Type != code.ErrorType {
			t.Fatalf("Load = %+v, want code %d, type %s, message %q", fe, runtime.ErrInit, code.ErrorType, "function initialization exception: boom")
		}
	})

	t.Run("InitializerMissing", func(t *testing.T) {
		fn := Func(t, code.Runtime, one(code.Hello))
		fn.InitializerHandler = "index.nothere"
		_, err := Launch(t, kind, fn)
		fe := funcError(t, err)
		if fe.Code != runtime.ErrInit || !strings.Contains(fe.Message, "nothere") {
			t.Fatalf("Load = %+v, want code %d naming nothere", fe, runtime.ErrInit)
		}
	})

	t.Run("Raise", func(t *testing.T) {
		in := MustLaunch(t, kind, Func(t, code.Runtime, one(code.Raise)))
		c, err := in.Invoke(bg, `{}`, nil)
		if err != nil {
			t.Fatalf("Invoke = %v", err)
		}
		fe := c.Result.Err
		t.Logf("Body = %s", c.Result.Body)
		want := "function invocation exception, error: bad input"
		if fe == nil || fe.Code != runtime.ErrInvocation || fe.Type != code.ErrorType || fe.Message != want {
			t.Fatalf("Invoke = %+v, want code %d, type %s, message %q", fe, runtime.ErrInvocation, code.ErrorType, want)
		}
		if len(fe.Stack) == 0 || !strings.Contains(strings.Join(fe.Stack, "\n"), index) {
			t.Errorf("Stack = %q, want frames in %s", fe.Stack, index)
		}
		var body struct {
			Message string   `json:"errorMessage"`
			Type    string   `json:"errorType"`
			Stack   []string `json:"stackTrace"`
		}
		if err := json.Unmarshal(c.Result.Body, &body); err != nil || body.Message != want || body.Type != code.ErrorType || len(body.Stack) != len(fe.Stack) {
			t.Errorf("Body = %s (%v), want the error's JSON", c.Result.Body, err)
		}
		// The instance still works.
		if c, err := in.Invoke(bg, `{}`, nil); err != nil || c.Result.Err == nil {
			t.Errorf("second Invoke = %v, %v", c.Result.Err, err)
		}
	})

	entryCases := []struct {
		name    string
		files   map[string]string
		handler string
		typ     string // "" = any
		mention string
	}{
		{"MissingFile", map[string]string{"other" + code.Ext: code.Hello}, "index.handler", "", index},
		{"MissingSubfolderFile", one(code.Hello), "src/index.handler", "", "src/" + index},
		{"MissingFunction", one(code.Hello), "index.nothere", "", "nothere"},
		{"BadHandler", one(code.Hello), "index", "", "index"},
		{"SyntaxError", one(code.Syntax), "index.handler", "SyntaxError", ""},
		{"ImportFails", one(code.ImportFails), "index.handler", code.ErrorType, "no config"},
	}
	for _, tc := range entryCases {
		t.Run("Entry/"+tc.name, func(t *testing.T) {
			fn := Func(t, code.Runtime, tc.files)
			fn.Handler = tc.handler
			_, err := Launch(t, kind, fn)
			fe := funcError(t, err)
			t.Logf("Load = %d %s: %s %q", fe.Code, fe.Type, fe.Message, fe.Stack)
			if fe.Code != runtime.ErrEntry || (tc.typ != "" && fe.Type != tc.typ) || !strings.Contains(fe.Message, tc.mention) ||
				!strings.HasPrefix(fe.Message, "function entry exception") {
				t.Fatalf("Load = %+v, want code %d, type %q, a message naming %q", fe, runtime.ErrEntry, tc.typ, tc.mention)
			}
		})
	}

	t.Run("LogOrder", func(t *testing.T) {
		in := MustLaunch(t, kind, Func(t, code.Runtime, one(code.Logs)))
		for i := 0; i < 3; i++ {
			c := in.MustInvoke(t, `{}`)
			if string(c.Result.Body) != "ok" {
				t.Fatalf("Body = %q, want ok", c.Result.Body)
			}
			lines := strings.Split(c.Log, "\n")
			if len(lines) != 5 || lines[0] != "one" || lines[2] != "three" || lines[3] != "four" || lines[4] != "" {
				t.Fatalf("Log = %q, want one, <logger line>, three, four", c.Log)
			}
			if m := logLine.FindStringSubmatch(lines[1]); m == nil || m[2] != c.RequestID || m[3] != "INFO" || m[4] != "two" {
				t.Fatalf("Log line 2 = %q, want <UTC time> %s INFO two", lines[1], c.RequestID)
			}
		}
	})

	t.Run("ReuseProcess", func(t *testing.T) {
		in := MustLaunch(t, kind, Func(t, code.Runtime, one(code.PID)))
		want := fmt.Sprintf(`{"pid":%d}`, in.Process.Pid())
		for i := 0; i < 50; i++ {
			c := in.MustInvoke(t, `{}`)
			if !JSONEqual(c.Result.Body, []byte(want)) {
				t.Fatalf("invocation %d: Body = %s, want %s", i, c.Result.Body, want)
			}
		}
	})

	t.Run("Concurrent", func(t *testing.T) {
		fn := Func(t, code.Runtime, one(code.Sleep))
		fn.Concurrency = 4
		in := MustLaunch(t, kind, fn)
		in.MustInvoke(t, `{}`) // warm up
		var wg sync.WaitGroup
		calls := make([]Call, 4)
		errs := make([]error, 4)
		start := time.Now()
		for i := range calls {
			wg.Add(1)
			go func() {
				defer wg.Done()
				calls[i], errs[i] = in.Invoke(bg, `{}`, nil)
			}()
		}
		wg.Wait()
		elapsed := time.Since(start)
		for i, c := range calls {
			if errs[i] != nil || c.Result.Err != nil {
				t.Fatalf("call %d: %v, %v", i, errs[i], c.Result.Err)
			}
			if string(c.Result.Body) != c.RequestID {
				t.Errorf("call %d: Body = %q, want its request id %q", i, c.Result.Body, c.RequestID)
			}
			if want := "start " + c.RequestID + "\nend " + c.RequestID + "\n"; c.Log != want {
				t.Errorf("call %d: Log = %q, want %q", i, c.Log, want)
			}
		}
		if elapsed >= 1200*time.Millisecond {
			t.Errorf("4 concurrent 400 ms invocations took %v, want well under 1.6s", elapsed)
		}
		t.Logf("4 concurrent 400 ms invocations: %v", elapsed)
	})

	t.Run("ProcessExits", func(t *testing.T) {
		in := MustLaunch(t, kind, Func(t, code.Runtime, one(code.Exit)))
		ctx, cancel := context.WithTimeout(bg, 20*time.Second)
		defer cancel()
		start := time.Now()
		_, err := in.Invoke(ctx, `{}`, nil)
		if err == nil || ctx.Err() != nil {
			t.Fatalf("Invoke = %v after %v, want an instance error", err, time.Since(start))
		}
		if !errors.Is(err, runtime.ErrBroken) {
			t.Errorf("Invoke error %v does not wrap ErrBroken", err)
		}
		// Later calls fail at once too.
		if _, err := in.Invoke(ctx, `{}`, nil); err == nil {
			t.Errorf("Invoke after the exit = nil error")
		}
		if err := in.Process.Wait(5 * time.Second); err == nil || !strings.Contains(err.Error(), "exit status 3") {
			t.Errorf("process exit = %v, want exit status 3", err)
		}
	})

	t.Run("TooLarge", func(t *testing.T) {
		fn := Func(t, code.Runtime, one(code.Big))
		fn.MaxResponseBytes = 1000
		in := MustLaunch(t, kind, fn)
		if c := in.MustInvoke(t, `{"n":1000}`); len(c.Result.Body) != 1000 {
			t.Fatalf("1000 bytes: Body has %d bytes", len(c.Result.Body))
		}
		c, err := in.Invoke(bg, `{"n":1001}`, nil)
		checkTooLarge(t, c, err, 1001, 1000)
	})

	t.Run("TooLargeDefault", func(t *testing.T) {
		in := MustLaunch(t, kind, Func(t, code.Runtime, one(code.Big)))
		c, err := in.Invoke(bg, `{"n":7340032}`, nil)
		checkTooLarge(t, c, err, 7340032, runtime.DefaultMaxResponseBytes)
		if c := in.MustInvoke(t, `{"n":6291456}`); len(c.Result.Body) != 6291456 {
			t.Fatalf("6 MiB: Body has %d bytes", len(c.Result.Body))
		}
	})
}

// SetUpContext gives fn what CheckContext expects of it: version v2,
// alias prod, a 7 s timeout and the user data GREETING=hi.
func SetUpContext(fn *runtime.Function) {
	fn.Version = "v2"
	fn.Alias = "prod"
	fn.Timeout = 7 * time.Second
	fn.UserData = map[string]string{"GREETING": "hi"}
}

// ContextHeaders returns the context headers CheckContext expects an
// invocation to have had: credentials.
func ContextHeaders() map[string]string {
	return map[string]string{
		"X-CFF-Access-Key":          "ak",
		"X-CFF-Secret-Key":          "sk",
		"X-CFF-Security-Access-Key": "sak",
		"X-CFF-Security-Secret-Key": "ssk",
		"X-CFF-Security-Token":      "stoken",
		"X-CFF-Auth-Token":          "token",
	}
}

// CheckContext checks got, the results of the context methods, each under
// the method's name (as Code.Context returns them), in the invocation rid
// of fn (a NewFunction set up by SetUpContext) that had ContextHeaders and
// a deadline 5 s after it started; "userData" is getUserData("GREETING").
// more holds further names and the values they must have.
func CheckContext(t testing.TB, got map[string]any, rid string, fn *runtime.Function, more map[string]any) {
	t.Helper()
	want := map[string]any{
		"getRequestID":            rid,
		"getAccessKey":            "ak",
		"getSecretKey":            "sk",
		"getSecurityAccessKey":    "sak",
		"getSecuritySecretKey":    "ssk",
		"getSecurityToken":        "stoken",
		"getToken":                "token",
		"getFunctionName":         "hello",
		"getRunningTimeInSeconds": 7.0,
		"getVersion":              "v2",
		"getMemorySize":           256.0,
		"getCPUNumber":            400.0,
		"getPackage":              "default",
		"getProjectID":            fn.Project,
		"getAlias":                "prod",
		"userData":                "hi",
	}
	for k, v := range more {
		want[k] = v
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s() = %#v, want %#v", k, got[k], v)
		}
	}
	// Less than the timeout: the deadline.
	remaining, ok := got["getRemainingTimeInMilliSeconds"].(float64)
	if !ok || remaining <= 3000 || remaining > 5000 {
		t.Errorf("getRemainingTimeInMilliSeconds() = %v, want in (3000, 5000]", got["getRemainingTimeInMilliSeconds"])
	}
}

func checkTooLarge(t *testing.T, c Call, err error, size, max int) {
	t.Helper()
	if err != nil {
		t.Fatalf("Invoke = %v", err)
	}
	want := "Response body size '" + strconv.Itoa(size) + "' larger than max value '" + strconv.Itoa(max) + "'."
	if fe := c.Result.Err; fe == nil || fe.Code != runtime.ErrTooLarge || fe.Message != want {
		t.Fatalf("Invoke = %+v, want code %d, message %q", fe, runtime.ErrTooLarge, want)
	}
}

func funcError(t *testing.T, err error) *runtime.FuncError {
	t.Helper()
	var fe *runtime.FuncError
	if !errors.As(err, &fe) {
		t.Fatalf("Load = %v, want a *runtime.FuncError", err)
	}
	return fe
}
