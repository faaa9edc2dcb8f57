// Package java is the runtime of FunctionGraph's Java functions (Java8,
// Java11, Java17, and Java21 on a JDK 21 or newer): an embedded bootstrap,
// compiled once by the node's JDK, that loads the function's jar or zip
// with its own class loader, calls public <Result> method(<Event> event,
// Context context) and speaks the frame protocol of package runtime with
// the supervisor.
//
// The bootstrap also provides the API functions are compiled against:
// com.huawei.services.runtime.Context and RuntimeLogger, and the event
// classes of com.huawei.services.runtime.entity (apig, timer, smn, lts,
// dis). It has its own JSON reader and writer, so a JDK is all the
// runtime needs. The Java sources are under src/.
//
// Java 8 and 11 bytecode runs on the JDK 17 the node has; every Java enum
// up to the JDK's own version runs on it.
package java

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/openfgs/openfgs/internal/runtime"
)

//go:embed src
var sources embed.FS

// Runtimes are the API enums of the Java runtime.
var Runtimes = []string{"Java8", "Java11", "Java17", "Java21"}

// JDKs are the JDK homes tried, in order, before the JDK of /usr/bin/javac
// and then every folder of /usr/lib/jvm. The first with bin/java, bin/javac
// and a release file saying 17 or newer is used.
var JDKs = []string{
	"/usr/lib/jvm/java-17-openjdk-amd64",
	"/usr/lib/jvm/java-17-openjdk-arm64",
	"/usr/lib/jvm/java-21-openjdk-amd64",
	"/usr/lib/jvm/java-21-openjdk-arm64",
	"/usr/lib/jvm/default-java",
}

// MinJDK is the oldest JDK the bootstrap runs on.
const MinJDK = 17

// DefaultGenericHeapMB is the heap limit of a generic instance (Program(nil)):
// it cannot know the memory of the function it will serve. See Program.
const DefaultGenericHeapMB = 3072

// mainClass is the bootstrap's entry point.
const mainClass = "org.openfgs.runtime.Main"

// warmArg makes a generic instance load the classes of the Load and
// Invoke paths before it says it is ready (see Warmup.java).
const warmArg = "--warm-before-ready"

// buildVersion changes when the way the bootstrap is compiled changes, so
// that a cached jar built the old way is not reused.
const buildVersion = "1"

// systemDirs are the host folders every sandbox has read-only at the same
// path (see package sandbox).
var systemDirs = []string{"/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"}

// Kind runs the Java runtimes on one JDK.
type Kind struct {
	// GenericHeapMB is the -Xmx, in MB, of generic instances
	// (DefaultGenericHeapMB unless set before the first Program(nil)).
	GenericHeapMB int

	dir     string // host folder with the compiled bootstrap, bound read-only
	jar     string // dir/bootstrap-<JDK>-<hash>.jar: bootstrap and API classes
	home    string // the JDK's home, symlinks resolved; "" if none
	java    string // home/bin/java
	version int    // the JDK's feature version (17, 21, ...)
	missing error  // why the runtime cannot run here
}

var _ runtime.Kind = (*Kind)(nil)

// New finds the node's JDK (see JDKs) and compiles the bootstrap into
// dir/java unless a jar of the same sources is already there; the first
// compile takes a few seconds. The executor must make dir/java readable
// inside sandboxes (Program.ReadOnly lists it). A node without a JDK is
// not an error here: Available reports it.
func New(dir string) (*Kind, error) {
	return NewJDK(dir, "")
}

// NewJDK is New with the JDK at home (a JDK 17 or newer) rather than the
// one found; "" means the one found.
func NewJDK(dir, home string) (*Kind, error) {
	dir, err := filepath.Abs(filepath.Join(dir, "java"))
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("java: %w", err)
	}
	os.Chmod(dir, 0o755)
	k := &Kind{dir: dir, GenericHeapMB: DefaultGenericHeapMB}
	if home != "" {
		k.home, k.version, k.missing = checkJDK(home)
	} else {
		k.home, k.version, k.missing = findJDK()
	}
	if k.missing != nil {
		return k, nil
	}
	k.java = filepath.Join(k.home, "bin", "java")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	k.jar, err = build(ctx, dir, k.home)
	if err != nil {
		var ce *compileError
		if errors.As(err, &ce) {
			// The JDK could not compile the bootstrap: this node cannot
			// run Java, but the other runtimes can.
			k.missing = err
			return k, nil
		}
		return nil, fmt.Errorf("java: %w", err)
	}
	return k, nil
}

// JDK is the home of the JDK the Kind runs, or "" when there is none.
func (k *Kind) JDK() string { return k.home }

// JDKVersion is the feature version of the JDK (17, 21, ...), 0 when there
// is none.
func (k *Kind) JDKVersion() int { return k.version }

// Classpath is the jar of the bootstrap, which holds the API functions are
// compiled against (com.huawei.services.runtime); "" when there is none.
func (k *Kind) Classpath() string { return k.jar }

// Available reports whether runtime (an API enum such as "Java17") can run
// here: every Java enum up to the JDK's version runs on it.
func (k *Kind) Available(rt string) error {
	v, ok := parseEnum(rt)
	if !ok {
		return fmt.Errorf("java: %q is not a Java runtime", rt)
	}
	if !known(v) {
		return fmt.Errorf("java: %s is not a FunctionGraph Java runtime (%s)", rt, strings.Join(Runtimes, ", "))
	}
	if k.missing != nil {
		return fmt.Errorf("java: %s needs a JDK %d+ (javac and java): %w", rt, max(v, MinJDK), k.missing)
	}
	if v > k.version {
		return fmt.Errorf("java: %s needs a JDK %d+; the JDK found is %d (%s)", rt, v, k.version, k.home)
	}
	return nil
}

func known(v int) bool {
	for _, rt := range Runtimes {
		if w, _ := parseEnum(rt); w == v {
			return true
		}
	}
	return false
}

// parseEnum parses "Java17" into 17.
func parseEnum(rt string) (int, bool) {
	v, found := strings.CutPrefix(rt, "Java")
	if !found {
		return 0, false
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 || strconv.Itoa(n) != v {
		return 0, false
	}
	return n, true
}

// Program returns the program of an instance of fn, or of a generic
// instance (fn == nil) that learns its function when it is loaded (and
// warms up before it says it is ready).
//
// The JVM gets a heap of 75% of the function's memory (the sandbox has no
// /sys: the JVM cannot see its cgroup limit), serial GC, class data
// sharing, and no perf data file. A generic instance cannot know the
// memory of the function it will serve: its heap limit is GenericHeapMB,
// and the memory limit the executor gives its cgroup once it adopts a
// function is what really bounds it.
func (k *Kind) Program(fn *runtime.Function) (runtime.Program, error) {
	if fn == nil {
		if k.missing != nil {
			return runtime.Program{}, fmt.Errorf("java: no JDK: %w", k.missing)
		}
		heap := k.GenericHeapMB
		if heap <= 0 {
			heap = DefaultGenericHeapMB
		}
		return runtime.Program{
			Path: k.java,
			Args: append(k.args(heap), warmArg),
			Env:  k.baseEnv(),
			// Java cannot change its working folder once started: leave
			// it to the sandbox, whose default is the code folder (a
			// generic instance's own, empty until it adopts a function),
			// as a specialized instance's is.
			Dir:      "",
			ReadOnly: k.readOnly(),
			Pipes:    true,
		}, nil
	}
	if err := k.Available(fn.Runtime); err != nil {
		return runtime.Program{}, err
	}
	mem := fn.MemoryMB
	if mem <= 0 {
		mem = 128
	}
	return runtime.Program{
		Path:     k.java,
		Args:     k.args(heapMB(mem)),
		Env:      runtime.Environ(k.baseEnv(), fn),
		Dir:      runtime.CodeDirOf(fn),
		ReadOnly: k.readOnly(),
		Pipes:    true,
	}, nil
}

// heapMB is the -Xmx of a function with mem MB: 75%, at least 16 MB.
func heapMB(mem int) int {
	return max(mem*3/4, 16)
}

// args are the JVM's arguments.
func (k *Kind) args(heap int) []string {
	return []string{
		"-Xmx" + strconv.Itoa(heap) + "m",
		"-Xms" + strconv.Itoa(min(heap, 32)) + "m",
		"-XX:+UseSerialGC",
		"-Xshare:auto",
		"-XX:-UsePerfData",
		"-Djava.io.tmpdir=/tmp",
		"-Dfile.encoding=UTF-8",
		// The bootstrap reads and writes the inherited fds 3 and 4, and
		// adds Load's variables to System.getenv().
		"--add-opens=java.base/java.io=ALL-UNNAMED",
		"--add-opens=java.base/java.util=ALL-UNNAMED",
		"-cp", k.jar,
		mainClass,
	}
}

// baseEnv is the environment an instance starts with, before the
// function's variables.
func (k *Kind) baseEnv() []string {
	return append(runtime.BaseEnv(), "JAVA_HOME="+k.home)
}

// readOnly lists the bootstrap's folder, and the JDK when it is not in a
// folder every sandbox has (/usr/lib/jvm is).
func (k *Kind) readOnly() []string {
	ro := []string{k.dir}
	if !inSystemDir(k.home) {
		ro = append(ro, k.home)
	}
	return ro
}

func inSystemDir(path string) bool {
	for _, d := range systemDirs {
		if path == d || strings.HasPrefix(path, d+"/") {
			return true
		}
	}
	return false
}

// Attach returns the Conn of a started instance.
func (k *Kind) Attach(ctx context.Context, p runtime.Process, fn *runtime.Function) (runtime.Conn, error) {
	return runtime.AttachFrames("java", p)
}

// ---- finding a JDK ---------------------------------------------------------

// findJDK returns the first JDK 17+ of JDKs, the JDK of /usr/bin/javac and
// the folders of /usr/lib/jvm.
func findJDK() (home string, version int, err error) {
	candidates := append([]string(nil), JDKs...)
	if javac, err := filepath.EvalSymlinks("/usr/bin/javac"); err == nil {
		candidates = append(candidates, filepath.Dir(filepath.Dir(javac)))
	}
	if entries, err := os.ReadDir("/usr/lib/jvm"); err == nil {
		for _, e := range entries {
			candidates = append(candidates, filepath.Join("/usr/lib/jvm", e.Name()))
		}
	}
	var tried []string
	seen := map[string]bool{}
	for _, c := range candidates {
		real, err := filepath.EvalSymlinks(c)
		if err != nil || seen[real] {
			continue
		}
		seen[real] = true
		home, version, err := checkJDK(real)
		if err == nil {
			return home, version, nil
		}
		tried = append(tried, err.Error())
	}
	if len(tried) == 0 {
		return "", 0, errors.New("no JDK found (tried " + strings.Join(JDKs, ", ") + ", /usr/bin/javac and /usr/lib/jvm)")
	}
	return "", 0, errors.New("no JDK 17+ found: " + strings.Join(tried, "; "))
}

// checkJDK says whether home is a JDK 17 or newer, with its version.
func checkJDK(home string) (string, int, error) {
	real, err := filepath.EvalSymlinks(home)
	if err != nil {
		return "", 0, fmt.Errorf("%s: %w", home, err)
	}
	for _, tool := range []string{"java", "javac"} {
		info, err := os.Stat(filepath.Join(real, "bin", tool))
		if err != nil || info.IsDir() || info.Mode()&0o111 == 0 {
			return "", 0, fmt.Errorf("%s has no bin/%s", real, tool)
		}
	}
	version, err := releaseVersion(filepath.Join(real, "release"))
	if err != nil {
		return "", 0, fmt.Errorf("%s: %w", real, err)
	}
	if version < MinJDK {
		return "", 0, fmt.Errorf("%s is a JDK %d, older than %d", real, version, MinJDK)
	}
	return real, version, nil
}

// releaseVersion reads the feature version from a JDK's release file
// (JAVA_VERSION="17.0.15", or "1.8.0_402" for 8).
func releaseVersion(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("no release file: %w", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		v, ok := strings.CutPrefix(line, "JAVA_VERSION=")
		if !ok {
			continue
		}
		v = strings.Trim(strings.TrimSpace(v), `"`)
		v = strings.TrimPrefix(v, "1.")
		end := strings.IndexFunc(v, func(r rune) bool { return r < '0' || r > '9' })
		if end >= 0 {
			v = v[:end]
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			return 0, fmt.Errorf("bad JAVA_VERSION in %s", path)
		}
		return n, nil
	}
	return 0, fmt.Errorf("no JAVA_VERSION in %s", path)
}

// ---- compiling the bootstrap -----------------------------------------------

// compileError is javac failing on the bootstrap's sources.
type compileError struct{ msg string }

func (e *compileError) Error() string { return e.msg }

// build returns dir/bootstrap-<JDK>-<hash>.jar, compiling the sources with
// the JDK at home unless it is there already. The hash covers the sources,
// the JDK's release file and buildVersion. The JDK's jars of other hashes
// are removed.
func build(ctx context.Context, dir, home string) (string, error) {
	release, _ := os.ReadFile(filepath.Join(home, "release"))
	h := sha256.New()
	io.WriteString(h, buildVersion+"\x00")
	h.Write(release)
	files, err := sourceFiles()
	if err != nil {
		return "", err
	}
	for _, f := range files {
		b, err := sources.ReadFile(f)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "\x00%s\x00%d\x00", f, len(b))
		h.Write(b)
	}
	// Kinds of different JDKs may share dir: each has its own jars.
	jdk := sha256.Sum256([]byte(home))
	prefix := "bootstrap-" + hex.EncodeToString(jdk[:])[:8] + "-"
	jar := filepath.Join(dir, prefix+hex.EncodeToString(h.Sum(nil))[:16]+".jar")
	if info, err := os.Stat(jar); err == nil && info.Mode().IsRegular() && info.Size() > 0 {
		return jar, nil
	}

	tmp, err := os.MkdirTemp(dir, ".build-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	src := filepath.Join(tmp, "src")
	classes := filepath.Join(tmp, "classes")
	var api, boot []string
	for _, f := range files {
		b, _ := sources.ReadFile(f)
		path := filepath.Join(src, filepath.FromSlash(strings.TrimPrefix(f, "src/")))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return "", err
		}
		if err := os.WriteFile(path, b, 0o644); err != nil {
			return "", err
		}
		if strings.HasPrefix(f, "src/com/") {
			api = append(api, path)
		} else {
			boot = append(boot, path)
		}
	}
	javac := filepath.Join(home, "bin", "javac")
	// The API as Java 8 bytecode, so that functions for every Java enum
	// compile against it; the bootstrap as Java 17.
	if err := compile(ctx, javac, "8", classes, "", api); err != nil {
		if err2 := compile(ctx, javac, "11", classes, "", api); err2 != nil {
			return "", err
		}
	}
	if err := compile(ctx, javac, strconv.Itoa(MinJDK), classes, classes, boot); err != nil {
		return "", err
	}
	out := filepath.Join(tmp, "bootstrap.jar")
	if err := zipDir(classes, out); err != nil {
		return "", err
	}
	if err := os.Chmod(out, 0o644); err != nil {
		return "", err
	}
	if err := os.Rename(out, jar); err != nil {
		return "", err
	}
	// Older builds for this JDK: nothing uses them once this process runs.
	if old, err := filepath.Glob(filepath.Join(dir, prefix+"*.jar")); err == nil {
		for _, o := range old {
			if o != jar {
				os.Remove(o)
			}
		}
	}
	return jar, nil
}

func sourceFiles() ([]string, error) {
	var files []string
	err := fs.WalkDir(sources, "src", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(path, ".java") {
			files = append(files, path)
		}
		return nil
	})
	sort.Strings(files)
	return files, err
}

// compile runs javac on files, for the given release, into out.
func compile(ctx context.Context, javac, release, out, classpath string, files []string) error {
	args := []string{"-J-XX:TieredStopAtLevel=1", "-J-XX:+UseSerialGC", "-J-Xshare:auto",
		"--release", release, "-Xlint:-options", "-nowarn", "-g", "-encoding", "UTF-8", "-d", out}
	if classpath != "" {
		args = append(args, "-cp", classpath)
	}
	args = append(args, files...)
	cmd := exec.CommandContext(ctx, javac, args...)
	// Nothing of our environment (JAVA_TOOL_OPTIONS, CLASSPATH) may change the build.
	cmd.Env = []string{"PATH=/usr/bin:/bin", "LANG=C.UTF-8"}
	var stderr bytes.Buffer
	cmd.Stdout = &stderr
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if len(msg) > 2000 {
			msg = msg[:2000] + "..."
		}
		return &compileError{fmt.Sprintf("javac --release %s of the bootstrap: %v: %s", release, err, msg)}
	}
	return nil
}

// zipDir writes the files under dir into a new jar at out, uncompressed
// (the JVM reads stored entries without inflating them).
func zipDir(dir, out string) error {
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	zw := zip.NewWriter(f)
	manifest, err := zw.CreateHeader(&zip.FileHeader{Name: "META-INF/MANIFEST.MF", Method: zip.Store})
	if err == nil {
		_, err = io.WriteString(manifest, "Manifest-Version: 1.0\r\nCreated-By: openfgs\r\nMain-Class: "+mainClass+"\r\n\r\n")
	}
	if err == nil {
		err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			rel, err := filepath.Rel(dir, path)
			if err != nil {
				return err
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			w, err := zw.CreateHeader(&zip.FileHeader{Name: filepath.ToSlash(rel), Method: zip.Store})
			if err != nil {
				return err
			}
			_, err = w.Write(b)
			return err
		})
	}
	if cerr := zw.Close(); err == nil {
		err = cerr
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
