// Package runtime is the bridge between the executor and function code:
// for each runtime family (Python, Node.js, Java, Go 1.x, custom, HTTP) it
// says what program an instance runs and how the executor talks to it.
// Language bootstraps are embedded files; the protocol they speak with
// the supervisor is in protocol.go.
package runtime

import (
	"context"
	"io"
	"net"
	"time"
)

// CodeDir is where an instance sees its function's code, read-only.
const CodeDir = "/opt/function/code"

// RuntimeRoot is where an instance sees its runtime's own files
// (Program.ReadOnly), read-only.
const RuntimeRoot = "/opt/function/runtime"

// Function is what an instance needs to know about the function it runs.
type Function struct {
	URN      string // unqualified 7-field URN
	Name     string
	Package  string
	Project  string
	Region   string
	Version  string // "latest", "v1", ...
	Alias    string
	Runtime  string // the API's runtime enum, e.g. "Python3.9"
	Handler  string
	Timeout  time.Duration
	MemoryMB int
	CPU      int // millicores

	UserData          map[string]string // exported as environment variables too
	EncryptedUserData map[string]string // only through context.getUserData

	InitializerHandler string
	InitializerTimeout time.Duration

	MaxRequestBytes  int
	MaxResponseBytes int

	// Concurrency is how many invocations one instance serves at once
	// (strategy_config.concurrent_num); 1 unless the runtime allows more.
	Concurrency int
	// CodeDir is where the code is, as the instance sees it: CodeDir
	// inside a sandbox; tests that run without one set a host folder.
	CodeDir string
}

// Program is what the executor starts in a sandbox for one instance.
type Program struct {
	Path string   // absolute path inside the sandbox
	Args []string // argv[1:]
	Env  []string // KEY=value, complete (nothing is inherited)
	Dir  string   // working directory inside the sandbox
	// ReadOnly lists host folders, besides the system folders the sandbox
	// always has, that the program needs read-only (a bootstrap's folder,
	// a JDK). Inside a sandbox each appears at RuntimeRoot/<its base
	// name>, and the executor rewrites Path, Args and Env values that
	// start with the host path accordingly, so a Kind may name its files
	// by host path (which is also what tests without a sandbox run).
	ReadOnly []string
	// Pipes: the instance speaks the frame protocol on fd 3 (requests to
	// it) and fd 4 (frames from it). Otherwise it is reached over TCP at
	// Port inside its own network namespace (Go 1.x, custom, HTTP).
	Pipes bool
	Port  int
	// OwnNetwork: the instance needs its own network namespace (the
	// executor gives every instance one; this tells tests that run
	// programs without a sandbox to make one).
	OwnNetwork bool
}

// Process is a started instance as a runtime sees it: the frame pipes
// (when Program.Pipes) or a way to dial into its network namespace.
type Process interface {
	// Requests is fd 3 of the instance (nil without Pipes).
	Requests() io.Writer
	// Frames is fd 4 of the instance (nil without Pipes).
	Frames() io.Reader
	// Dial connects to 127.0.0.1:port inside the instance's network
	// namespace.
	Dial(ctx context.Context, port int) (io.ReadWriteCloser, error)
	// Listen listens on 127.0.0.1:port inside the instance's network
	// namespace (port 0: any free port), for runtimes whose instance calls
	// the platform (the custom runtime API).
	Listen(ctx context.Context, port int) (net.Listener, error)
	// Done is closed when the instance's process has ended.
	Done() <-chan struct{}
	// Output is everything the instance writes to stdout and stderr that
	// does not come through the frame protocol.
	Output() io.Reader
}

// Invocation is one request to a function.
type Invocation struct {
	RequestID string
	Event     []byte    // the request body as the caller sent it
	Deadline  time.Time // when the invocation times out
	// Headers are extra context values (X-CFF-* names) a handler may read.
	Headers map[string]string
	// Log receives this invocation's log lines as the function writes them.
	Log io.Writer
}

// Result is what a function returned.
type Result struct {
	// Body is the function's result as text: a JSON encoding of what the
	// handler returned, or the raw string it returned.
	Body []byte
	// Err is set when the function failed; Body is then Err's JSON body.
	Err *FuncError
}

// FuncError is a failure of the function's code, as FunctionGraph reports
// it to the caller.
type FuncError struct {
	Code    int      // X-Func-Err-Code, e.g. 4002 (see the codes below)
	Type    string   // errorType, e.g. "ZeroDivisionError"
	Message string   // errorMessage
	Stack   []string // stackTrace
}

// Function error codes, as the FunctionGraph kernel names them.
const (
	ErrEntry      = 4001 // function entry exception: the handler cannot be loaded
	ErrInvocation = 4002 // function invocation exception: the handler failed
	ErrTimeout    = 4010 // call invoke timeout
	ErrInitTime   = 4011 // runtime initialization timed out
	ErrTooLarge   = 4140 // request or response body beyond the maximum
	ErrInit       = 4201 // function initialization failed
	ErrBootstrap  = 4202 // runtime bootstrap file is not found
	ErrExited     = 4204 // runtime process is exited
	ErrOOM        = 4205 // runtime memory limit exceeded
)

// DeadlineEnforcer is a Conn whose Invoke ends a call itself when
// inv.Deadline passes, returning context.DeadlineExceeded, so that its
// caller need not make a context with that deadline (which costs a timer
// and a registration with the parent on every call).
type DeadlineEnforcer interface {
	Conn
	EnforcesDeadline()
}

// Kind is one runtime family.
type Kind interface {
	// Available says whether this node can run the runtime; the error
	// names what is missing.
	Available(runtime string) error
	// Program returns the program of an instance of fn. A Kind that can
	// pre-start generic instances returns one for fn == nil, and a generic
	// instance takes its function in Conn.Load.
	Program(fn *Function) (Program, error)
	// Attach wraps a started process into a Conn.
	Attach(ctx context.Context, p Process, fn *Function) (Conn, error)
}

// Conn talks to one running instance.
type Conn interface {
	// Load makes the instance serve fn: it loads the code (a generic
	// instance learns its function here) and runs the initializer. A
	// failure is a *FuncError when the function is at fault.
	Load(ctx context.Context, fn *Function) error
	// Invoke runs one invocation. It may be called concurrently when the
	// runtime serves several requests per instance. A non-nil error means
	// the instance is broken (it crashed or stopped answering); function
	// failures are in Result.Err.
	Invoke(ctx context.Context, inv *Invocation) (Result, error)
	// Close releases the Conn (the executor stops the process).
	Close() error
}
