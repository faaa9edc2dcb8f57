package fgs

import (
	"context"
	"time"
)

// Invocation is one synchronous call of a function.
type Invocation struct {
	Function  *Function
	Alias     string // the alias the caller named, if any
	RequestID string
	Event     []byte            // the request body, as sent
	Headers   map[string]string // X-CFF-* context values for the function
}

// InvocationResult is what an invocation produced.
type InvocationResult struct {
	Body       []byte         // the function's result as text, or its error body
	Error      *FunctionError // set when the function failed
	Log        []byte         // the invocation's log, with the platform's Start and Finish lines
	Duration   time.Duration  // time spent in the function
	MemoryMB   float64        // memory the instance used
	InstanceID string
	Cold       bool // a new instance was started for it
}

// FunctionError is a failure the function is responsible for: its code
// raised, timed out, ran out of memory, crashed, or failed to initialize.
type FunctionError struct {
	Code    int    // X-Func-Err-Code (4001 entry, 4002 invocation, 4010 timeout, ...)
	Type    string // errorType
	Message string // errorMessage
}

// Invoker runs invocations (the executor). A platform failure (runtime
// unavailable, throttled, disabled) is an error with an FSS code; a
// failure of the function is a result with Error set.
type Invoker interface {
	Invoke(ctx context.Context, inv *Invocation) (*InvocationResult, error)
	// Forget stops the instances of a deleted function.
	Forget(k Key)
}
