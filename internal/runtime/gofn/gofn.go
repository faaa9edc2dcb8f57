// Package gofn is FunctionGraph's "Go1.x" runtime. The function's code
// package holds a Linux executable; the handler is its file name. The
// executable is the server: its main calls runtime.Register from
// huaweicloud.com/go-runtime (Huawei's SDK, or openfgs' own compatible
// module in runtimes/go-runtime), which serves Go net/rpc over HTTP
// (CONNECT /_goRPC_, gob encoding) on the address in RUNTIME_API_ADDR.
// The Conn is the rpc client: each invocation is one call of
// "Function.Invoke", and several may run at once.
//
// # Network
//
// Each instance has a network namespace of its own (Program.OwnNetwork)
// with a loopback interface. RUNTIME_API_ADDR is always
// 127.0.0.1:8000 (Port): the binary listens there inside its namespace
// and the Conn reaches it with Process.Dial. So nothing of an instance is
// reachable from the host's loopback or from any other instance, and
// every instance uses the same port, side by side, with no port handed
// out by the host.
//
// Besides loopback it has the way out the executor gives every instance
// of a function with public network access (see package
// sandbox/outbound): addresses outside the node, never the node itself.
//
// # Start and exit
//
// Attach returns at once; Load (or the first Invoke) dials Port until the
// binary listens, bounded by its ctx and by the start timeout
// (runtime.ErrInitTime after it). A process that ends first
// (Process.Done) fails Load with runtime.ErrExited. Once connected, the
// end of the process fails the calls in flight, and every later one,
// with an error wrapping runtime.ErrBroken.
//
// # Initializer
//
// FunctionGraph documents no initializer for Go functions, and none is
// run: InitializerHandler is only exported as RUNTIME_INITIALIZER_HANDLER
// for the binary to act on if it likes.
package gofn

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path"
	goruntime "runtime"
	"strconv"
	"strings"
	"time"

	"github.com/openfgs/openfgs/internal/runtime"
)

// RuntimeName is the API's runtime enum this Kind runs.
const RuntimeName = "Go1.x"

// Port is where a Go function's binary serves the runtime protocol,
// inside its instance's network namespace: RUNTIME_API_ADDR is
// 127.0.0.1:Port.
const Port = 8000

// DefaultStartTimeout is Kind.StartTimeout's default.
const DefaultStartTimeout = 30 * time.Second

// Kind runs Go1.x functions. Set its fields before the first Program.
type Kind struct {
	// StartTimeout bounds how long Load waits for the binary to listen
	// (the function's initializer timeout when that is longer). A binary
	// that is still not listening fails with runtime.ErrInitTime.
	StartTimeout time.Duration
}

var _ runtime.Kind = (*Kind)(nil)

// New returns a Kind with the default settings.
func New() *Kind {
	return &Kind{StartTimeout: DefaultStartTimeout}
}

// Available reports whether rt can run here: "Go1.x" on Linux.
func (k *Kind) Available(rt string) error {
	switch rt {
	case RuntimeName:
	case "Go1.8":
		return errors.New("gofn: Go1.8 (Go plugin handlers such as testplugin.Handler) is not supported; build the function for Go1.x")
	default:
		return fmt.Errorf("gofn: %q is not a Go runtime", rt)
	}
	if goruntime.GOOS != "linux" {
		return fmt.Errorf("gofn: %s needs a Linux node (this is %s)", rt, goruntime.GOOS)
	}
	return nil
}

// Program returns the program of an instance of fn: its handler binary,
// in a network namespace of its own, with FunctionGraph's RUNTIME_*
// environment and RUNTIME_API_ADDR=127.0.0.1:8000. There are no generic
// instances: fn must be set.
func (k *Kind) Program(fn *runtime.Function) (runtime.Program, error) {
	if fn == nil {
		return runtime.Program{}, errors.New("gofn: Go1.x has no generic instances (Program needs the function)")
	}
	if err := k.Available(fn.Runtime); err != nil {
		return runtime.Program{}, err
	}
	bin, err := handlerPath(fn)
	if err != nil {
		return runtime.Program{}, err
	}
	if err := checkHandler(fn); err != nil {
		return runtime.Program{}, err
	}
	env := runtime.StandaloneEnviron(runtime.BaseEnv(), fn, "RUNTIME_API_ADDR="+net.JoinHostPort("127.0.0.1", strconv.Itoa(Port)))
	return runtime.Program{
		Path:       bin,
		Env:        env,
		Dir:        runtime.CodeDirOf(fn),
		Port:       Port,
		OwnNetwork: true,
	}, nil
}

// Attach returns the Conn of a started instance of fn. It does not wait
// for the binary: Load does.
func (k *Kind) Attach(ctx context.Context, p runtime.Process, fn *runtime.Function) (runtime.Conn, error) {
	if fn == nil {
		return nil, errors.New("gofn: Attach needs the function")
	}
	if err := checkHandler(fn); err != nil {
		return nil, err
	}
	if p == nil {
		return nil, errors.New("gofn: Attach needs the process")
	}
	return newConn(k, p, fn), nil
}

// handlerPath is where the instance finds its binary.
func handlerPath(fn *runtime.Function) (string, error) {
	h := fn.Handler
	if h == "" || strings.HasPrefix(h, "/") || strings.ContainsRune(h, 0) || path.Clean(h) != h || h == "." || h == ".." || strings.HasPrefix(h, "../") {
		return "", &runtime.FuncError{Code: runtime.ErrEntry, Type: "InvalidHandler",
			Message: fmt.Sprintf("function entry exception, error: handler %q is not the name of an executable in the code package", h)}
	}
	return path.Join(runtime.CodeDirOf(fn), h), nil
}

// checkHandler checks, when fn's code folder is a folder of this host
// (tests, or no sandbox), that the handler binary is there and executable.
// In a sandbox the code folder is not visible from here and starting the
// program is what fails.
func checkHandler(fn *runtime.Function) error {
	bin, err := handlerPath(fn)
	if err != nil {
		return err
	}
	if runtime.HostCodeDir(fn) == "" {
		return nil
	}
	fi, err := os.Stat(bin)
	switch {
	case err != nil || fi.IsDir():
		return &runtime.FuncError{Code: runtime.ErrEntry, Type: "HandlerNotFound",
			Message: fmt.Sprintf("function entry exception, error: handler file %q is not in the code package", fn.Handler)}
	case fi.Mode()&0o111 == 0:
		return &runtime.FuncError{Code: runtime.ErrEntry, Type: "HandlerNotExecutable",
			Message: fmt.Sprintf("function entry exception, error: handler file %q is not executable", fn.Handler)}
	}
	return nil
}
