// Package custom is FunctionGraph's "Custom" runtime: the code package
// has an executable named bootstrap at its root (a binary, or a script
// with a #! line), which fetches invocations from the runtime API and
// posts their results back:
//
//	GET  http://$RUNTIME_API_ADDR/v1/runtime/invocation/request
//	     blocks until there is an invocation; the body is the event, the
//	     headers X-Cff-Request-Id, X-Cff-Invoke-Type, the invocation's
//	     context headers (X-Cff-Access-Key, X-Cff-Auth-Token, ...) and
//	     X-Openfgs-Deadline (an openfgs extension: the invocation's
//	     deadline in Unix milliseconds)
//	POST http://$RUNTIME_API_ADDR/v1/runtime/invocation/response/<request id>
//	     the body is the result, as is
//	POST http://$RUNTIME_API_ADDR/v1/runtime/invocation/error/<request id>
//	     the body is {"errorType": ..., "errorMessage": ...[, "stackTrace": [...]]}
//	POST http://$RUNTIME_API_ADDR/v1/runtime/init/error
//	     (an openfgs extension: FunctionGraph documents no init error
//	     call) the bootstrap could not start; same body as /error
//
// An instance runs one invocation at a time: further Invokes wait for
// it. A request id that is not the invocation in progress gets 404, and
// bodies are read up to the function's response limit (6 MB by default);
// a result over it fails the invocation with ErrTooLarge.
//
// # Network
//
// Each instance has a network namespace of its own (Program.OwnNetwork)
// with a loopback interface, and its runtime API listens inside
// it: RUNTIME_API_ADDR is always 127.0.0.1:31000 (Port). Attach makes the
// listener with Process.Listen, so no port of the host is used, and no
// other instance (nor anything on the host's loopback) can reach an
// instance's runtime API, take its invocations or post its results.
//
// Besides loopback it has the way out the executor gives every instance
// of a function with public network access (see package
// sandbox/outbound): addresses outside the node, never the node itself.
//
// # Start
//
// The namespace, and so the listener, can only exist once the program
// has started, so the program is a small /bin/sh launcher that waits
// until the runtime API listens (it reads /proc/net/tcp every 2 ms, and
// stops waiting after 5000 reads or when that file is not there) and then
// executes the bootstrap, with the same pid, environment and file
// descriptors. A bootstrap therefore finds the runtime API up at its
// first request, even one that does not retry (the guide's curl loop
// would retry a refused connection anyway). Attach makes the listener
// right away and returns; the executor calls it as soon as the sandbox
// has started.
//
// Load returns once the bootstrap asks for its first invocation. It fails
// with ErrInit when the bootstrap posts /init/error first, ErrInitTime
// when it has not asked within the start timeout, and ErrExited as soon
// as the process ends first (Process.Done). The end of the process (or
// Close, as the executor does when an instance's sandbox ends) fails an
// Invoke in flight with an error wrapping runtime.ErrBroken.
//
// # A missing bootstrap
//
// When Function.CodeDir is a folder of this host (tests, or no sandbox),
// Program and Attach check for the bootstrap themselves and fail with a
// FuncError ErrBootstrap, "runtime bootstrap file is not found" (or
// "... is not executable"). In a sandbox the code folder is not visible
// from here: the launcher then writes that message to stderr (the
// function's log) and exits (status 127, or 126 when not executable),
// and Load fails with ErrExited.
//
// Encrypted user data is only in RUNTIME_USERDATA (with the plain user
// data), never in variables of its own.
package custom

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path"
	goruntime "runtime"
	"strconv"
	"time"

	"github.com/openfgs/openfgs/internal/runtime"
)

// RuntimeName is the API's runtime enum this Kind runs.
const RuntimeName = "Custom"

// Port is where an instance's runtime API listens, inside the instance's
// network namespace: RUNTIME_API_ADDR is 127.0.0.1:Port. It is below
// Linux's ephemeral port range, so no connection the bootstrap makes
// takes it.
const Port = 31000

// DefaultStartTimeout is Kind.StartTimeout's default.
const DefaultStartTimeout = 30 * time.Second

// BootstrapFile is the name of the executable at the code package's root.
const BootstrapFile = "bootstrap"

// Shell runs the launcher.
const Shell = "/bin/sh"

// launcher runs the bootstrap ($0) once the runtime API listens on Port
// in the instance's namespace: up succeeds when /proc/net/tcp (this
// namespace's IPv4 sockets) has a socket listening (state 0A) on Port.
var launcher = `[ -e "$0" ] || { echo "runtime bootstrap file is not found: $0" >&2; exit 127; }
[ -x "$0" ] || { echo "runtime bootstrap file is not executable: $0" >&2; exit 126; }
up() {
  while read -r _ a _ s _; do
    [ "$s" = 0A ] && [ "${a##*:}" = ` + fmt.Sprintf("%04X", Port) + ` ] && return 0
  done </proc/net/tcp
  return 1
}
i=0
while [ $i -lt 5000 ] && [ -r /proc/net/tcp ] && ! up; do
  i=$((i+1))
  sleep 0.002
done
exec "$0"`

// Kind runs Custom functions. Set its fields before the first Program.
type Kind struct {
	// StartTimeout bounds how long Load waits for the bootstrap's first
	// request (the function's initializer timeout when that is longer).
	StartTimeout time.Duration
}

var _ runtime.Kind = (*Kind)(nil)

// New returns a Kind with the default settings.
func New() *Kind {
	return &Kind{StartTimeout: DefaultStartTimeout}
}

// Available reports whether rt can run here: "Custom" on Linux with
// /bin/sh.
func (k *Kind) Available(rt string) error {
	if rt != RuntimeName {
		return fmt.Errorf("custom: %q is not the custom runtime", rt)
	}
	if goruntime.GOOS != "linux" {
		return fmt.Errorf("custom: %s needs a Linux node (this is %s)", rt, goruntime.GOOS)
	}
	fi, err := os.Stat(Shell)
	if err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
		return fmt.Errorf("custom: %s needs the shell %s to start bootstraps", rt, Shell)
	}
	return nil
}

// Program returns the program of an instance of fn: the launcher of its
// bootstrap, in a network namespace of its own, with FunctionGraph's
// RUNTIME_* environment and RUNTIME_API_ADDR=127.0.0.1:31000. There are
// no generic instances: fn must be set.
func (k *Kind) Program(fn *runtime.Function) (runtime.Program, error) {
	if fn == nil {
		return runtime.Program{}, errors.New("custom: the custom runtime has no generic instances (Program needs the function)")
	}
	if err := k.Available(fn.Runtime); err != nil {
		return runtime.Program{}, err
	}
	if err := CheckBootstrap(fn); err != nil {
		return runtime.Program{}, err
	}
	dir := runtime.CodeDirOf(fn)
	env := runtime.StandaloneEnviron(runtime.BaseEnv(), fn, "RUNTIME_API_ADDR="+net.JoinHostPort("127.0.0.1", strconv.Itoa(Port)))
	return runtime.Program{
		Path:       Shell,
		Args:       []string{"-c", launcher, path.Join(dir, BootstrapFile)},
		Env:        env,
		Dir:        dir,
		Port:       Port,
		OwnNetwork: true,
	}, nil
}

// Attach makes the runtime API listener of a started instance of fn,
// inside its network namespace, and serves it.
func (k *Kind) Attach(ctx context.Context, p runtime.Process, fn *runtime.Function) (runtime.Conn, error) {
	if fn == nil {
		return nil, errors.New("custom: Attach needs the function")
	}
	if err := CheckBootstrap(fn); err != nil {
		return nil, err
	}
	if p == nil {
		return nil, errors.New("custom: Attach needs the process")
	}
	ln, err := p.Listen(ctx, Port)
	if err != nil {
		// An instance that is already gone has no namespace to listen in.
		select {
		case <-p.Done():
			return nil, exitedError()
		case <-time.After(100 * time.Millisecond):
		}
		return nil, fmt.Errorf("custom: runtime API listener on 127.0.0.1:%d in the instance: %w", Port, err)
	}
	return newConn(k, p, ln, fn), nil
}

// exitedError is the error of a process that ended before it asked for
// an invocation.
func exitedError() *runtime.FuncError {
	return &runtime.FuncError{Code: runtime.ErrExited, Type: "RuntimeExited",
		Message: "runtime process is exited: the bootstrap ended before it asked for an invocation (GET " + pathRequest + "); its output is in the function's log"}
}

// CheckBootstrap checks, when fn's code folder is a folder of this host,
// that it has an executable bootstrap; the error is a *runtime.FuncError
// with code ErrBootstrap. In a sandbox (CodeDir is runtime.CodeDir) it
// checks nothing.
func CheckBootstrap(fn *runtime.Function) error {
	dir := runtime.HostCodeDir(fn)
	if dir == "" {
		return nil
	}
	fi, err := os.Stat(path.Join(dir, BootstrapFile))
	switch {
	case err != nil || fi.IsDir():
		return NoBootstrap()
	case fi.Mode()&0o111 == 0:
		return &runtime.FuncError{Code: runtime.ErrBootstrap, Type: "BootstrapNotExecutable",
			Message: "runtime bootstrap file is not executable"}
	}
	return nil
}

// NoBootstrap is the error of a code package without a bootstrap, for
// the executor to report when starting the program fails that way.
func NoBootstrap() *runtime.FuncError {
	return &runtime.FuncError{Code: runtime.ErrBootstrap, Type: "BootstrapNotFound",
		Message: "runtime bootstrap file is not found"}
}
