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
// The Kind serves that API for each instance on a listener of its own on
// the host's loopback (instances share the host's network). Program opens
// the listener, so that its port is in RUNTIME_API_ADDR, and Attach
// serves it. An instance runs one invocation at a time: further Invokes
// wait for it. A request id that is not the invocation in progress gets
// 404, and bodies are read up to the function's response limit (6 MB by
// default); a result over it fails the invocation with ErrTooLarge.
//
// # Which Program a process runs
//
// Attach finds the listener of its process through an optional method
// of the Process, Program() runtime.Program (the Program's Port is the
// listener's), and without it takes the latest Program made for the same
// *Function that no instance claimed. A Program never attached is
// forgotten, and its listener closed, after 5 minutes.
//
// # Start, exit and a missing bootstrap
//
// Load returns once the bootstrap asks for its first invocation. It fails
// with ErrInit when the bootstrap posts /init/error first, ErrInitTime
// when it has not asked within the start timeout, and ErrExited when the
// process ends first — which Load sees when the Process has an Exited()
// or Done() method returning a channel closed at its exit, or when the
// Conn is closed (as the executor does when an instance's sandbox ends).
// The same signals fail an Invoke in flight with an error wrapping
// runtime.ErrBroken.
//
// The bootstrap is run directly (no shell), so a package without one
// cannot start: in a sandbox, starting the program fails, and the
// executor should report that failure as NoBootstrap(). When
// Function.CodeDir is a folder of this host (tests, or no sandbox),
// Program and Attach check for the file themselves and fail with a
// FuncError ErrBootstrap, "runtime bootstrap file is not found" (or
// "... is not executable").
//
// Encrypted user data is only in RUNTIME_USERDATA (with the plain user
// data), never in variables of its own.
package custom

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path"
	goruntime "runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/openfgs/openfgs/internal/runtime"
)

// RuntimeName is the API's runtime enum this Kind runs.
const RuntimeName = "Custom"

// Defaults of the Kind's settings.
const (
	DefaultStartTimeout = 30 * time.Second
	pendingTTL          = 5 * time.Minute
)

// BootstrapFile is the name of the executable at the code package's root.
const BootstrapFile = "bootstrap"

// baseEnv is the environment every instance starts with.
var baseEnv = []string{
	"PATH=/usr/local/bin:/usr/bin:/bin",
	"HOME=/tmp",
	"LANG=C.UTF-8",
}

// Kind runs Custom functions. Set its fields before the first Program.
type Kind struct {
	// StartTimeout bounds how long Load waits for the bootstrap's first
	// request (the function's initializer timeout when that is longer).
	StartTimeout time.Duration

	mu      sync.Mutex
	pending []*slot // Programs not attached yet, oldest first
}

// slot is a Program waiting for its Attach.
type slot struct {
	ln    net.Listener
	port  int
	fn    *runtime.Function
	timer *time.Timer
}

var _ runtime.Kind = (*Kind)(nil)

// New returns a Kind with the default settings.
func New() *Kind {
	return &Kind{StartTimeout: DefaultStartTimeout}
}

// Available reports whether rt can run here: "Custom" on Linux.
func (k *Kind) Available(rt string) error {
	if rt != RuntimeName {
		return fmt.Errorf("custom: %q is not the custom runtime", rt)
	}
	if goruntime.GOOS != "linux" {
		return fmt.Errorf("custom: %s needs a Linux node (this is %s)", rt, goruntime.GOOS)
	}
	return nil
}

// Program returns the program of an instance of fn: its bootstrap, with
// FunctionGraph's RUNTIME_* environment and RUNTIME_API_ADDR, the
// address of a runtime API listener opened for it (its port is the
// Program's Port). There are no generic instances: fn must be set.
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
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return runtime.Program{}, fmt.Errorf("custom: runtime API listener: %w", err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	env := runtime.Environ(baseEnv, fn)
	env = append(env,
		"RUNTIME_USERDATA="+userDataJSON(fn),
		"RUNTIME_API_ADDR="+net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
	)
	k.addPending(ln, port, fn)
	dir := codeDir(fn)
	return runtime.Program{
		Path: path.Join(dir, BootstrapFile),
		Env:  dedupEnv(env),
		Dir:  dir,
		Port: port,
	}, nil
}

// Attach starts serving the runtime API of a started instance of fn.
func (k *Kind) Attach(ctx context.Context, p runtime.Process, fn *runtime.Function) (runtime.Conn, error) {
	if fn == nil {
		return nil, errors.New("custom: Attach needs the function")
	}
	if err := CheckBootstrap(fn); err != nil {
		return nil, err
	}
	s, err := k.claim(p, fn)
	if err != nil {
		return nil, err
	}
	return newConn(k, p, s.ln, fn), nil
}

// CheckBootstrap checks, when fn's code folder is a folder of this host,
// that it has an executable bootstrap; the error is a *runtime.FuncError
// with code ErrBootstrap. In a sandbox (CodeDir is runtime.CodeDir) it
// checks nothing.
func CheckBootstrap(fn *runtime.Function) error {
	dir := hostCodeDir(fn)
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

// hostCodeDir is fn's code folder when it is a folder on this host, ""
// when it is the sandbox's path.
func hostCodeDir(fn *runtime.Function) string {
	d := fn.CodeDir
	if d == "" || d == runtime.CodeDir {
		return ""
	}
	if fi, err := os.Stat(d); err != nil || !fi.IsDir() {
		return ""
	}
	return d
}

func codeDir(fn *runtime.Function) string {
	if fn.CodeDir != "" {
		return fn.CodeDir
	}
	return runtime.CodeDir
}

// userDataJSON is RUNTIME_USERDATA: the user data and the encrypted user
// data (which are not exported as variables of their own).
func userDataJSON(fn *runtime.Function) string {
	m := make(map[string]string, len(fn.UserData)+len(fn.EncryptedUserData))
	for k, v := range fn.UserData {
		m[k] = v
	}
	for k, v := range fn.EncryptedUserData {
		m[k] = v
	}
	b, err := json.Marshal(m)
	if err != nil { // a map[string]string always encodes
		panic(err)
	}
	return string(b)
}

// dedupEnv keeps the last value of each name, in the order of the first.
func dedupEnv(env []string) []string {
	index := make(map[string]int, len(env))
	out := make([]string, 0, len(env))
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		if i, ok := index[name]; ok {
			out[i] = kv
			continue
		}
		index[name] = len(out)
		out = append(out, kv)
	}
	return out
}

func (k *Kind) addPending(ln net.Listener, port int, fn *runtime.Function) {
	s := &slot{ln: ln, port: port, fn: fn}
	k.mu.Lock()
	defer k.mu.Unlock()
	s.timer = time.AfterFunc(pendingTTL, func() {
		k.mu.Lock()
		removed := k.removePendingLocked(s)
		k.mu.Unlock()
		if removed {
			s.ln.Close()
		}
	})
	k.pending = append(k.pending, s)
}

func (k *Kind) removePendingLocked(s *slot) bool {
	for i, x := range k.pending {
		if x == s {
			k.pending = append(k.pending[:i:i], k.pending[i+1:]...)
			return true
		}
	}
	return false
}

// claim takes the pending Program of p: the one with p's port when p
// says which Program it runs, else the latest one made for fn.
func (k *Kind) claim(p runtime.Process, fn *runtime.Function) (*slot, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	match := func(s *slot) bool { return s.fn == fn }
	if pp, ok := p.(interface{ Program() runtime.Program }); ok {
		port := pp.Program().Port
		match = func(s *slot) bool { return s.port == port }
	}
	for i := len(k.pending) - 1; i >= 0; i-- {
		if s := k.pending[i]; match(s) {
			s.timer.Stop()
			k.removePendingLocked(s)
			return s, nil
		}
	}
	return nil, fmt.Errorf("custom: Attach for function %q without a pending Program", fn.Name)
}
