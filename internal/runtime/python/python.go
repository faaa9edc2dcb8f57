// Package python is the runtime of FunctionGraph's Python 3 functions:
// an embedded bootstrap, run by the node's real python3 interpreter, that
// imports the function's module, calls handler(event, context) and speaks
// the frame protocol of package runtime with the supervisor.
package python

import (
	"context"
	_ "embed"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/openfgs/openfgs/internal/runtime"
)

//go:embed bootstrap.py
var bootstrap []byte

// Interpreters are the paths searched for a Python 3 interpreter, in order.
// Version managers' shims (pyenv) are never used: they are slow to start
// and live in folders a sandboxed user cannot read.
var Interpreters = []string{
	"/usr/bin/python3.11",
	"/usr/bin/python3.12",
	"/usr/bin/python3.13",
	"/usr/bin/python3.10",
	"/usr/bin/python3.9",
	"/usr/bin/python3",
	"/usr/local/bin/python3",
}

// Kind runs the Python3.x runtimes on the node's Python 3 interpreter.
type Kind struct {
	dir       string // host folder with the bootstrap, bound read-only at the same path
	bootstrap string // dir/bootstrap.py
	python    string // absolute path of the interpreter, "" if none
	major     int
	minor     int
	missing   error // why there is no interpreter
}

var _ runtime.Kind = (*Kind)(nil)

// New writes the bootstrap into dir/python (creating it) and finds the
// interpreter. The executor must make dir/python readable at the same path
// inside sandboxes (Program.ReadOnly lists it). A node without Python 3 is
// not an error here: Available reports it.
func New(dir string) (*Kind, error) {
	dir, err := filepath.Abs(filepath.Join(dir, "python"))
	if err != nil {
		return nil, err
	}
	k := &Kind{dir: dir, bootstrap: filepath.Join(dir, "bootstrap.py")}
	if err := runtime.WriteBootstrap(k.bootstrap, bootstrap); err != nil {
		return nil, fmt.Errorf("python: write bootstrap: %w", err)
	}
	k.python, k.major, k.minor, k.missing = findInterpreter(Interpreters)
	return k, nil
}

// Interpreter is the interpreter the Kind runs, or "" when there is none.
func (k *Kind) Interpreter() string { return k.python }

// Bootstrap is the path of the bootstrap file.
func (k *Kind) Bootstrap() string { return k.bootstrap }

// Available reports whether runtime (an API enum such as "Python3.9") can
// run here. Every Python 3 enum runs on the installed interpreter when it
// is at least as new as the enum's version.
func (k *Kind) Available(rt string) error {
	major, minor, ok := parseEnum(rt)
	if !ok {
		return fmt.Errorf("python: %q is not a Python runtime", rt)
	}
	if major != 3 {
		return fmt.Errorf("python: %s needs a Python %d.%d interpreter and its bootstrap; openfgs runs only Python 3", rt, major, minor)
	}
	if k.python == "" {
		return fmt.Errorf("python: %s needs a Python 3 interpreter: %w", rt, k.missing)
	}
	if minor > k.minor {
		return fmt.Errorf("python: %s needs /usr/bin/python3.%d; the newest found is %s (%d.%d)", rt, minor, k.python, k.major, k.minor)
	}
	return nil
}

// Program returns the program of an instance of fn, or of a generic
// instance (fn == nil) that learns its function when it is loaded.
func (k *Kind) Program(fn *runtime.Function) (runtime.Program, error) {
	if fn == nil && k.python == "" {
		return runtime.Program{}, fmt.Errorf("python: no interpreter: %w", k.missing)
	}
	if fn != nil {
		if err := k.Available(fn.Runtime); err != nil {
			return runtime.Program{}, err
		}
	}
	return runtime.FrameProgram(k.python, []string{"-I", "-S", "-B", k.bootstrap}, k.dir, fn), nil
}

// Attach returns the Conn of a started instance.
func (k *Kind) Attach(ctx context.Context, p runtime.Process, fn *runtime.Function) (runtime.Conn, error) {
	return runtime.AttachFrames("python", p)
}

// parseEnum parses "Python3.9" into 3, 9.
func parseEnum(rt string) (major, minor int, ok bool) {
	v, found := strings.CutPrefix(rt, "Python")
	if !found {
		return 0, 0, false
	}
	a, b, found := strings.Cut(v, ".")
	if !found {
		return 0, 0, false
	}
	major, err1 := strconv.Atoi(a)
	minor, err2 := strconv.Atoi(b)
	if err1 != nil || err2 != nil {
		return 0, 0, false
	}
	return major, minor, true
}

// findInterpreter returns the first candidate that is a real Python 3
// executable (symlinks resolved), with its version.
func findInterpreter(candidates []string) (path string, major, minor int, err error) {
	var tried []string
	for _, c := range candidates {
		real, err := filepath.EvalSymlinks(c)
		if err != nil {
			tried = append(tried, c)
			continue
		}
		if strings.Contains(real, "/.pyenv/") || strings.Contains(real, "/shims/") {
			tried = append(tried, c+" (a version manager's shim)")
			continue
		}
		info, err := os.Stat(real)
		if err != nil || info.IsDir() || info.Mode()&0o111 == 0 {
			tried = append(tried, c)
			continue
		}
		major, minor, ok := versionOf(real)
		if !ok || major != 3 {
			tried = append(tried, c+" (not Python 3)")
			continue
		}
		return real, major, minor, nil
	}
	return "", 0, 0, fmt.Errorf("no Python 3 interpreter found (tried %s)", strings.Join(tried, ", "))
}

// versionOf reads the version from the file name (python3.11), or asks
// the interpreter.
func versionOf(path string) (major, minor int, ok bool) {
	if a, b, found := strings.Cut(strings.TrimPrefix(filepath.Base(path), "python"), "."); found {
		m1, err1 := strconv.Atoi(a)
		m2, err2 := strconv.Atoi(b)
		if err1 == nil && err2 == nil {
			return m1, m2, true
		}
	}
	out, err := exec.Command(path, "-I", "-S", "-c", "import sys; print(sys.version_info[0], sys.version_info[1])").Output()
	if err != nil {
		return 0, 0, false
	}
	f := strings.Fields(string(out))
	if len(f) != 2 {
		return 0, 0, false
	}
	m1, err1 := strconv.Atoi(f[0])
	m2, err2 := strconv.Atoi(f[1])
	return m1, m2, err1 == nil && err2 == nil
}
