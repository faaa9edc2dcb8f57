// Package runtime runs a FunctionGraph Go 1.x handler. A function's main
// calls Register, which never returns:
//
//	func Handler(payload []byte, ctx context.RuntimeContext) (interface{}, error) {
//		return "hello", nil
//	}
//
//	func main() { runtime.Register(Handler) }
//
// The binary is a Go net/rpc server over HTTP (CONNECT /_goRPC_, gob
// encoding) on the address in RUNTIME_API_ADDR; the platform calls
// "Function.Invoke" once per invocation, possibly several at a time.
//
// What the handler returns becomes the invocation's result: a string or
// []byte as is, anything else encoded with encoding/json. A returned
// error fails the invocation with errorType FunctionReturnError; so does
// a nil result ("response is empty"). A panic fails it with errorType
// "panic" and a stack trace, and the process goes on serving.
package runtime

import (
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/rpc"
	"os"
	goruntime "runtime"
	"strconv"
	"strings"
	"time"

	"huaweicloud.com/go-runtime/go-api/context"
	"huaweicloud.com/go-runtime/pkg/runtime/common"
)

// Handler is the signature of a function's entry point.
type Handler func(payload []byte, ctx context.RuntimeContext) (interface{}, error)

// DefaultMaxResponseBytes is the result limit when
// RUNTIME_MAX_RESP_BODY_SIZE is not set (6 MB).
const DefaultMaxResponseBytes = 6291456

// maxStackFrames is how many frames a panic's stack trace keeps.
const maxStackFrames = 32

// Register serves handler on RUNTIME_API_ADDR and never returns. It
// ends the process when the address is missing or cannot be listened on.
func Register(handler func(payload []byte, ctx context.RuntimeContext) (interface{}, error)) {
	if handler == nil {
		log.Fatal("runtime.Register: nil handler")
	}
	addr := os.Getenv("RUNTIME_API_ADDR")
	if addr == "" {
		log.Fatal("runtime.Register: RUNTIME_API_ADDR is not set (this binary is started by FunctionGraph)")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		log.Fatalf("runtime.Register: %v", err)
	}
	log.Fatal(serve(ln, handler, loadEnv()))
}

// serve answers rpc calls on ln until it fails.
func serve(ln net.Listener, h Handler, env *environment) error {
	srv := rpc.NewServer()
	if err := srv.RegisterName("Function", &Function{handler: h, env: env}); err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle(rpc.DefaultRPCPath, srv)
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 30 * time.Second}
	return hs.Serve(ln)
}

// Function is the rpc service the platform calls.
type Function struct {
	handler Handler
	env     *environment
}

// Invoke runs the handler on one invocation. A failed invocation is
// reported as an error whose text is the JSON of a common.Error.
func (f *Function) Invoke(req *common.InvokeRequest, resp *common.InvokeResponse) error {
	ctx := newContext(f.env, req.Header, time.Now())
	result, ferr := f.call(req.Payload, ctx)
	if ferr != nil {
		return ferr
	}
	if strings.EqualFold(req.Header.Get(common.HeaderInvokeType), "async") {
		result = nil
	}
	if max := f.env.maxResponse; len(result) > max {
		return &funcError{common.Error{
			ErrorType:    common.TypeTooLarge,
			ErrorMessage: fmt.Sprintf("Response body size '%d' larger than max value '%d'.", len(result), max),
		}}
	}
	resp.StatusCode = http.StatusOK
	resp.Payload = result
	return nil
}

// call runs the handler, turning a panic into an error.
func (f *Function) call(payload []byte, ctx *runtimeContext) (result []byte, ferr *funcError) {
	defer func() {
		if v := recover(); v != nil {
			stack := panicStack()
			msg := fmt.Sprintf("%s %s panic: %v\n%s\n", logTime(time.Now()), ctx.requestID, v, strings.Join(stack, "\n"))
			stdoutMu.Lock()
			io.WriteString(stdout, msg)
			stdoutMu.Unlock()
			ferr = &funcError{common.Error{ErrorType: common.TypePanic, ErrorMessage: fmt.Sprint(v), StackTrace: stack}}
		}
	}()
	v, err := f.handler(payload, ctx)
	if err != nil {
		return nil, &funcError{common.Error{ErrorType: common.TypeReturn, ErrorMessage: err.Error()}}
	}
	switch r := v.(type) {
	case nil:
		return nil, &funcError{common.Error{ErrorType: common.TypeReturn, ErrorMessage: "response is empty"}}
	case string:
		return []byte(r), nil
	case []byte:
		return r, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, &funcError{common.Error{ErrorType: common.TypeReturn, ErrorMessage: "marshal response: " + err.Error()}}
	}
	return b, nil
}

// funcError is a failed invocation; net/rpc sends its Error text.
type funcError struct{ e common.Error }

func (e *funcError) Error() string {
	b, err := json.Marshal(e.e)
	if err != nil { // strings only: cannot happen
		return `{"errorMessage":"unencodable error","errorType":"` + e.e.ErrorType + `"}`
	}
	return string(b)
}

// panicStack returns the stack of the panicking goroutine from the panic
// down to the handler, as "function()" and "    file:line" lines, at
// most maxStackFrames frames.
func panicStack() []string {
	pcs := make([]uintptr, 64+maxStackFrames)
	n := goruntime.Callers(1, pcs)
	frames := goruntime.CallersFrames(pcs[:n])
	var all []goruntime.Frame
	panicAt := -1
	for {
		fr, more := frames.Next()
		if fr.Function == "runtime.gopanic" {
			panicAt = len(all)
		}
		all = append(all, fr)
		if !more {
			break
		}
	}
	// Frames after runtime.gopanic are the panicking code and its callers;
	// runtime.panicmem and friends, when the runtime raised the panic, are
	// skipped too.
	all = all[panicAt+1:]
	for len(all) > 0 && strings.HasPrefix(all[0].Function, "runtime.") {
		all = all[1:]
	}
	var out []string
	for i, fr := range all {
		// Below the handler is this package and net/rpc: not the user's.
		if i == maxStackFrames || strings.HasSuffix(fr.Function, "/pkg/runtime.(*Function).call") {
			break
		}
		out = append(out, fr.Function+"()", "    "+fr.File+":"+strconv.Itoa(fr.Line))
	}
	return out
}

// environment is the function's configuration, read once at start.
type environment struct {
	projectID   string
	name        string
	version     string
	pkg         string
	alias       string
	timeout     int // seconds
	memory      int
	cpu         int
	userData    map[string]string
	maxResponse int
}

func loadEnv() *environment {
	e := &environment{
		projectID:   os.Getenv("RUNTIME_PROJECT_ID"),
		name:        os.Getenv("RUNTIME_FUNC_NAME"),
		version:     os.Getenv("RUNTIME_FUNC_VERSION"),
		pkg:         os.Getenv("RUNTIME_PACKAGE"),
		alias:       os.Getenv("RUNTIME_ALIAS"),
		timeout:     envInt("RUNTIME_TIMEOUT", 3),
		memory:      envInt("RUNTIME_MEMORY", 0),
		cpu:         envInt("RUNTIME_CPU", 0),
		maxResponse: envInt("RUNTIME_MAX_RESP_BODY_SIZE", DefaultMaxResponseBytes),
		userData:    map[string]string{},
	}
	if s := os.Getenv("RUNTIME_USERDATA"); s != "" {
		if err := json.Unmarshal([]byte(s), &e.userData); err != nil {
			log.Printf("runtime: RUNTIME_USERDATA is not a JSON object of strings: %v", err)
		}
	}
	return e
}

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil {
		return n
	}
	return def
}
