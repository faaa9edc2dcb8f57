// Package httpfn is FunctionGraph's "http" runtime (HTTP functions): the
// code package has a file named bootstrap at its root, a start command
// such as
//
//	/usr/bin/node $RUNTIME_CODE_ROOT/index.js
//
// that starts a web server on port 8000 (on 127.0.0.1 or 0.0.0.0). Each
// invocation becomes one HTTP/1.1 request to that server, and its
// response becomes the invocation's result.
//
// # The program
//
// The bootstrap runs under /bin/sh: when it is executable it is executed
// (so a #! line is honoured, and a file without one is run by the shell),
// otherwise the shell reads it as a script.
//
// # Network
//
// Each instance has a network namespace of its own (Program.OwnNetwork)
// with a loopback interface, so every instance's server uses port
// 8000 side by side, and no other instance, nor anything on the host's
// loopback, can reach it; the Conn reaches it with Process.Dial. Besides
// loopback it has the way out the executor gives every instance of a
// function with public network access (see package sandbox/outbound):
// addresses outside the node, never the node itself.
//
// # Start
//
// Attach returns at once; Load (or the first Invoke) dials port 8000
// until the server accepts, bounded by its ctx and the start timeout
// (runtime.ErrInitTime after it). A process that ends first
// (Process.Done) fails Load with runtime.ErrExited. When Function.CodeDir is a
// folder of this host (tests, no sandbox), Program and Attach check that
// the bootstrap exists (runtime.ErrBootstrap, "runtime bootstrap file is
// not found"); in a sandbox a missing bootstrap makes the process exit at
// once with status 127 and that message on stderr.
//
// # Requests and results
//
// An event that is an APIG event (a JSON object with "httpMethod") is
// sent as the request it describes: its httpMethod, path,
// queryStringParameters, headers and body (base64-decoded when
// isBase64Encoded). Any other event is POSTed to / as is, with
// Content-Type application/json. Every request also carries X-Cff-Request-Id,
// X-Cff-Memory, X-Cff-Timeout (seconds), X-Cff-Func-Version,
// X-Cff-Func-Name, X-Cff-Project-Id, X-Cff-Package, X-Cff-Region and the
// invocation's context headers (credentials, when the function has them).
//
// The result is {"body": <base64 of the response body>, "headers":
// {"Name": ["value", ...]}, "statusCode": N, "isBase64Encoded": true}. A
// response body over the function's limit (6 MB by default) fails the
// invocation with runtime.ErrTooLarge. Requests go over keep-alive
// connections, several at a time.
package httpfn

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	goruntime "runtime"
	"time"

	"github.com/openfgs/openfgs/internal/runtime"
)

// RuntimeName is the API's runtime enum this Kind runs.
const RuntimeName = "http"

// Port is where an HTTP function's server listens.
const Port = 8000

// BootstrapFile is the name of the start command file at the code
// package's root.
const BootstrapFile = "bootstrap"

// DefaultStartTimeout is Kind.StartTimeout's default.
const DefaultStartTimeout = 30 * time.Second

// DefaultShell is Kind.Shell's default.
const DefaultShell = "/bin/sh"

// launcher runs the bootstrap ($0): executed when it is executable, read
// by the shell otherwise; a missing one exits 127.
const launcher = `[ -f "$0" ] || { echo "runtime bootstrap file is not found: $0" >&2; exit 127; }
[ -x "$0" ] && exec "$0"
exec /bin/sh "$0"`

// Kind runs HTTP functions. Set its fields before the first Program.
type Kind struct {
	// Shell runs the bootstrap; DefaultShell when empty.
	Shell string
	// StartTimeout bounds how long Load waits for the server to accept
	// connections (the function's initializer timeout when longer).
	StartTimeout time.Duration
}

var _ runtime.Kind = (*Kind)(nil)

// New returns a Kind with the default settings.
func New() *Kind {
	return &Kind{Shell: DefaultShell, StartTimeout: DefaultStartTimeout}
}

func (k *Kind) shell() string {
	if k.Shell != "" {
		return k.Shell
	}
	return DefaultShell
}

// Available reports whether rt can run here: "http" on Linux with a shell.
func (k *Kind) Available(rt string) error {
	if rt != RuntimeName {
		return fmt.Errorf("httpfn: %q is not the HTTP function runtime", rt)
	}
	if goruntime.GOOS != "linux" {
		return fmt.Errorf("httpfn: %s needs a Linux node (this is %s)", rt, goruntime.GOOS)
	}
	fi, err := os.Stat(k.shell())
	if err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
		return fmt.Errorf("httpfn: %s needs the shell %s to run bootstraps", rt, k.shell())
	}
	return nil
}

// Program returns the program of an instance of fn: the shell running
// its bootstrap in a network namespace of its own, with FunctionGraph's
// RUNTIME_* environment. There are no generic instances: fn must be set.
func (k *Kind) Program(fn *runtime.Function) (runtime.Program, error) {
	if fn == nil {
		return runtime.Program{}, errors.New("httpfn: HTTP functions have no generic instances (Program needs the function)")
	}
	if err := k.Available(fn.Runtime); err != nil {
		return runtime.Program{}, err
	}
	if err := CheckBootstrap(fn); err != nil {
		return runtime.Program{}, err
	}
	dir := runtime.CodeDirOf(fn)
	return runtime.Program{
		Path:       k.shell(),
		Args:       []string{"-c", launcher, path.Join(dir, BootstrapFile)},
		Env:        runtime.StandaloneEnviron(runtime.BaseEnv(), fn),
		Dir:        dir,
		Port:       Port,
		OwnNetwork: true,
	}, nil
}

// Attach returns the Conn of a started instance of fn.
func (k *Kind) Attach(ctx context.Context, p runtime.Process, fn *runtime.Function) (runtime.Conn, error) {
	if fn == nil {
		return nil, errors.New("httpfn: Attach needs the function")
	}
	if err := CheckBootstrap(fn); err != nil {
		return nil, err
	}
	if p == nil {
		return nil, errors.New("httpfn: Attach needs the process")
	}
	limit := k.StartTimeout
	if limit <= 0 {
		limit = DefaultStartTimeout
	}
	return newConn(p, fn, limit), nil
}

// CheckBootstrap checks, when fn's code folder is a folder of this host,
// that it has a bootstrap; the error is a *runtime.FuncError with code
// ErrBootstrap. In a sandbox (CodeDir is runtime.CodeDir) it checks
// nothing.
func CheckBootstrap(fn *runtime.Function) error {
	dir := runtime.HostCodeDir(fn)
	if dir == "" {
		return nil
	}
	if fi, err := os.Stat(path.Join(dir, BootstrapFile)); err != nil || fi.IsDir() {
		return NoBootstrap()
	}
	return nil
}

// NoBootstrap is the error of a code package without a bootstrap.
func NoBootstrap() *runtime.FuncError {
	return &runtime.FuncError{Code: runtime.ErrBootstrap, Type: "BootstrapNotFound",
		Message: "runtime bootstrap file is not found"}
}
