package conformance

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	fg "github.com/huaweicloud/huaweicloud-sdk-go-v3/services/functiongraph/v2"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/services/functiongraph/v2/model"
)

// Checks shared by the Python and Node.js invocation tests. Each takes a
// function that follows the same small contract in both languages.

// reconfigure sends UpdateFunctionConfig with the function's required
// fields as they are, after mutate changed the body. Fields left out keep
// their values.
func reconfigure(t testing.TB, c *fg.FunctionGraphClient, urn string, mutate func(b *model.UpdateFunctionConfigRequestBody)) {
	t.Helper()
	cfg, err := showConfig(c, urn)
	must(t, "ShowFunctionConfig", err)
	b := &model.UpdateFunctionConfigRequestBody{
		FuncName:   deref(cfg.FuncName),
		Runtime:    updRuntime(cfg.Runtime.Value()),
		Timeout:    deref(cfg.Timeout),
		Handler:    deref(cfg.Handler),
		MemorySize: deref(cfg.MemorySize),
	}
	mutate(b)
	_, err = updateConfig(c, urn, b)
	must(t, "UpdateFunctionConfig "+deref(cfg.FuncName), err)
}

// setCode replaces a function's code with inline code.
func setCode(t testing.TB, c *fg.FunctionGraphClient, urn, filename, code string) {
	t.Helper()
	_, err := updateCode(c, urn, &model.UpdateFunctionCodeRequestBody{
		CodeType: updCodeType("inline"), CodeFilename: ptr(filename),
		FuncCode: &model.FuncCode{File: ptr(b64([]byte(code)))},
	})
	must(t, "UpdateFunctionCode", err)
}

// numIs reports whether v (a JSON number or a numeric string) is want.
func numIs(v any, want int) bool {
	switch x := v.(type) {
	case float64:
		return x == float64(want)
	case string:
		return x == strconv.Itoa(want)
	}
	return false
}

// checkSDKHappy invokes an echo function through the SDK, the way users
// call InvokeFunction.
func checkSDKHappy(t *testing.T, c *fg.FunctionGraphClient, urn string) {
	t.Helper()
	event := map[string]interface{}{"name": "conformance", "n": 1, "nested": map[string]interface{}{"list": []interface{}{1, 2}}, "text": "你好"}
	resp, err := c.InvokeFunction(&model.InvokeFunctionRequest{FunctionUrn: urn, Body: event})
	must(t, "InvokeFunction", err)
	if resp.HttpStatusCode != 200 {
		t.Errorf("InvokeFunction: HTTP %d, want 200", resp.HttpStatusCode)
	}
	if deref(resp.Status) != 200 {
		t.Errorf("InvokeFunction: status = %d, want 200 (result %s)", deref(resp.Status), deref(resp.Result))
	}
	rid := deref(resp.RequestId)
	if rid == "" {
		t.Errorf("InvokeFunction: empty request_id")
	}
	if got := deref(resp.XCffRequestId); got != rid {
		t.Errorf("InvokeFunction: X-Cff-Request-Id header %q, body request_id %q; want the same", got, rid)
	}
	if deref(resp.Log) != "" {
		t.Errorf("InvokeFunction without X-Cff-Log-Type: log = %q, want \"\"", deref(resp.Log))
	}
	var got struct {
		Event     map[string]any `json:"event"`
		RequestID string         `json:"requestId"`
	}
	if err := json.Unmarshal([]byte(deref(resp.Result)), &got); err != nil {
		t.Fatalf("InvokeFunction: result is not the JSON text of the returned object: %v: %q", err, deref(resp.Result))
	}
	var want map[string]any
	b, _ := json.Marshal(event)
	json.Unmarshal(b, &want)
	if !reflect.DeepEqual(got.Event, want) {
		t.Errorf("the function saw event %v, want %v", got.Event, want)
	}
	if got.RequestID != rid {
		t.Errorf("context.getRequestID() = %q, want the response's request_id %q", got.RequestID, rid)
	}

	// The same with the log tail and an explicit v1, as SDK users ask.
	resp, err = c.InvokeFunction(&model.InvokeFunctionRequest{FunctionUrn: urn, XCffLogType: ptr("tail"),
		XCFFRequestVersion: ptr("v1"), Body: map[string]interface{}{"name": "tail"}})
	must(t, "InvokeFunction with X-Cff-Log-Type: tail", err)
	rid = deref(resp.RequestId)
	if lg := deref(resp.Log); !strings.Contains(lg, "Start invoke request '"+rid+"'") || !strings.Contains(lg, "Finish invoke request '"+rid+"'") {
		t.Errorf("InvokeFunction with tail: log %q lacks the Start and Finish lines of request %s", lg, rid)
	}
}

// checkResultTypes checks how return values become the result: an object
// is JSON-encoded, a string is sent as it is, numbers and booleans as
// JSON; v0 sends the same text as the body. noneKinds are the events
// whose handler returns nothing (None, null, undefined).
func checkResultTypes(t *testing.T, s *Server, urn string, noneKinds ...string) {
	t.Helper()
	type row struct {
		event string
		want  string // exact text; "" with json set compares as JSON
		json  any
	}
	rows := []row{
		{event: `{"kind":"str","text":"abc {\"x\":1}"}`, want: `plain text, not JSON: abc {"x":1}`},
		{event: `{"kind":"int"}`, want: "42"},
		{event: `{"kind":"float"}`, want: "2.5"},
		{event: `{"kind":"bool"}`, want: "true"},
		{event: `{"kind":"list"}`, json: []any{1.0, "two", map[string]any{"three": 3.0}}},
		{event: `{"kind":"dict","x":"y"}`, json: nil},
	}
	for _, r := range rows {
		v1 := s.invokeOK(t, urn, r.event, nil)
		v0 := s.invokeOK(t, urn, r.event, map[string]string{"X-Cff-Request-Version": "v0"})
		if v0.Result != v1.Result && r.json == nil && r.want != "" {
			t.Errorf("event %s: v0 body %q, v1 result %q; want the same text", r.event, v0.Result, v1.Result)
		}
		switch {
		case r.want != "":
			if v1.Result != r.want {
				t.Errorf("event %s: result %q, want %q", r.event, v1.Result, r.want)
			}
			if v0.Result != r.want {
				t.Errorf("event %s: v0 body %q, want %q", r.event, v0.Result, r.want)
			}
		case r.json != nil:
			for _, got := range []string{v1.Result, v0.Result} {
				var v any
				if err := json.Unmarshal([]byte(got), &v); err != nil || !reflect.DeepEqual(v, r.json) {
					t.Errorf("event %s: result %q, want the JSON text of %v", r.event, got, r.json)
				}
			}
		default: // an object: the JSON text of what the handler returned
			for _, got := range []string{v1.Result, v0.Result} {
				var m map[string]any
				if err := json.Unmarshal([]byte(got), &m); err != nil {
					t.Errorf("event %s: result %q is not a JSON object", r.event, got)
					continue
				}
				if ev, _ := m["event"].(map[string]any); ev["x"] != "y" {
					t.Errorf("event %s: result %q does not carry the event", r.event, got)
				}
			}
		}
	}
	for _, k := range noneKinds {
		ev := `{"kind":"` + k + `"}`
		r := s.invokeOK(t, urn, ev, nil)
		if r.Result != "" && r.Result != "null" {
			t.Errorf("event %s (the handler returns nothing): result %q, want \"\" (or null)", ev, r.Result)
		}
	}
}

// checkVersions compares X-Cff-Request-Version v0, v1 and none.
func checkVersions(t *testing.T, s *Server, urn string) {
	t.Helper()
	for _, v := range []string{"", "v1"} {
		hdr := map[string]string{}
		if v != "" {
			hdr["X-Cff-Request-Version"] = v
		}
		r := s.invokeOK(t, urn, `{"kind":"str","text":"v1"}`, hdr)
		if r.Result != "plain text, not JSON: v1" || r.RequestID == "" {
			t.Errorf("version %q: %v, want the JSON envelope with result %q", v, r, "plain text, not JSON: v1")
		}
	}
	v0 := map[string]string{"X-Cff-Request-Version": "v0"}
	r := s.invokeOK(t, urn, `{"kind":"str","text":"v0"}`, v0)
	if string(r.Raw) != "plain text, not JSON: v0" {
		t.Errorf("v0: body %q, want the raw result %q", r.Raw, "plain text, not JSON: v0")
	}
	r = s.invokeOK(t, urn, `{"kind":"dict","x":"y"}`, v0)
	var m map[string]any
	if err := json.Unmarshal(r.Raw, &m); err != nil {
		t.Fatalf("v0 with an object result: body %q is not the object's JSON", r.Raw)
	}
	if _, envelope := m["request_id"]; envelope || m["event"] == nil {
		t.Errorf("v0: body %s, want the function's object itself, not the v1 envelope", r.Raw)
	}
	rid := r.Header.Get("X-Cff-Request-Id")
	if rid == "" || m["requestId"] != rid {
		t.Errorf("v0: X-Cff-Request-Id %q, context.getRequestID() %v; want the same, non-empty", rid, m["requestId"])
	}
	if r.Header.Get("X-Is-Func-Err") != "false" || r.Header.Get("X-Func-Err-Code") != "0" {
		t.Errorf("v0: X-Is-Func-Err %q X-Func-Err-Code %q, want false and 0", r.Header.Get("X-Is-Func-Err"), r.Header.Get("X-Func-Err-Code"))
	}
}

// checkTailLog checks the log tail of a function that writes want (a
// "LOGGER msg" entry is a context.getLogger().info(msg) line) and, with
// {"filler": n}, n more lines and LAST-MARKER.
func checkTailLog(t *testing.T, s *Server, urn string, want []string) {
	t.Helper()
	r := s.invokeOK(t, urn, `{}`, withTail)
	if r.Result != "logged" {
		t.Errorf("result %q, want logged", r.Result)
	}
	between := checkFramedLog(t, "tail log", r.Log, r.RequestID, 128)
	if len(between) != len(want) {
		t.Errorf("the log has %d lines between Start and Finish, want %d:\n%s", len(between), len(want), r.Log)
	} else {
		for i, w := range want {
			got := between[i]
			if msg, ok := strings.CutPrefix(w, "LOGGER "); ok {
				re := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z ` + regexp.QuoteMeta(r.RequestID) + ` INFO ` + regexp.QuoteMeta(msg) + `$`)
				if !re.MatchString(got) {
					t.Errorf("log line %d = %q, want `<UTC time> %s INFO %s`", i+1, got, r.RequestID, msg)
				}
				continue
			}
			if got != w {
				t.Errorf("log line %d = %q, want %q (output in the order written)", i+1, got, w)
			}
		}
	}
	if n := strings.Count(r.Log, "Start invoke request"); n != 1 {
		t.Errorf("the log of one request holds %d Start lines", n)
	}
	if h := r.Header.Get("X-Cff-Function-Log"); h != "" {
		if dec, err := base64.StdEncoding.DecodeString(h); err != nil || string(dec) != r.Log {
			t.Errorf("X-Cff-Function-Log is not the base64 of the log (%v)", err)
		}
	}

	// No tail: no log.
	r2 := s.invokeOK(t, urn, `{}`, nil)
	if r2.Log != "" {
		t.Errorf("without X-Cff-Log-Type: log = %q, want \"\"", clip(r2.Log, 200))
	}

	// More than 4 KB: the last 4 KB, ending with the Finish line.
	r3 := s.invokeOK(t, urn, `{"filler":100}`, withTail)
	if len(r3.Log) > 4096 || len(r3.Log) < 3000 {
		t.Errorf("a 8 KB log: tail is %d bytes, want the last 4 KB", len(r3.Log))
	}
	lines := strings.Split(strings.TrimRight(r3.Log, "\n"), "\n")
	if len(lines) < 2 || !finishLineRE.MatchString(lines[len(lines)-1]) || !strings.Contains(lines[len(lines)-1], r3.RequestID) ||
		lines[len(lines)-2] != "LAST-MARKER" {
		t.Errorf("a long log's tail does not end with LAST-MARKER and the Finish line of %s:\n...%s", r3.RequestID, clip(r3.Log[max(0, len(r3.Log)-400):], 400))
	}
	if strings.Contains(r3.Log, "first line from print") || strings.Contains(r3.Log, "filler line 00000") {
		t.Errorf("a long log's tail holds its beginning: want only the last 4 KB")
	}
	if strings.Contains(r3.Log, r.RequestID) || strings.Contains(r3.Log, r2.RequestID) {
		t.Errorf("the log of request %s holds lines of an earlier request", r3.RequestID)
	}
}

// checkHeaders checks the response headers of a call that sleeps 0.3 s.
func checkHeaders(t *testing.T, s *Server, urn string, memory int) {
	t.Helper()
	r := s.invokeOK(t, urn, `{"seconds":0.3}`, nil)
	h := r.Header
	if rid := h.Get("X-Cff-Request-Id"); rid == "" || rid != r.RequestID {
		t.Errorf("X-Cff-Request-Id %q, body request_id %q; want the same", rid, r.RequestID)
	}
	var sum map[string]json.RawMessage
	if err := json.Unmarshal([]byte(h.Get("X-Cff-Invoke-Summary")), &sum); err != nil {
		t.Fatalf("X-Cff-Invoke-Summary %q is not a JSON object: %v", h.Get("X-Cff-Invoke-Summary"), err)
	}
	num := func(k string) float64 {
		raw, ok := sum[k]
		var f float64
		if !ok || json.Unmarshal(raw, &f) != nil {
			t.Errorf("X-Cff-Invoke-Summary %s: %s is missing or not a number", h.Get("X-Cff-Invoke-Summary"), k)
		}
		return f
	}
	dur, bill, mem, used := num("duration"), num("billingDuration"), num("memorySize"), num("memoryUsed")
	if dur < 300 || dur > 10000 {
		t.Errorf("summary duration %.3f ms for a 300 ms sleep", dur)
	}
	if bill != math.Trunc(bill) || bill < math.Floor(dur) || bill > math.Ceil(dur)+1 {
		t.Errorf("summary billingDuration %v, want the duration %.3f rounded up to whole ms", bill, dur)
	}
	if int(mem) != memory {
		t.Errorf("summary memorySize %v, want %d", mem, memory)
	}
	if used <= 0 || used > float64(memory) {
		t.Errorf("summary memoryUsed %v MB, want 0 < used <= %d", used, memory)
	}
	if got := h.Get("X-Cff-Billing-Duration"); got != strconv.Itoa(int(bill)) {
		t.Errorf("X-Cff-Billing-Duration %q, summary billingDuration %v; want the same", got, bill)
	}
	if h.Get("X-Func-Err-Code") != "0" || h.Get("X-Is-Func-Err") != "false" {
		t.Errorf("X-Func-Err-Code %q X-Is-Func-Err %q, want 0 and false", h.Get("X-Func-Err-Code"), h.Get("X-Is-Func-Err"))
	}
	if r.Instance() == "" {
		t.Errorf("no X-Openfgs-Instance-Id")
	}
	if c := h.Get("X-Openfgs-Cold-Start"); c != "true" && c != "false" {
		t.Errorf("X-Openfgs-Cold-Start %q, want true or false", c)
	}
}

// checkContextEnv checks a function that reports its environment
// variables and context values.
func checkContextEnv(t *testing.T, s *Server, urn, name string, memory, timeout int, handler string) {
	t.Helper()
	r := s.invokeOK(t, urn, `{}`, nil)
	var got struct {
		Env      map[string]*string `json:"env"`
		Ctx      map[string]any     `json:"ctx"`
		Hostname string             `json:"hostname"`
		UID      *float64           `json:"uid"`
	}
	if err := json.Unmarshal([]byte(r.Result), &got); err != nil {
		t.Fatalf("report: %v: %s", err, r.Result)
	}
	cpu := memory/128*100 + 200
	wantEnv := map[string]string{
		"RUNTIME_FUNC_NAME": name, "RUNTIME_PACKAGE": "default", "RUNTIME_FUNC_VERSION": "latest",
		"RUNTIME_HANDLER": handler, "RUNTIME_TIMEOUT": strconv.Itoa(timeout), "RUNTIME_MEMORY": strconv.Itoa(memory),
		"RUNTIME_CPU": strconv.Itoa(cpu), "RUNTIME_PROJECT_ID": s.Project, "RUNTIME_CODE_ROOT": "/opt/function/code",
		"GREETING": "hello", "DB_HOST": "db.internal",
	}
	for k, w := range wantEnv {
		if g := got.Env[k]; g == nil || *g != w {
			t.Errorf("env %s = %s, want %q", k, fmtPtr(g), w)
		}
	}
	if ud := got.Env["RUNTIME_USERDATA"]; ud == nil {
		t.Errorf("env RUNTIME_USERDATA is not set")
	} else {
		sameJSON(t, "env RUNTIME_USERDATA", *ud, `{"GREETING":"hello","DB_HOST":"db.internal"}`)
	}
	ctx := got.Ctx
	if ctx["requestId"] != r.RequestID || r.RequestID != r.Header.Get("X-Cff-Request-Id") {
		t.Errorf("getRequestID() = %v, response request_id %q, X-Cff-Request-Id %q; want all the same", ctx["requestId"], r.RequestID, r.Header.Get("X-Cff-Request-Id"))
	}
	if ms, ok := ctx["remainingMs"].(float64); !ok || ms <= 0 || ms > float64(timeout*1000) {
		t.Errorf("getRemainingTimeInMilliSeconds() = %v, want 0 < x <= %d", ctx["remainingMs"], timeout*1000)
	}
	for k, w := range map[string]string{"functionName": name, "package": "default", "version": "latest", "projectId": s.Project, "greeting": "hello"} {
		if ctx[k] != w {
			t.Errorf("context %s = %#v, want %q", k, ctx[k], w)
		}
	}
	for k, w := range map[string]int{"memory": memory, "cpu": cpu, "runningTime": timeout} {
		if !numIs(ctx[k], w) {
			t.Errorf("context %s = %#v, want %d", k, ctx[k], w)
		}
	}
	if v, ok := ctx["missing"]; ok && v != nil {
		t.Errorf("getUserData of an unset key = %#v, want None/undefined", v)
	}
	if got.Hostname == "" || got.Hostname != r.Instance() {
		t.Errorf("hostname inside the function %q, X-Openfgs-Instance-Id %q; want the same", got.Hostname, r.Instance())
	}
	if got.UID == nil || *got.UID == 0 {
		t.Errorf("the function runs as uid %v, want a non-root uid", fmtPtr(got.UID))
	}
}

// checkInitOnce checks that the initializer ran once for two calls on one
// instance.
func checkInitOnce(t *testing.T, s *Server, urn, name string) {
	t.Helper()
	type state struct {
		Inits, Calls int
		PID          int
		InitFunction string
	}
	var got [2]state
	var inst [2]string
	for i := range got {
		r := s.invokeOK(t, urn, `{}`, nil)
		if err := json.Unmarshal([]byte(r.Result), &got[i]); err != nil {
			t.Fatalf("call %d: %v: %s", i+1, err, r.Result)
		}
		inst[i] = r.Instance()
	}
	if inst[0] != inst[1] || got[0].PID != got[1].PID {
		t.Fatalf("two sequential calls ran on instances %v (pids %d, %d); want one warm instance", inst, got[0].PID, got[1].PID)
	}
	if got[0].Inits != 1 || got[1].Inits != 1 {
		t.Errorf("the initializer ran %d then %d times, want once per instance", got[0].Inits, got[1].Inits)
	}
	if got[0].Calls != 1 || got[1].Calls != 2 {
		t.Errorf("the module counter says calls %d then %d, want 1 then 2", got[0].Calls, got[1].Calls)
	}
	if got[0].InitFunction != name {
		t.Errorf("context.getFunctionName() in the initializer = %q, want %q", got[0].InitFunction, name)
	}
}

// langCase holds what differs between the languages.
type langCase struct {
	lang    string // "python" or "node"
	runtime string
}

func (l *langCase) file() string {
	if l.lang == "node" {
		return "index.js"
	}
	return "index.py"
}

func (l *langCase) initHandler() string {
	if l.lang == "node" {
		return "index.initializer"
	}
	return "index.init"
}

type errCase struct {
	event    string
	code     int
	etype    string
	msg      string // errorMessage prefix
	contains string // more text errorMessage must hold
}

// checkErrors runs error cases against one function (code) and checks
// that it still answers after each.
func (l *langCase) checkErrors(t *testing.T, s *Server, c *fg.FunctionGraphClient, code string, cases map[string]errCase) {
	t.Helper()
	urn := deploy(t, c, fnSpec{Name: l.lang + "-errors", Runtime: l.runtime, Inline: code})
	for name, k := range cases {
		r := s.invoke(t, urn, k.event, withTail)
		fe := wantFuncError(t, name, r, k.code, k.etype, k.msg)
		if k.contains != "" && !strings.Contains(fe.ErrorMessage, k.contains) {
			t.Errorf("%s: errorMessage %q does not hold %q", name, fe.ErrorMessage, k.contains)
		}
		if len(fe.StackTrace) == 0 || !strings.Contains(strings.Join(fe.StackTrace, "\n"), l.file()) {
			t.Errorf("%s: stackTrace %q, want the frames of %s", name, fe.StackTrace, l.file())
		}
		between := checkFramedLog(t, name+" tail log", r.Log, r.RequestID, 128)
		if indexOf(between, "about to ") < 0 {
			t.Errorf("%s: the log lacks what the function printed before failing:\n%s", name, r.Log)
		}
		ok := s.invokeOK(t, urn, `{}`, nil)
		if m := ok.ResultJSON(t); m["ok"] != true {
			t.Errorf("%s: the call after the error: result %v", name, m)
		}
	}
}

// checkEntryErrors: a missing module, a missing function and a syntax
// error are 4001, and fixing the handler or the code fixes the function.
func (l *langCase) checkEntryErrors(t *testing.T, s *Server, c *fg.FunctionGraphClient, good, broken string) {
	t.Helper()
	check := func(what string, r invokeResult) {
		t.Helper()
		fe := wantFuncError(t, what, r, 4001, "", "")
		if !strings.Contains(fe.ErrorMessage, "function entry exception") {
			t.Errorf("%s: errorMessage %q, want it to say function entry exception", what, fe.ErrorMessage)
		}
	}
	urn := deploy(t, c, fnSpec{Name: l.lang + "-no-module", Runtime: l.runtime, Inline: good, Handler: "nomodule.handler"})
	check("handler in a missing module", s.invoke(t, urn, `{}`, nil))
	reconfigure(t, c, urn, func(b *model.UpdateFunctionConfigRequestBody) { b.Handler = "index.handler" })
	s.invokeOK(t, urn, `{"kind":"int"}`, nil)

	urn = deploy(t, c, fnSpec{Name: l.lang + "-no-function", Runtime: l.runtime, Inline: good, Handler: "index.nothere"})
	check("missing handler function", s.invoke(t, urn, `{}`, nil))

	urn = deploy(t, c, fnSpec{Name: l.lang + "-syntax", Runtime: l.runtime, Inline: broken})
	r := s.invoke(t, urn, `{}`, nil)
	check("syntax error", r)
	setCode(t, c, urn, l.file(), good)
	if r := s.invokeOK(t, urn, `{"kind":"int"}`, nil); r.Result != "42" {
		t.Errorf("after fixing the syntax error: result %q, want 42", r.Result)
	}
}

// checkCrash runs event, which kills or times out the instance, on a warm
// function and checks the error and that the next call works on a new
// instance.
func (l *langCase) checkCrash(t *testing.T, s *Server, c *fg.FunctionGraphClient, code, name, event string, memory int32, errCode int, etype string) {
	t.Helper()
	urn := deploy(t, c, fnSpec{Name: name, Runtime: l.runtime, Inline: code, Timeout: 3, Memory: memory})
	s.invokeOK(t, urn, `{}`, nil)
	r := s.invoke(t, urn, event, withTail)
	wantFuncError(t, name, r, errCode, etype, "")
	if errCode == 4010 && (r.Elapsed < 2900*time.Millisecond || r.Elapsed > 10*time.Second) {
		t.Errorf("%s: the call took %v, want about the function's timeout of 3 s", name, r.Elapsed)
	}
	between := checkFramedLog(t, name+" tail log", r.Log, r.RequestID, int(memory))
	if indexOf(between, "about to ") < 0 {
		t.Errorf("%s: the log lacks what the function printed before it failed:\n%s", name, r.Log)
	}
	next := s.invokeOK(t, urn, `{}`, nil)
	if m := next.ResultJSON(t); m["ok"] != true {
		t.Errorf("%s: the call after the failure: result %v", name, m)
	}
	if next.Instance() == r.Instance() || !next.Cold() {
		t.Errorf("%s: the call after the failure ran on instance %s (cold %v), the failed one on %s; want a new instance",
			name, next.Instance(), next.Cold(), r.Instance())
	}
}

// checkInitFails: a failing initializer is 4201 after 3 tries (the
// failing initializer takes 0.4 s, so three take at least 1.2 s); fixed
// code works.
func (l *langCase) checkInitFails(t *testing.T, s *Server, c *fg.FunctionGraphClient, failing, working string) {
	t.Helper()
	urn := deploy(t, c, fnSpec{Name: l.lang + "-init-fails", Runtime: l.runtime, Inline: failing, Init: l.initHandler(), InitTimeout: 5})
	for i := 1; i <= 2; i++ {
		r := s.invoke(t, urn, `{}`, nil)
		fe := wantFuncError(t, fmt.Sprintf("call %d with a failing initializer", i), r, 4201, "", "")
		if !strings.Contains(fe.ErrorMessage, "function initialization exception") || !strings.Contains(fe.ErrorMessage, "no database") {
			t.Errorf("errorMessage %q, want function initialization exception and the initializer's message", fe.ErrorMessage)
		}
		if i == 1 && r.Elapsed < 1150*time.Millisecond {
			t.Errorf("a 0.4 s initializer that fails: the call answered after %v, want 3 tries (>= 1.2 s)", r.Elapsed)
		}
	}
	setCode(t, c, urn, l.file(), working)
	r := s.invokeOK(t, urn, `{}`, nil)
	if m := r.ResultJSON(t); !numIs(m["inits"], 1) {
		t.Errorf("after fixing the initializer: result %v, want inits 1", m)
	}
}

// checkPayload: a ~5 MB event is accepted, more than 6 MB is 413.
func checkPayload(t *testing.T, s *Server, c *fg.FunctionGraphClient, urn string) {
	t.Helper()
	data := strings.Repeat("a", 5<<20) + "ENDMARK1"
	r := s.invokeOK(t, urn, `{"data":"`+data+`"}`, nil)
	m := r.ResultJSON(t)
	if !numIs(m["length"], len(data)) || m["tail"] != "ENDMARK1" {
		t.Errorf("a 5 MB event: the function saw length %v tail %v, want %d and ENDMARK1", m["length"], m["tail"], len(data))
	}
	big := strings.Repeat("b", 6<<20+1024)
	_, err := c.InvokeFunction(&model.InvokeFunctionRequest{FunctionUrn: urn, Body: map[string]interface{}{"data": big}})
	wantSDKError(t, "InvokeFunction with a body over 6 MB", err, 413, "FSS.1201")
	rr, err := s.invokeRawErr(urn, []byte(`{"data":"`+big+`"}`), nil)
	if err != nil {
		t.Fatalf("raw invoke over 6 MB: %v", err)
	}
	wantRawError(t, "raw invoke with a body over 6 MB", rawResp{Status: rr.HTTP, Header: rr.Header, Body: rr.Raw}, 413, "FSS.1201")
	s.invokeOK(t, urn, `{"data":"small"}`, nil)
}

// checkUpdates: new code and new configuration run on the next call, and
// a call in flight during an update finishes on the old code.
func checkUpdates(t *testing.T, s *Server, c *fg.FunctionGraphClient, name, runtime string, codeFor func(v int) string) {
	t.Helper()
	file := "index.py"
	if strings.HasPrefix(runtime, "Node.js") {
		file = "index.js"
	}
	urn := deploy(t, c, fnSpec{Name: name, Runtime: runtime, Inline: codeFor(1), UserData: `{"COLOR":"blue"}`})
	type res struct {
		Version int     `json:"version"`
		Color   *string `json:"color"`
	}
	call := func(event string) (res, invokeResult) {
		t.Helper()
		r := s.invokeOK(t, urn, event, nil)
		var v res
		if err := json.Unmarshal([]byte(r.Result), &v); err != nil {
			t.Fatalf("%v: %s", err, r.Result)
		}
		return v, r
	}
	want := func(what string, got res, version int, color string) {
		t.Helper()
		if got.Version != version || got.Color == nil || *got.Color != color {
			t.Errorf("%s: version %d color %s, want %d and %q", what, got.Version, fmtPtr(got.Color), version, color)
		}
	}
	v, r1 := call(`{}`)
	want("first call", v, 1, "blue")
	v, r2 := call(`{}`)
	want("second call", v, 1, "blue")
	if r1.Instance() != r2.Instance() || r2.Cold() {
		t.Errorf("the second call ran on %s (cold %v), the first on %s; want the warm instance reused", r2.Instance(), r2.Cold(), r1.Instance())
	}

	setCode(t, c, urn, file, codeFor(2))
	v, _ = call(`{}`)
	want("after UpdateFunctionCode", v, 2, "blue")

	reconfigure(t, c, urn, func(b *model.UpdateFunctionConfigRequestBody) { b.UserData = ptr(`{"COLOR":"green"}`) })
	v, _ = call(`{}`)
	want("after UpdateFunctionConfig user_data", v, 2, "green")

	// A call in flight while the code changes finishes on the old code.
	type out struct {
		v res
		r invokeResult
	}
	done := make(chan out, 1)
	go func() {
		r, err := s.invokeRawErr(urn, []byte(`{"seconds":2}`), nil)
		var v res
		if err == nil {
			json.Unmarshal([]byte(r.Result), &v)
		}
		done <- out{v, r}
	}()
	time.Sleep(700 * time.Millisecond)
	setCode(t, c, urn, file, codeFor(3))
	v, rNew := call(`{}`)
	want("a call after UpdateFunctionCode while another runs", v, 3, "green")
	old := <-done
	if old.r.HTTP != 200 || old.r.Status != 200 {
		t.Fatalf("the call in flight during UpdateFunctionCode: %v, want it to finish", old.r)
	}
	want("the call in flight during UpdateFunctionCode", old.v, 2, "green")
	if old.r.Instance() == rNew.Instance() {
		t.Errorf("old and new code ran on the same instance %s", rNew.Instance())
	}
}
