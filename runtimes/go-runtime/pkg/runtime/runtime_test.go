package runtime

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/rpc"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"huaweicloud.com/go-runtime/go-api/context"
	"huaweicloud.com/go-runtime/pkg/runtime/common"
)

// start serves h on a loopback port and returns an rpc client for it.
func start(t *testing.T, h Handler, env *environment) *rpc.Client {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go serve(ln, h, env)
	t.Cleanup(func() { ln.Close() })
	c, err := rpc.DialHTTP("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func testEnv() *environment {
	return &environment{
		projectID: "p1", name: "hello", version: "v2", pkg: "default", alias: "",
		timeout: 7, memory: 256, cpu: 400, maxResponse: 100,
		userData: map[string]string{"GREETING": "hi"},
	}
}

func invoke(c *rpc.Client, payload string, h http.Header) (string, error) {
	var resp common.InvokeResponse
	err := c.Call("Function.Invoke", &common.InvokeRequest{Payload: []byte(payload), Header: h}, &resp)
	return string(resp.Payload), err
}

func funcErr(t *testing.T, err error) common.Error {
	t.Helper()
	var se rpc.ServerError
	if !errors.As(err, &se) {
		t.Fatalf("error = %v (%T), want an rpc.ServerError", err, err)
	}
	var e common.Error
	if err := json.Unmarshal([]byte(se), &e); err != nil {
		t.Fatalf("error %q is not JSON: %v", se, err)
	}
	return e
}

func TestResults(t *testing.T) {
	c := start(t, func(payload []byte, ctx context.RuntimeContext) (interface{}, error) {
		switch string(payload) {
		case "map":
			return map[string]int{"a": 1}, nil
		case "string":
			return "plain text", nil
		case "bytes":
			return []byte{'r', 'a', 'w'}, nil
		case "nil":
			return nil, nil
		case "error":
			return "ignored", errors.New("bad input")
		case "big":
			return strings.Repeat("x", 101), nil
		case "limit":
			return strings.Repeat("x", 100), nil
		case "panic":
			var m map[string]int
			m["boom"] = 1
		case "panicValue":
			panic("custom panic")
		}
		return payload, nil
	}, testEnv())

	for _, tc := range []struct{ in, want string }{
		{"map", `{"a":1}`}, {"string", "plain text"}, {"bytes", "raw"}, {"echo", "echo"},
		{"limit", strings.Repeat("x", 100)},
	} {
		got, err := invoke(c, tc.in, nil)
		if err != nil || got != tc.want {
			t.Errorf("%s: got %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}

	_, err := invoke(c, "error", nil)
	if e := funcErr(t, err); e.ErrorType != common.TypeReturn || e.ErrorMessage != "bad input" || e.StackTrace != nil {
		t.Errorf("error: %+v", e)
	}
	_, err = invoke(c, "nil", nil)
	if e := funcErr(t, err); e.ErrorType != common.TypeReturn || e.ErrorMessage != "response is empty" {
		t.Errorf("nil: %+v", e)
	}
	_, err = invoke(c, "big", nil)
	if e := funcErr(t, err); e.ErrorType != common.TypeTooLarge || e.ErrorMessage != "Response body size '101' larger than max value '100'." {
		t.Errorf("big: %+v", e)
	}

	var out bytes.Buffer
	stdoutMu.Lock()
	stdout = &out
	stdoutMu.Unlock()
	defer func() { stdout = io.Discard }()
	_, err = invoke(c, "panic", http.Header{"X-Cff-Request-Id": {"rid-p"}})
	e := funcErr(t, err)
	if e.ErrorType != common.TypePanic || !strings.Contains(e.ErrorMessage, "nil map") {
		t.Errorf("panic: %+v", e)
	}
	if len(e.StackTrace) < 2 || !strings.HasSuffix(e.StackTrace[0], "()") || !strings.Contains(e.StackTrace[1], "runtime_test.go:") {
		t.Errorf("panic stack = %q, want the handler's frame first", e.StackTrace)
	}
	t.Logf("panic stack: %q", e.StackTrace)
	if len(e.StackTrace) > 2*maxStackFrames {
		t.Errorf("panic stack has %d lines", len(e.StackTrace))
	}
	stdoutMu.Lock()
	printed := out.String()
	stdoutMu.Unlock()
	if !strings.Contains(printed, "rid-p panic: assignment to entry in nil map") || !strings.Contains(printed, "runtime_test.go:") {
		t.Errorf("stdout after the panic = %q", printed)
	}
	_, err = invoke(c, "panicValue", nil)
	if e := funcErr(t, err); e.ErrorType != common.TypePanic || e.ErrorMessage != "custom panic" {
		t.Errorf("panicValue: %+v", e)
	}
	// The server survives panics.
	if got, err := invoke(c, "string", nil); err != nil || got != "plain text" {
		t.Errorf("after panics: %q, %v", got, err)
	}
	// Async invocations return nothing.
	if got, err := invoke(c, "string", http.Header{"X-Cff-Invoke-Type": {"async"}}); err != nil || got != "" {
		t.Errorf("async: %q, %v", got, err)
	}
}

func TestContext(t *testing.T) {
	env := testEnv()
	env.maxResponse = DefaultMaxResponseBytes
	c := start(t, func(payload []byte, ctx context.RuntimeContext) (interface{}, error) {
		ctx.GetLogger().Logf("hello %s", "log")
		return map[string]interface{}{
			"requestID": ctx.GetRequestID(), "remaining": ctx.GetRemainingTimeInMilliSeconds(),
			"ak": ctx.GetAccessKey(), "sk": ctx.GetSecretKey(), "sak": ctx.GetSecurityAccessKey(),
			"ssk": ctx.GetSecuritySecretKey(), "st": ctx.GetSecurityToken(), "token": ctx.GetToken(),
			"greeting": ctx.GetUserData("GREETING"), "missing": ctx.GetUserData("NOPE"),
			"name": ctx.GetFunctionName(), "running": ctx.GetRunningTimeInSeconds(), "version": ctx.GetVersion(),
			"memory": ctx.GetMemorySize(), "cpu": ctx.GetCPUNumber(), "package": ctx.GetPackage(),
			"project": ctx.GetProjectID(), "alias": ctx.GetAlias(),
		}, nil
	}, env)
	var out bytes.Buffer
	stdoutMu.Lock()
	stdout = &out
	stdoutMu.Unlock()

	h := http.Header{}
	// Canonical and FunctionGraph spellings both work.
	h.Set("X-CFF-Request-Id", "rid-1")
	h["X-CFF-Access-Key"] = []string{"ak"}
	h.Set("X-CFF-Secret-Key", "sk")
	h.Set("X-CFF-Security-Access-Key", "sak")
	h.Set("X-CFF-Security-Secret-Key", "ssk")
	h.Set("X-CFF-Security-Token", "st")
	h.Set("X-CFF-Auth-Token", "tok")
	h.Set("X-Cff-Origin-Version-Tag", "!prod")
	h.Set(common.HeaderDeadline, strconv.FormatInt(time.Now().Add(2*time.Second).UnixMilli(), 10))
	got, err := invoke(c, "{}", h)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]interface{}
	if err := json.Unmarshal([]byte(got), &m); err != nil {
		t.Fatal(err)
	}
	want := map[string]interface{}{
		"requestID": "rid-1", "ak": "ak", "sk": "sk", "sak": "sak", "ssk": "ssk", "st": "st", "token": "tok",
		"greeting": "hi", "missing": "", "name": "hello", "running": 7.0, "version": "v2", "memory": 256.0,
		"cpu": 400.0, "package": "default", "project": "p1", "alias": "prod",
	}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s = %#v, want %#v", k, m[k], v)
		}
	}
	if r := m["remaining"].(float64); r <= 1000 || r > 2000 {
		t.Errorf("remaining = %v, want in (1000, 2000]", r)
	}
	// Without a deadline header: the timeout from the start of the call.
	got, _ = invoke(c, "{}", nil)
	json.Unmarshal([]byte(got), &m)
	if r := m["remaining"].(float64); r <= 6000 || r > 7000 {
		t.Errorf("remaining without a deadline = %v, want in (6000, 7000]", r)
	}
	stdoutMu.Lock()
	log := out.String()
	stdout = io.Discard
	stdoutMu.Unlock()
	line := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z rid-1 hello log$`)
	if first, _, _ := strings.Cut(log, "\n"); !line.MatchString(first) {
		t.Errorf("log line = %q", first)
	}
}

func TestConcurrent(t *testing.T) {
	c := start(t, func(payload []byte, ctx context.RuntimeContext) (interface{}, error) {
		time.Sleep(200 * time.Millisecond)
		return ctx.GetRequestID(), nil
	}, testEnv())
	var wg sync.WaitGroup
	begin := time.Now()
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := "r" + strconv.Itoa(i)
			got, err := invoke(c, "", http.Header{"X-Cff-Request-Id": {id}})
			if err != nil || got != id {
				t.Errorf("call %d: %q, %v", i, got, err)
			}
		}()
	}
	wg.Wait()
	if d := time.Since(begin); d > time.Second {
		t.Errorf("8 concurrent 200 ms calls took %v", d)
	}
}
