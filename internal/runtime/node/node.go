// Package node is the runtime of FunctionGraph's Node.js functions: an
// embedded bootstrap, run by the node's Node.js, that requires the
// function's CommonJS module, calls exports.handler (async or with a
// callback) and speaks the frame protocol of package runtime with the
// supervisor.
package node

import (
	"context"
	_ "embed"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/openfgs/openfgs/internal/runtime"
)

//go:embed bootstrap.js
var bootstrap []byte

// Binaries are the paths searched for Node.js, in order. Version managers'
// shims (nvm, volta) are not used.
var Binaries = []string{"/usr/bin/node", "/usr/local/bin/node", "/usr/bin/nodejs"}

// Kind runs the Node.js runtimes on the node's Node.js.
type Kind struct {
	dir       string // host folder with the bootstrap, bound read-only at the same path
	bootstrap string // dir/bootstrap.js
	node      string // absolute path of node, "" if none
	missing   error

	versionOnce sync.Once
	major       int
	versionErr  error
}

var _ runtime.Kind = (*Kind)(nil)

// New writes the bootstrap into dir/node (creating it) and finds node.
// The executor must make dir/node readable at the same path inside
// sandboxes (Program.ReadOnly lists it). A machine without Node.js is not
// an error here: Available reports it.
func New(dir string) (*Kind, error) {
	dir, err := filepath.Abs(filepath.Join(dir, "node"))
	if err != nil {
		return nil, err
	}
	k := &Kind{dir: dir, bootstrap: filepath.Join(dir, "bootstrap.js")}
	if err := runtime.WriteBootstrap(k.bootstrap, bootstrap); err != nil {
		return nil, fmt.Errorf("node: write bootstrap: %w", err)
	}
	k.node, k.missing = findBinary(Binaries)
	return k, nil
}

// Binary is the node executable the Kind runs, or "" when there is none.
func (k *Kind) Binary() string { return k.node }

// Bootstrap is the path of the bootstrap file.
func (k *Kind) Bootstrap() string { return k.bootstrap }

// Available reports whether runtime (an API enum such as "Node.js16.17")
// can run here: on the installed Node.js when its major version is at
// least the enum's.
func (k *Kind) Available(rt string) error {
	major, ok := parseEnum(rt)
	if !ok {
		return fmt.Errorf("node: %q is not a Node.js runtime", rt)
	}
	if k.node == "" {
		return fmt.Errorf("node: %s needs Node.js: %w", rt, k.missing)
	}
	have, err := k.version()
	if err != nil {
		return fmt.Errorf("node: %s: %w", rt, err)
	}
	if major > have {
		return fmt.Errorf("node: %s needs Node.js %d or later; %s is Node.js %d", rt, major, k.node, have)
	}
	return nil
}

func (k *Kind) version() (int, error) {
	k.versionOnce.Do(func() {
		out, err := exec.Command(k.node, "--version").Output()
		if err != nil {
			k.versionErr = fmt.Errorf("%s --version: %w", k.node, err)
			return
		}
		v := strings.TrimPrefix(strings.TrimSpace(string(out)), "v")
		major, _, _ := strings.Cut(v, ".")
		k.major, err = strconv.Atoi(major)
		if err != nil {
			k.versionErr = fmt.Errorf("%s --version: unexpected %q", k.node, out)
		}
	})
	return k.major, k.versionErr
}

// Program returns the program of an instance of fn, or of a generic
// instance (fn == nil) that learns its function when it is loaded.
func (k *Kind) Program(fn *runtime.Function) (runtime.Program, error) {
	if fn == nil && k.node == "" {
		return runtime.Program{}, fmt.Errorf("node: no Node.js: %w", k.missing)
	}
	if fn != nil {
		if err := k.Available(fn.Runtime); err != nil {
			return runtime.Program{}, err
		}
	}
	return runtime.FrameProgram(k.node, []string{k.bootstrap}, k.dir, fn), nil
}

// Attach returns the Conn of a started instance.
func (k *Kind) Attach(ctx context.Context, p runtime.Process, fn *runtime.Function) (runtime.Conn, error) {
	return runtime.AttachFrames("node", p)
}

// parseEnum parses "Node.js16.17" into 16.
func parseEnum(rt string) (major int, ok bool) {
	v, found := strings.CutPrefix(rt, "Node.js")
	if !found {
		return 0, false
	}
	a, b, found := strings.Cut(v, ".")
	if !found {
		return 0, false
	}
	major, err := strconv.Atoi(a)
	if _, err2 := strconv.Atoi(b); err != nil || err2 != nil {
		return 0, false
	}
	return major, true
}

func findBinary(candidates []string) (string, error) {
	var tried []string
	for _, c := range candidates {
		real, err := filepath.EvalSymlinks(c)
		if err != nil {
			tried = append(tried, c)
			continue
		}
		if strings.Contains(real, "/.nvm/") || strings.Contains(real, "/.volta/") || strings.Contains(real, "/shims/") {
			tried = append(tried, c+" (a version manager's shim)")
			continue
		}
		info, err := os.Stat(real)
		if err != nil || info.IsDir() || info.Mode()&0o111 == 0 {
			tried = append(tried, c)
			continue
		}
		return real, nil
	}
	return "", fmt.Errorf("no node executable found (tried %s)", strings.Join(tried, ", "))
}
