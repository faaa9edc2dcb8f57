// Package gofn is FunctionGraph's "Go1.x" runtime. The function's code
// package holds a Linux executable; the handler is its file name. The
// executable is the server: its main calls runtime.Register from
// huaweicloud.com/go-runtime (Huawei's SDK, or openfgs' own compatible
// module in runtimes/go-runtime), which serves Go net/rpc over HTTP
// (CONNECT /_goRPC_, gob encoding) on the address in RUNTIME_API_ADDR.
// The Conn is the rpc client: each invocation is one call of
// "Function.Invoke", and several may run at once.
//
// # Ports
//
// Instances share the host's network, so every instance gets its own
// loopback port, chosen by Program from [Kind.PortMin, Kind.PortMax)
// (below Linux's ephemeral range, so that no outgoing connection takes it
// between Program and the binary's listen) and not handed out again until
// the instance's Conn is closed. Attach finds the port of its process
// through an optional method of the Process,
//
//	Program() runtime.Program // the Program the process runs
//
// and, when the Process does not have it, takes the port of the latest
// Program made for the same *Function that no instance claimed yet. A
// Program never attached is forgotten after 5 minutes.
//
// # Start and exit
//
// Attach returns at once; Load (or the first Invoke) dials the port until
// the binary listens, bounded by its ctx and by the start timeout. It
// notices a process that ends before it listens when the Process has an
// Exited() or Done() method returning a channel closed at its exit;
// otherwise the dialing lasts until ctx, the start timeout or Close.
// Once connected, the end of the process closes the connection, which
// fails the calls in flight with an error wrapping runtime.ErrBroken.
//
// # Initializer
//
// FunctionGraph documents no initializer for Go functions, and none is
// run: InitializerHandler is only exported as RUNTIME_INITIALIZER_HANDLER
// for the binary to act on if it likes.
package gofn

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
const RuntimeName = "Go1.x"

// Defaults of the Kind's settings.
const (
	DefaultPortMin      = 20000
	DefaultPortMax      = 32768 // Linux's ephemeral range starts here
	DefaultStartTimeout = 30 * time.Second
	pendingTTL          = 5 * time.Minute
)

// baseEnv is the environment every instance starts with.
var baseEnv = []string{
	"PATH=/usr/local/bin:/usr/bin:/bin",
	"HOME=/tmp",
	"LANG=C.UTF-8",
}

// Kind runs Go1.x functions. Set its fields before the first Program.
type Kind struct {
	// PortMin and PortMax bound the loopback ports handed to instances:
	// [PortMin, PortMax). Zero means the defaults.
	PortMin, PortMax int
	// StartTimeout bounds how long Load waits for the binary to listen
	// (the function's initializer timeout when that is longer). A binary
	// that is still not listening fails with runtime.ErrInitTime.
	StartTimeout time.Duration

	mu      sync.Mutex
	pending []*slot // Programs not attached yet, oldest first
}

// ports are the loopback ports of pending and attached instances of
// every Kind in the process.
var ports struct {
	mu   sync.Mutex
	used map[int]bool
	next int // where the next search starts, from the low end
}

// slot is a Program waiting for its Attach.
type slot struct {
	port  int
	fn    *runtime.Function
	timer *time.Timer
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
// with FunctionGraph's RUNTIME_* environment and a loopback port of its
// own in RUNTIME_API_ADDR. There are no generic instances: fn must be set.
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
	port, err := k.allocPort()
	if err != nil {
		return runtime.Program{}, err
	}
	env := runtime.Environ(baseEnv, fn)
	env = append(env,
		"RUNTIME_USERDATA="+userDataJSON(fn),
		"RUNTIME_API_ADDR="+net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
	)
	k.addPending(port, fn)
	return runtime.Program{
		Path: bin,
		Env:  dedupEnv(env),
		Dir:  codeDir(fn),
		Port: port,
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
	port, err := k.claim(p, fn)
	if err != nil {
		return nil, err
	}
	return newConn(k, p, port, fn), nil
}

// handlerPath is where the instance finds its binary.
func handlerPath(fn *runtime.Function) (string, error) {
	h := fn.Handler
	if h == "" || strings.HasPrefix(h, "/") || strings.ContainsRune(h, 0) || path.Clean(h) != h || h == "." || h == ".." || strings.HasPrefix(h, "../") {
		return "", &runtime.FuncError{Code: runtime.ErrEntry, Type: "InvalidHandler",
			Message: fmt.Sprintf("function entry exception, error: handler %q is not the name of an executable in the code package", h)}
	}
	return path.Join(codeDir(fn), h), nil
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
	if hostCodeDir(fn) == "" {
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
// data, which the SDK's GetUserData reads from this variable only (the
// encrypted values are not exported as variables of their own).
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

// allocPort returns a loopback port no instance uses and nothing on the
// host listens on.
func (k *Kind) allocPort() (int, error) {
	lo, hi := k.PortMin, k.PortMax
	if lo <= 0 {
		lo = DefaultPortMin
	}
	if hi <= lo {
		hi = max(DefaultPortMax, lo+1)
	}
	ports.mu.Lock()
	defer ports.mu.Unlock()
	if ports.used == nil {
		ports.used = make(map[int]bool)
	}
	n := hi - lo
	for i := 0; i < n; i++ {
		port := lo + (ports.next+i)%n
		if ports.used[port] {
			continue
		}
		ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			continue
		}
		ln.Close()
		ports.used[port] = true
		ports.next = (ports.next + i + 1) % n
		return port, nil
	}
	return 0, fmt.Errorf("gofn: no free loopback port in [%d, %d)", lo, hi)
}

// takePort marks port used; it reports false when it already was.
func takePort(port int) bool {
	ports.mu.Lock()
	defer ports.mu.Unlock()
	if ports.used[port] {
		return false
	}
	if ports.used == nil {
		ports.used = make(map[int]bool)
	}
	ports.used[port] = true
	return true
}

func releasePort(port int) {
	ports.mu.Lock()
	delete(ports.used, port)
	ports.mu.Unlock()
}

func (k *Kind) addPending(port int, fn *runtime.Function) {
	s := &slot{port: port, fn: fn}
	k.mu.Lock()
	defer k.mu.Unlock()
	s.timer = time.AfterFunc(pendingTTL, func() {
		k.mu.Lock()
		defer k.mu.Unlock()
		if k.removePendingLocked(s) {
			releasePort(s.port)
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
func (k *Kind) claim(p runtime.Process, fn *runtime.Function) (int, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if pp, ok := p.(interface{ Program() runtime.Program }); ok {
		port := pp.Program().Port
		for _, s := range k.pending {
			if s.port == port {
				s.timer.Stop()
				k.removePendingLocked(s)
				return port, nil
			}
		}
		if port > 0 && takePort(port) {
			// A forgotten Program: take its port back.
			return port, nil
		}
		return 0, fmt.Errorf("gofn: no pending Program with port %d", port)
	}
	for i := len(k.pending) - 1; i >= 0; i-- {
		if s := k.pending[i]; s.fn == fn {
			s.timer.Stop()
			k.removePendingLocked(s)
			return s.port, nil
		}
	}
	return 0, fmt.Errorf("gofn: Attach for function %q without a pending Program", fn.Name)
}
