package java_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/openfgs/openfgs/internal/runtime"
	"github.com/openfgs/openfgs/internal/runtime/java"
	"github.com/openfgs/openfgs/internal/sandbox"
)

// The tests share one Kind (the bootstrap compiles once per test run) and
// one builder of function jars.
var shared struct {
	once sync.Once
	dir  string
	kind *java.Kind
	b    *builder
	err  error
}

func TestMain(m *testing.M) {
	sandbox.InitMain() // the sandboxed tests re-execute this binary as a sandbox's init
	code := m.Run()
	if shared.dir != "" {
		os.RemoveAll(shared.dir)
	}
	os.Exit(code)
}

// setup returns the shared Kind and builder, skipping the test on a node
// without a JDK.
func setup(t testing.TB) (*java.Kind, *builder) {
	t.Helper()
	shared.once.Do(func() {
		// Under /tmp, searchable by others: sandboxes bind the bootstrap from it.
		dir, err := os.MkdirTemp("/tmp", "openfgs-java-test-")
		if err != nil {
			shared.err = err
			return
		}
		os.Chmod(dir, 0o755)
		shared.dir = dir
		k, err := java.New(dir)
		if err != nil {
			shared.err = err
			return
		}
		shared.kind = k
		if k.JDK() == "" {
			return
		}
		shared.b, shared.err = newBuilder(k, filepath.Join(dir, "builds"))
	})
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	if shared.kind.JDK() == "" {
		t.Skipf("no JDK: %v", shared.kind.Available("Java17"))
	}
	return shared.kind, shared.b
}

// builder compiles function sources into jars, as a user's build does,
// with testdata/BuildFunctions.java (see its comment); results are cached
// by content.
type builder struct {
	java   string
	cp     string // the API functions compile against
	helper string // folder with BuildFunctions.class
	dir    string

	mu    sync.Mutex
	cache map[string]*built
	n     int
}

// built is the result of one build.
type built struct {
	jar     string            // the jar; "" when javac refused the sources
	classes map[string]string // source path -> the first class it declares
	errors  string            // javac's errors
}

func newBuilder(k *java.Kind, dir string) (*builder, error) {
	helper := filepath.Join(dir, "helper")
	if err := os.MkdirAll(helper, 0o755); err != nil {
		return nil, err
	}
	javac := filepath.Join(k.JDK(), "bin", "javac")
	out, err := exec.Command(javac, "-J-XX:TieredStopAtLevel=1", "-d", helper, "testdata/BuildFunctions.java").CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("javac BuildFunctions.java: %v\n%s", err, out)
	}
	return &builder{
		java:   filepath.Join(k.JDK(), "bin", "java"),
		cp:     k.Classpath(),
		helper: helper,
		dir:    dir,
		cache:  map[string]*built{},
	}, nil
}

func buildKey(files map[string]string, release string) string {
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00", release)
	for _, n := range names {
		fmt.Fprintf(h, "%s\x00%d\x00%s", n, len(files[n]), files[n])
	}
	return hex.EncodeToString(h.Sum(nil))
}

// buildAll builds each set of source files (path -> text) for the javac
// release, in one run of the helper for those not built yet.
func (b *builder) buildAll(sets []map[string]string, release string) ([]*built, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var jobs []string
	jobKeys := map[string]string{}
	for _, files := range sets {
		key := buildKey(files, release)
		if _, ok := b.cache[key]; ok || jobKeys[key] != "" {
			continue
		}
		b.n++
		job := filepath.Join(b.dir, fmt.Sprintf("job%d", b.n))
		for name, text := range files {
			path := filepath.Join(job, "src", filepath.FromSlash(name))
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				return nil, err
			}
			if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
				return nil, err
			}
		}
		if err := os.WriteFile(filepath.Join(job, "release"), []byte(release), 0o644); err != nil {
			return nil, err
		}
		jobs = append(jobs, job)
		jobKeys[key] = job
	}
	if len(jobs) > 0 {
		args := append([]string{"-XX:TieredStopAtLevel=1", "-cp", b.helper, "BuildFunctions", b.cp}, jobs...)
		cmd := exec.Command(b.java, args...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			return nil, fmt.Errorf("BuildFunctions: %v\n%s", err, out.String())
		}
		for key, job := range jobKeys {
			r := &built{classes: map[string]string{}}
			if errs, err := os.ReadFile(filepath.Join(job, "errors")); err == nil {
				r.errors = string(errs)
			} else {
				r.jar = filepath.Join(job, "function.jar")
				lines, err := os.ReadFile(filepath.Join(job, "classes"))
				if err != nil {
					return nil, err
				}
				for _, l := range strings.Split(strings.TrimSpace(string(lines)), "\n") {
					if path, class, ok := strings.Cut(l, "\t"); ok {
						r.classes[path] = class
					}
				}
			}
			b.cache[key] = r
		}
	}
	out := make([]*built, len(sets))
	for i, files := range sets {
		out[i] = b.cache[buildKey(files, release)]
	}
	return out, nil
}

// jar builds files (which must compile) and returns the jar's path.
func (b *builder) jar(t testing.TB, files map[string]string, release string) string {
	t.Helper()
	r, err := b.buildAll([]map[string]string{files}, release)
	if err != nil {
		t.Fatal(err)
	}
	if r[0].jar == "" {
		t.Fatalf("javac: %s", r[0].errors)
	}
	return r[0].jar
}

// releaseOf is the javac release of a runtime enum: "Java8" -> "8".
func releaseOf(rt string) string {
	return strings.TrimPrefix(rt, "Java")
}

// sourcesIn returns the source files of a code folder the suite wrote:
// files without an extension or ending in .java.
func sourcesIn(dir string) (map[string]string, error) {
	files := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		ext := filepath.Ext(path)
		if ext != "" && ext != ".java" {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		files[filepath.ToSlash(rel)] = string(b)
		return nil
	})
	return files, err
}

// prepare builds the sources in fn's code folder into <code>/function.jar
// and returns fn with its handler and initializer translated from the
// suite's file vocabulary ("src/index.handler": method handler of the
// class in the file src/index) into Java's (package.Class.method). A
// handler naming no source file becomes the class its path spells
// ("src/index" -> src.index), which the runtime does not find. When javac
// refuses the sources, the error is the build's, as the suite expects of
// a syntax error.
func (b *builder) prepare(fn *runtime.Function) (*runtime.Function, error) {
	files, err := sourcesIn(fn.CodeDir)
	if err != nil || len(files) == 0 {
		return fn, err
	}
	r, err := b.buildAll([]map[string]string{files}, releaseOf(fn.Runtime))
	if err != nil {
		return nil, err
	}
	if r[0].errors != "" {
		first, _, _ := strings.Cut(r[0].errors, "\n")
		return nil, &runtime.FuncError{Code: runtime.ErrEntry, Type: "SyntaxError",
			Message: "function entry exception: " + first}
	}
	if err := copyFile(r[0].jar, filepath.Join(fn.CodeDir, "function.jar")); err != nil {
		return nil, err
	}
	out := *fn
	out.Handler = translate(fn.Handler, r[0].classes)
	out.InitializerHandler = translate(fn.InitializerHandler, r[0].classes)
	return &out, nil
}

func translate(spec string, classes map[string]string) string {
	path, method, ok := cutLast(spec, ".")
	if !ok {
		return spec
	}
	for src, class := range classes {
		if strings.TrimSuffix(src, ".java") == path {
			return class + "." + method
		}
	}
	return strings.ReplaceAll(path, "/", ".") + "." + method
}

func cutLast(s, sep string) (before, after string, found bool) {
	i := strings.LastIndex(s, sep)
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+len(sep):], true
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// builtKind is the Java Kind behind a build step: each Load first builds
// the function's sources (see builder.prepare). It lets the shared suite,
// which writes source files, run Java functions as jars.
type builtKind struct {
	*java.Kind
	b *builder
}

func (k builtKind) Attach(ctx context.Context, p runtime.Process, fn *runtime.Function) (runtime.Conn, error) {
	c, err := k.Kind.Attach(ctx, p, fn)
	if err != nil {
		return nil, err
	}
	return &builtConn{Conn: c, b: k.b}, nil
}

type builtConn struct {
	runtime.Conn
	b *builder
}

func (c *builtConn) Load(ctx context.Context, fn *runtime.Function) error {
	built, err := c.b.prepare(fn)
	if err != nil {
		return err
	}
	return c.Conn.Load(ctx, built)
}
