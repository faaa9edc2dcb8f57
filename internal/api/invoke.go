package api

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/openfgs/openfgs/internal/fgs"
	"github.com/openfgs/openfgs/internal/jsonstr"
)

// maxInvokeBody is the largest synchronous request payload (6 MB).
const maxInvokeBody = 6 << 20

// tailBytes is how much log X-Cff-Log-Type: tail returns.
const tailBytes = 4 << 10

// invokeFunction runs a function synchronously (spec 5.1.1).
//
// The response for X-Cff-Request-Version v1 (the default) is the JSON
// {request_id, result, log, status}; for v0 it is the result itself. A
// failure of the function is not an API error: it is answered with 200,
// status 500 in the body, X-Is-Func-Err: true and its X-Func-Err-Code, so
// the SDK hands the caller the error body and the log.
func (s *Server) invokeFunction(w http.ResponseWriter, r *http.Request, c *call) error {
	if s.Invoker == nil {
		return fss(fgs.Unavailable, "FSS.0503", "this server does not run functions")
	}
	f, err := s.resolve(r, c)
	if err != nil {
		return err
	}
	version := strings.ToLower(r.Header.Get("X-Cff-Request-Version"))
	if version == "" {
		version = "v1"
	}
	if version != "v0" && version != "v1" {
		return invalid("FSS.0400", "X-Cff-Request-Version must be v0 or v1")
	}
	tail := strings.EqualFold(r.Header.Get("X-Cff-Log-Type"), "tail")
	if m := r.Header.Get("X-Cff-Instance-Memory"); m != "" && m != strconv.Itoa(int(f.MemorySize)) {
		return invalid("FSS.0400", "X-Cff-Instance-Memory %q is not supported: instances have the function's memory_size (%d MB)", trimForMsg(m), f.MemorySize)
	}
	event := c.Body
	if event == nil {
		event = []byte("{}")
	}
	res, err := s.Invoker.Invoke(r.Context(), &fgs.Invocation{
		Function:  f,
		RequestID: c.ID,
		Event:     event,
		Headers: map[string]string{
			"X-Cff-Request-Id":  c.ID,
			"X-Cff-Invoke-Type": "sync",
		},
	})
	if err != nil {
		return err
	}
	// Header keys are written in canonical form directly: this is the
	// invocation hot path, and Set would canonicalize each one again.
	h := w.Header()
	billing := (res.Duration.Microseconds() + 999) / 1000
	// One backing array for the values that vary (an allocation each
	// was a fifth of the API's); constant values share theirs.
	vals := [...]string{c.ID, strconv.FormatInt(billing, 10), invokeSummary(res, billing, f.MemorySize), res.InstanceID}
	h["X-Cff-Request-Id"] = vals[0:1:1]
	h["X-Cff-Billing-Duration"] = vals[1:2:2]
	h["X-Cff-Invoke-Summary"] = vals[2:3:3]
	h["X-Cff-Response-Version"] = hdrV1
	if version == "v0" {
		h["X-Cff-Response-Version"] = hdrV0
	}
	// openfgs extensions: which instance ran it, and whether it was started
	// for this request.
	h["X-Openfgs-Instance-Id"] = vals[3:4:4]
	h["X-Openfgs-Cold-Start"] = hdrFalse
	if res.Cold {
		h["X-Openfgs-Cold-Start"] = hdrTrue
	}
	status := 200
	if res.Error != nil {
		status = 500
		h["X-Is-Func-Err"] = hdrTrue
		h["X-Func-Err-Code"] = []string{strconv.Itoa(res.Error.Code)}
	} else {
		h["X-Is-Func-Err"] = hdrFalse
		h["X-Func-Err-Code"] = hdrZero
	}
	var lg []byte
	if tail {
		lg = res.Log
		if len(lg) > tailBytes {
			lg = lg[len(lg)-tailBytes:]
		}
		h["X-Cff-Function-Log"] = []string{base64.StdEncoding.EncodeToString(lg)}
	}
	if version == "v0" {
		ct := "text/plain; charset=utf-8"
		if json.Valid(res.Body) {
			ct = "application/json"
		}
		h["Content-Type"] = []string{ct}
		h["Content-Length"] = []string{strconv.Itoa(len(res.Body))}
		w.WriteHeader(http.StatusOK)
		w.Write(res.Body)
		return nil
	}
	writeRaw(w, http.StatusOK, invokeBody(c.ID, res.Body, lg, status))
	return nil
}

// Header values that never change, shared by every response (net/http
// does not modify header values).
var (
	hdrV0    = []string{"v0"}
	hdrV1    = []string{"v1"}
	hdrTrue  = []string{"true"}
	hdrFalse = []string{"false"}
	hdrZero  = []string{"0"}
)

// invokeSummary is X-Cff-Invoke-Summary: durations in ms, memory in MB.
func invokeSummary(res *fgs.InvocationResult, billing int64, memorySize int32) string {
	b := make([]byte, 0, 96)
	b = append(b, `{"duration":`...)
	b = strconv.AppendFloat(b, float64(res.Duration.Microseconds())/1000, 'f', 3, 64)
	b = append(b, `,"billingDuration":`...)
	b = strconv.AppendInt(b, billing, 10)
	b = append(b, `,"memorySize":`...)
	b = strconv.AppendInt(b, int64(memorySize), 10)
	b = append(b, `,"memoryUsed":`...)
	b = strconv.AppendFloat(b, res.MemoryMB, 'f', 3, 64)
	b = append(b, '}')
	return string(b)
}

// invokeBody is the v1 response: {"request_id","result","log","status"}.
func invokeBody(id string, result, log []byte, status int) []byte {
	b := make([]byte, 0, len(result)+len(log)+len(id)+64)
	b = append(b, `{"request_id":`...)
	b = jsonstr.Append(b, id)
	b = append(b, `,"result":`...)
	b = jsonstr.Append(b, result)
	b = append(b, `,"log":`...)
	b = jsonstr.Append(b, log)
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(status), 10)
	return append(b, '}')
}
