package api

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/openfgs/openfgs/internal/fgs"
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
		return fgs.Errorf(fgs.Unavailable, "FSS.0503", "this server does not run functions")
	}
	_, f, err := s.lookup(r, c)
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
	h := w.Header()
	billing := (res.Duration.Microseconds() + 999) / 1000
	h.Set("X-Cff-Request-Id", c.ID)
	h.Set("X-Cff-Billing-Duration", strconv.FormatInt(billing, 10))
	h.Set("X-Cff-Invoke-Summary", fmt.Sprintf(`{"duration":%.3f,"billingDuration":%d,"memorySize":%d,"memoryUsed":%.3f}`,
		float64(res.Duration.Microseconds())/1000, billing, f.MemorySize, res.MemoryMB))
	h.Set("X-Cff-Response-Version", version)
	// openfgs extensions: which instance ran it, and whether it was started
	// for this request.
	h.Set("X-Openfgs-Instance-Id", res.InstanceID)
	h.Set("X-Openfgs-Cold-Start", strconv.FormatBool(res.Cold))
	status := 200
	if res.Error != nil {
		status = 500
		h.Set("X-Is-Func-Err", "true")
		h.Set("X-Func-Err-Code", strconv.Itoa(res.Error.Code))
	} else {
		h.Set("X-Is-Func-Err", "false")
		h.Set("X-Func-Err-Code", "0")
	}
	logText := ""
	if tail {
		lg := res.Log
		if len(lg) > tailBytes {
			lg = lg[len(lg)-tailBytes:]
		}
		logText = string(lg)
		h.Set("X-Cff-Function-Log", base64.StdEncoding.EncodeToString(lg))
	}
	if version == "v0" {
		ct := "text/plain; charset=utf-8"
		if json.Valid(res.Body) {
			ct = "application/json"
		}
		h.Set("Content-Type", ct)
		h.Set("Content-Length", strconv.Itoa(len(res.Body)))
		w.WriteHeader(http.StatusOK)
		w.Write(res.Body)
		return nil
	}
	writeJSON(w, http.StatusOK, struct {
		RequestID string `json:"request_id"`
		Result    string `json:"result"`
		Log       string `json:"log"`
		Status    int    `json:"status"`
	}{c.ID, string(res.Body), logText, status})
	return nil
}
