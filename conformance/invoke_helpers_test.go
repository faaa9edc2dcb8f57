package conformance

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	fg "github.com/huaweicloud/huaweicloud-sdk-go-v3/services/functiongraph/v2"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/services/functiongraph/v2/model"
)

// Helpers of the invocation tests (spec 5.1.1, runtime-contract.md §1.2,
// §2, §3, §6).

// invokeClient sends invocations with longer timeouts than rawClient: a
// timeout test waits for the function's own timeout.
var invokeClient = &http.Client{Timeout: 60 * time.Second}

// invokeResult is one synchronous invocation as seen on the wire.
type invokeResult struct {
	HTTP   int
	Header http.Header
	Raw    []byte // the response body as sent

	// The v1 body (when HTTP is 200 and the version is v1).
	RequestID string
	Result    string
	Log       string
	Status    int
	Elapsed   time.Duration
}

func (r invokeResult) String() string {
	return fmt.Sprintf("HTTP %d instance=%s cold=%s err=%s/%s body=%s", r.HTTP, r.Instance(), r.Header.Get("X-Openfgs-Cold-Start"),
		r.Header.Get("X-Is-Func-Err"), r.Header.Get("X-Func-Err-Code"), clip(string(r.Raw), 600))
}

// Instance is the X-Openfgs-Instance-Id header.
func (r invokeResult) Instance() string { return r.Header.Get("X-Openfgs-Instance-Id") }

// Cold reports X-Openfgs-Cold-Start: true.
func (r invokeResult) Cold() bool { return r.Header.Get("X-Openfgs-Cold-Start") == "true" }

// ResultJSON decodes the result field (or the v0 body) as a JSON object.
func (r invokeResult) ResultJSON(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(r.Result), &m); err != nil {
		t.Fatalf("result is not a JSON object: %v\n%s", err, r)
	}
	return m
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + fmt.Sprintf("...(%d bytes)", len(s))
}

// invokeRawErr sends a signed POST .../invocations with the event body and
// the given headers (signed, as the SDK signs them) and returns what came
// back. The v1 body is decoded when the response is a 200 JSON object.
func (s *Server) invokeRawErr(urn string, event []byte, hdr map[string]string) (invokeResult, error) {
	return s.invokeAs(s.Cred(), urn, event, hdr)
}

// invokeAs is invokeRawErr in c's project, signed with c.
func (s *Server) invokeAs(c cred, urn string, event []byte, hdr map[string]string) (invokeResult, error) {
	req, err := http.NewRequest("POST", s.URL+"/v2/"+c.Project+"/fgs/functions/"+urn+"/invocations", strings.NewReader(string(event)))
	if err != nil {
		return invokeResult{}, err
	}
	req.Header.Set("User-Agent", userAgent+"-invoke")
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Project-Id", c.Project)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	signHMACSHA256(req, event, c.AK, c.SK, time.Now())
	start := time.Now()
	resp, err := invokeClient.Do(req)
	if err != nil {
		return invokeResult{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return invokeResult{}, err
	}
	r := invokeResult{HTTP: resp.StatusCode, Header: resp.Header, Raw: body, Elapsed: time.Since(start)}
	if r.HTTP == 200 && !strings.EqualFold(hdr["X-Cff-Request-Version"], "v0") {
		var v struct {
			RequestID *string `json:"request_id"`
			Result    *string `json:"result"`
			Log       *string `json:"log"`
			Status    *int    `json:"status"`
		}
		if err := json.Unmarshal(r.Raw, &v); err != nil {
			return r, fmt.Errorf("v1 body is not {request_id, result, log, status}: %v: %s", err, clip(string(r.Raw), 300))
		}
		if v.RequestID == nil || v.Result == nil || v.Log == nil || v.Status == nil {
			return r, fmt.Errorf("v1 body lacks one of request_id (string), result (string), log (string), status (int): %s", clip(string(r.Raw), 300))
		}
		r.RequestID, r.Result, r.Log, r.Status = *v.RequestID, *v.Result, *v.Log, *v.Status
	} else if r.HTTP == 200 {
		r.Result = string(r.Raw)
	}
	return r, nil
}

// invoke is invokeRawErr that fails the test on a transport or body-shape
// error.
func (s *Server) invoke(t testing.TB, urn string, event string, hdr map[string]string) invokeResult {
	t.Helper()
	r, err := s.invokeRawErr(urn, []byte(event), hdr)
	if err != nil {
		t.Fatalf("invoke %s: %v", urn, err)
	}
	return r
}

// invokeOK invokes and requires HTTP 200, status 200, X-Is-Func-Err false.
func (s *Server) invokeOK(t testing.TB, urn string, event string, hdr map[string]string) invokeResult {
	t.Helper()
	r := s.invoke(t, urn, event, hdr)
	if r.HTTP != 200 || (r.Status != 200 && !strings.EqualFold(hdr["X-Cff-Request-Version"], "v0")) || r.Header.Get("X-Is-Func-Err") != "false" {
		t.Fatalf("invoke %s %s: %v; want HTTP 200, status 200, X-Is-Func-Err false", urn, clip(event, 80), r)
	}
	return r
}

var withTail = map[string]string{"X-Cff-Log-Type": "tail"}

// funcError is the result of a failed invocation.
type funcError struct {
	ErrorMessage string   `json:"errorMessage"`
	ErrorType    string   `json:"errorType"`
	StackTrace   []string `json:"stackTrace"`
}

// wantFuncError checks a failure of the function: HTTP 200, body status
// 500, X-Is-Func-Err true, X-Func-Err-Code code, and a result holding
// {errorMessage, errorType[, stackTrace]}. A negative code accepts any
// non-zero X-Func-Err-Code. msgPrefix and etype are checked
// when not empty.
func wantFuncError(t testing.TB, what string, r invokeResult, code int, etype, msgPrefix string) funcError {
	t.Helper()
	var fe funcError
	if r.HTTP != 200 {
		t.Errorf("%s: %v; a failure of the function must be HTTP 200 with status 500 in the body", what, r)
		return fe
	}
	if r.Status != 500 {
		t.Errorf("%s: body status = %d, want 500 (%v)", what, r.Status, r)
	}
	if got := r.Header.Get("X-Is-Func-Err"); got != "true" {
		t.Errorf("%s: X-Is-Func-Err = %q, want true", what, got)
	}
	if got := r.Header.Get("X-Func-Err-Code"); code < 0 && (got == "" || got == "0") {
		t.Errorf("%s: X-Func-Err-Code = %q, want a non-zero code", what, got)
	} else if got != strconv.Itoa(code) && code >= 0 {
		t.Errorf("%s: X-Func-Err-Code = %q, want %d (%v)", what, got, code, r)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(r.Result), &raw); err != nil {
		t.Errorf("%s: result is not a JSON object: %v: %q", what, err, clip(r.Result, 400))
		return fe
	}
	if err := json.Unmarshal([]byte(r.Result), &fe); err != nil {
		t.Errorf("%s: result %s: %v (want errorMessage string, errorType string, stackTrace [string])", what, clip(r.Result, 400), err)
	}
	// stackTrace is there when the function threw (checked by the
	// callers); a timeout or a crash has none.
	for _, k := range []string{"errorMessage", "errorType"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("%s: result lacks %q: %s", what, k, clip(r.Result, 400))
		}
	}
	if fe.ErrorMessage == "" || fe.ErrorType == "" {
		t.Errorf("%s: empty errorMessage or errorType: %s", what, clip(r.Result, 400))
	}
	if etype != "" && fe.ErrorType != etype {
		t.Errorf("%s: errorType = %q, want %q (result %s)", what, fe.ErrorType, etype, clip(r.Result, 400))
	}
	if msgPrefix != "" && !strings.HasPrefix(fe.ErrorMessage, msgPrefix) {
		t.Errorf("%s: errorMessage = %q, want it to start with %q", what, fe.ErrorMessage, msgPrefix)
	}
	return fe
}

// ---- creating functions to invoke

// fnSpec is a function to create for an invocation test.
type fnSpec struct {
	Name, Runtime, Handler string
	Files                  map[string]string // zip package; or one file with Inline
	Inline                 string            // inline code (code_filename from InlineName)
	InlineName             string
	Memory, Timeout        int32
	UserData               string
	Init                   string // initializer_handler
	InitTimeout            int32
	MaxInstances           *int32 // strategy_config.concurrency
	ConcurrentNum          int32  // strategy_config.concurrent_num
}

// deploy creates the function described by f and returns its URN.
func deploy(t testing.TB, c *fg.FunctionGraphClient, f fnSpec) string {
	t.Helper()
	b := &model.CreateFunctionRequestBody{
		FuncName: f.Name, Package: "default", Runtime: runtimeOf(f.Runtime), Handler: f.Handler,
		Timeout: f.Timeout, MemorySize: f.Memory,
	}
	if b.Handler == "" {
		b.Handler = "index.handler"
	}
	if b.Timeout == 0 {
		b.Timeout = 30
	}
	if b.MemorySize == 0 {
		b.MemorySize = 128
	}
	if f.Files != nil {
		b.CodeType = codeType("zip")
		b.CodeFilename = ptr("code.zip")
		b.FuncCode = &model.FuncCode{File: ptr(b64(zipFiles(t, f.Files)))}
	} else {
		b.CodeType = codeType("inline")
		name := f.InlineName
		if name == "" {
			name = "index.py"
			if strings.HasPrefix(f.Runtime, "Node.js") {
				name = "index.js"
			}
		}
		b.CodeFilename = ptr(name)
		b.FuncCode = &model.FuncCode{File: ptr(b64([]byte(f.Inline)))}
	}
	if f.UserData != "" {
		b.UserData = ptr(f.UserData)
	}
	if f.Init != "" {
		b.InitializerHandler = ptr(f.Init)
		it := f.InitTimeout
		if it == 0 {
			it = 10
		}
		b.InitializerTimeout = ptr(it)
	}
	r := mustCreate(t, c, b)
	urn := deref(r.FuncUrn)
	if f.MaxInstances != nil || f.ConcurrentNum != 0 {
		// CreateFunction has no strategy_config: users set it with
		// UpdateFunctionConfig.
		conc, num := int32(400), int32(1)
		if f.MaxInstances != nil {
			conc = *f.MaxInstances
		}
		if f.ConcurrentNum != 0 {
			num = f.ConcurrentNum
		}
		setStrategy(t, c, urn, conc, num)
	}
	return urn
}

// setStrategy sets strategy_config through UpdateFunctionConfig, keeping
// the rest of the function's configuration.
func setStrategy(t testing.TB, c *fg.FunctionGraphClient, urn string, concurrency, concurrentNum int32) {
	t.Helper()
	reconfigure(t, c, urn, func(b *model.UpdateFunctionConfigRequestBody) {
		b.StrategyConfig = &model.StrategyConfig{Concurrency: concurrency, ConcurrentNum: concurrentNum}
	})
}

// ---- availability of a runtime

// runtimeMissing creates a function of rt (with code that must not matter)
// and invokes it once: when the server answers 503 FSS.0503 the runtime is
// not available on this node and the returned message says why.
func runtimeMissing(t testing.TB, s *Server, urn string) (string, bool) {
	t.Helper()
	r, err := s.invokeRawErr(urn, []byte(`{"probe":true}`), nil)
	if err != nil {
		return "", false
	}
	if r.HTTP != 503 {
		return "", false
	}
	var e struct {
		Code string `json:"error_code"`
		Msg  string `json:"error_msg"`
	}
	if json.Unmarshal(r.Raw, &e) != nil || e.Code != "FSS.0503" {
		return "", false
	}
	return e.Msg, true
}

// ---- concurrency

// parallel runs n calls of f at once and returns their results in order.
func parallel[T any](n int, f func(i int) T) []T {
	out := make([]T, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			out[i] = f(i)
		}()
	}
	close(start)
	wg.Wait()
	return out
}

// ---- logs

// startLine and finishLine are the platform's lines around a request's
// output in the tail log (runtime-contract.md §6.1).
var (
	startLineRE  = regexp.MustCompile(`^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z) Start invoke request '([^']+)', version: (\S+)$`)
	finishLineRE = regexp.MustCompile(`^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z) Finish invoke request '([^']+)', duration: \d+\.\d{3}ms, billing duration: \d+ms, memory used: \d+\.\d{3}MB, billing memory: (\d+)MB`)
)

// checkFramedLog checks that log starts with the Start line and ends with
// the Finish line of request id, with UTC timestamps near now, and returns
// the lines between them.
func checkFramedLog(t testing.TB, what, log, id string, memory int) []string {
	t.Helper()
	lines := strings.Split(strings.TrimRight(log, "\n"), "\n")
	if len(lines) < 2 {
		t.Errorf("%s: log has %d line(s), want Start and Finish lines at least:\n%s", what, len(lines), log)
		return nil
	}
	first, last := lines[0], lines[len(lines)-1]
	m := startLineRE.FindStringSubmatch(first)
	if m == nil {
		t.Errorf("%s: first log line %q, want `<UTC time> Start invoke request '<id>', version: latest`", what, first)
	} else {
		if m[3] != id {
			t.Errorf("%s: Start line names request %q, want %q", what, m[3], id)
		}
		if m[4] != "latest" {
			t.Errorf("%s: Start line version %q, want latest", what, m[4])
		}
		checkLogTime(t, what+" Start line", m[1])
	}
	m = finishLineRE.FindStringSubmatch(last)
	if m == nil {
		t.Errorf("%s: last log line %q, want `<UTC time> Finish invoke request '<id>', duration: N.NNNms, billing duration: Nms, memory used: N.NNNMB, billing memory: NMB`", what, last)
	} else {
		if m[3] != id {
			t.Errorf("%s: Finish line names request %q, want %q", what, m[3], id)
		}
		if m[4] != strconv.Itoa(memory) {
			t.Errorf("%s: Finish line billing memory %sMB, want %dMB", what, m[4], memory)
		}
		checkLogTime(t, what+" Finish line", m[1])
	}
	return lines[1 : len(lines)-1]
}

func checkLogTime(t testing.TB, what, ts string) {
	t.Helper()
	tm, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		t.Errorf("%s: time %q: %v", what, ts, err)
		return
	}
	if d := time.Since(tm); d > 2*time.Minute || d < -2*time.Minute {
		t.Errorf("%s: time %s is %v away from now (want UTC)", what, ts, d)
	}
}

// indexOf returns the index of the first line containing sub, or -1.
func indexOf(lines []string, sub string) int {
	for i, l := range lines {
		if strings.Contains(l, sub) {
			return i
		}
	}
	return -1
}
