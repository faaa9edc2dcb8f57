package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/openfgs/openfgs/internal/fgs"
)

// fssStatus is the HTTP status of each FSS code the API answers with, from
// table 6.2 of the API reference.
var fssStatus = map[string]int{
	"FSS.0400": 400, "FSS.0401": 401, "FSS.0403": 403, "FSS.0404": 404,
	"FSS.0405": 405, "FSS.0406": 406, "FSS.0408": 408, "FSS.0409": 409,
	"FSS.0413": 413, "FSS.0429": 429, "FSS.0504": 504, "FSS.0500": 500, "FSS.0503": 503,
	"FSS.1001": 400, "FSS.1002": 400, "FSS.1003": 400, "FSS.1004": 400,
	"FSS.1005": 400, "FSS.1006": 400, "FSS.1007": 400, "FSS.1008": 400,
	"FSS.1009": 400, "FSS.1011": 400, "FSS.1012": 400, "FSS.1013": 400,
	"FSS.1014": 400, "FSS.1015": 400, "FSS.1017": 400, "FSS.1018": 400,
	"FSS.1019": 400, "FSS.1026": 400, "FSS.1039": 400, "FSS.1041": 403,
	"FSS.1042": 403, "FSS.1049": 403, "FSS.1051": 404, "FSS.1052": 404,
	"FSS.1053": 404, "FSS.1056": 404, "FSS.1061": 409, "FSS.1071": 413, "FSS.1072": 413,
	"FSS.1075": 400, "FSS.1201": 413, "FSS.1309": 400, "FSS.1404": 400,
	"FSS.1405": 400, "FSS.1034": 400,
}

// kindCode is the code of an error that carries only a Kind.
var kindCode = map[fgs.Kind]string{
	fgs.Invalid:      "FSS.0400",
	fgs.NotFound:     "FSS.0404",
	fgs.Exists:       "FSS.0409",
	fgs.Forbidden:    "FSS.0403",
	fgs.Unauthorized: "FSS.0401",
	fgs.Quota:        "FSS.0403",
	fgs.TooLarge:     "FSS.0413",
	fgs.Unavailable:  "FSS.0503",
	fgs.Conflict:     "FSS.0409",
	fgs.Other:        "FSS.0500",
}

// reasonCode is the code of each domain Reason: the one place where the
// layers below the API meet FSS codes.
var reasonCode = map[fgs.Reason]string{
	fgs.FunctionNotFound:   "FSS.1051",
	fgs.FunctionExists:     "FSS.1061",
	fgs.VersionNotFound:    "FSS.1052",
	fgs.AliasNotFound:      "FSS.1053",
	fgs.TooManyFunctions:   "FSS.1041",
	fgs.CodeQuotaExceeded:  "FSS.1042",
	fgs.RevisionConflict:   "FSS.0409",
	fgs.BadURN:             "FSS.1309",
	fgs.BadFunctionName:    "FSS.1002",
	fgs.BadPackageName:     "FSS.1004",
	fgs.BadCodeType:        "FSS.1006",
	fgs.CodeMissing:        "FSS.1012",
	fgs.BadCodeEncoding:    "FSS.1011",
	fgs.BadCodeFilename:    "FSS.1013",
	fgs.CodeTooLarge:       "FSS.1071",
	fgs.InlineCodeTooLarge: "FSS.1072",
	fgs.DependencyNotFound: "FSS.1056",
	fgs.BadUserData:        "FSS.1009",
	fgs.Throttled:          "FSS.0429",
}

// fss is an error the API itself finds, in the wire format, with the FSS
// code it answers with.
func fss(kind fgs.Kind, code, format string, args ...any) error {
	return &fgs.Error{Kind: kind, Code: code, Msg: fmt.Sprintf(format, args...)}
}

// codeOf chooses the FSS code of err: the API's own code if it set one,
// else its Reason's, else its Kind's.
func codeOf(err error) string {
	if code := fgs.CodeOf(err); code != "" {
		return code
	}
	if code, ok := reasonCode[fgs.ReasonOf(err)]; ok {
		return code
	}
	return kindCode[fgs.KindOf(err)]
}

// errorBody is the FunctionGraph error body.
type errorBody struct {
	Code string `json:"error_code"`
	Msg  string `json:"error_msg"`
}

// writeError answers with err as an FSS error body. The client sees only
// the error's safe message; the cause is logged with the request ID.
func writeError(w http.ResponseWriter, r *http.Request, logger *slog.Logger, err error) {
	code := codeOf(err)
	status, ok := fssStatus[code]
	if !ok {
		status = 500
	}
	msg := fgs.MessageOf(err)
	if msg == "" {
		msg = defaultMessage(status)
	}
	level := slog.LevelInfo
	if status >= 500 {
		level = slog.LevelError
	}
	logger.Log(r.Context(), level, "request failed", "request_id", w.Header().Get("X-Request-Id"),
		"method", r.Method, "path", r.URL.Path, "status", status, "error_code", code, "err", err)
	writeJSON(w, status, errorBody{Code: code, Msg: msg})
}

func defaultMessage(status int) string {
	switch status {
	case 500:
		return "Internal server error."
	case 503:
		return "Service unavailable."
	}
	return strings.TrimSpace(http.StatusText(status))
}

// writeJSON writes v as the JSON body with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = 500, []byte(`{"error_code":"FSS.0500","error_msg":"Internal server error."}`)
	}
	writeRaw(w, status, b)
}

// writeRaw writes b, already JSON, as the body with status.
func writeRaw(w http.ResponseWriter, status int, b []byte) {
	h := w.Header()
	h["Content-Type"] = contentTypeJSON
	h["Content-Length"] = []string{strconv.Itoa(len(b))}
	w.WriteHeader(status)
	w.Write(b)
}

var contentTypeJSON = []string{"application/json"}

// decodeJSON decodes a request body into v. Malformed JSON is FSS.0406
// (406, the reference's "Incorrect request format"); a value of the wrong
// type is FSS.0400 naming the field.
func decodeJSON(body []byte, v any) error {
	if len(body) == 0 {
		return fss(fgs.Invalid, "FSS.0406", "request body is empty; want a JSON object")
	}
	err := json.Unmarshal(body, v)
	if err == nil {
		return nil
	}
	var typ *json.UnmarshalTypeError
	if errors.As(err, &typ) {
		field := typ.Field
		if field == "" {
			return fss(fgs.Invalid, "FSS.0400", "request body must be a JSON object, not %s", typ.Value)
		}
		return fss(fgs.Invalid, "FSS.0400", "field %s must be %s, not %s", field, jsonKind(typ.Type.Kind().String()), typ.Value)
	}
	return fss(fgs.Invalid, "FSS.0406", "request body is not valid JSON: %v", err)
}

func jsonKind(goKind string) string {
	switch goKind {
	case "int", "int32", "int64":
		return "an integer"
	case "bool":
		return "a boolean"
	case "string":
		return "a string"
	case "slice":
		return "an array"
	case "struct", "map", "ptr":
		return "an object"
	}
	return "of another type"
}
