// Package common holds the messages FunctionGraph's Go 1.x runtime
// exchanges with a function binary over Go net/rpc (gob encoding, HTTP
// CONNECT to /_goRPC_). The platform calls the method "Function.Invoke"
// with an InvokeRequest and receives an InvokeResponse.
//
// Function code never uses these types; they are exported because
// net/rpc requires it.
package common

import "net/http"

// InvokeRequest is one invocation: the event and the context headers
// (X-CFF-Request-Id, X-CFF-Invoke-Type, credentials, ...).
type InvokeRequest struct {
	Payload []byte
	Header  http.Header
}

// InvokeResponse is a successful invocation's result.
type InvokeResponse struct {
	StatusCode int
	Payload    []byte
}

// Error is the body of a failed invocation. It travels as the net/rpc
// error string, encoded as JSON.
type Error struct {
	ErrorMessage string   `json:"errorMessage"`
	ErrorType    string   `json:"errorType"`
	StackTrace   []string `json:"stackTrace,omitempty"`
}

// Error types.
const (
	// TypeReturn: the handler returned an error.
	TypeReturn = "FunctionReturnError"
	// TypePanic: the handler panicked.
	TypePanic = "panic"
	// TypeTooLarge: the result is over RUNTIME_MAX_RESP_BODY_SIZE.
	TypeTooLarge = "FunctionResponseTooLarge"
)

// Header names the runtime reads.
const (
	HeaderRequestID         = "X-CFF-Request-Id"
	HeaderInvokeType        = "X-CFF-Invoke-Type"
	HeaderAccessKey         = "X-CFF-Access-Key"
	HeaderSecretKey         = "X-CFF-Secret-Key"
	HeaderAuthToken         = "X-CFF-Auth-Token"
	HeaderSecurityAccessKey = "X-CFF-Security-Access-Key"
	HeaderSecuritySecretKey = "X-CFF-Security-Secret-Key"
	HeaderSecurityToken     = "X-CFF-Security-Token"
	HeaderOriginVersionTag  = "X-Cff-Origin-Version-Tag"
	// HeaderDeadline (an openfgs extension) is the invocation's deadline
	// in Unix milliseconds. Without it the remaining time counts from the
	// moment the request arrived and RUNTIME_TIMEOUT.
	HeaderDeadline = "X-Openfgs-Deadline"
)
