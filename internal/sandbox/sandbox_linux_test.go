package sandbox

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	osexec "os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// The test binary is its own sandbox init helper.
func TestMain(m *testing.M) {
	InitMain()
	os.Exit(m.Run())
}

const python = "/usr/bin/python3.11"

var idSeq atomic.Int64

func newID() string { return fmt.Sprintf("test-%d-%d", os.Getpid(), idSeq.Add(1)) }

func requireSupported(t *testing.T) {
	t.Helper()
	if err := Supported(); err != nil {
		t.Skipf("sandboxes do not work on this host: %v", err)
	}
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func shSpec(script string) Spec {
	return Spec{ID: newID(), Path: "/bin/sh", Args: []string{"-c", script}, TmpSize: 16 << 20, MemoryBytes: 256 << 20, Pids: 64}
}

// run starts spec, waits for it and returns its exit and output.
func run(t *testing.T, spec Spec) (Exit, string, string) {
	t.Helper()
	stdout, stderr := NewBoundedBuffer(1<<20), NewBoundedBuffer(1<<20)
	spec.Stdout, spec.Stderr = stdout, stderr
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := Start(ctx, spec, testLogger(t))
	if err != nil {
		t.Fatalf("Start(%s) = %v", spec.Path, err)
	}
	select {
	case <-s.Done():
	case <-ctx.Done():
		s.Stop(context.Background(), 0)
		t.Fatalf("%s did not finish in time; stdout %q stderr %q", spec.Path, stdout, stderr)
	}
	return s.Wait(), stdout.String(), stderr.String()
}

// started is a running sandbox whose stdout the test reads line by line
// and whose stdin it holds.
type started struct {
	*Sandbox
	out   *bufio.Reader
	stdin *os.File
}

func startPiped(t *testing.T, spec Spec) *started {
	t.Helper()
	inR, inW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	spec.Stdin, spec.Stdout, spec.Stderr = inR, outW, tWriter{t}
	s, err := Start(context.Background(), spec, testLogger(t))
	inR.Close()
	outW.Close()
	if err != nil {
		t.Fatalf("Start = %v", err)
	}
	st := &started{Sandbox: s, out: bufio.NewReader(outR), stdin: inW}
	t.Cleanup(func() {
		s.Stop(context.Background(), 0)
		inW.Close()
		outR.Close()
	})
	return st
}

// until reads stdout lines until one starts with prefix, and returns them.
func (s *started) until(t *testing.T, prefix string) []string {
	t.Helper()
	var lines []string
	for {
		line, err := s.out.ReadString('\n')
		line = strings.TrimRight(line, "\n")
		if line != "" {
			lines = append(lines, line)
		}
		if strings.HasPrefix(line, prefix) {
			return lines
		}
		if err != nil {
			t.Fatalf("stdout ended before %q: %v; got %q", prefix, err, lines)
		}
	}
}

func mountinfo(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// hostIsFine checks that the host's root is writable and /tmp is the one
// it was.
func hostIsFine(t *testing.T, tmpDev uint64) {
	t.Helper()
	probe := "/work/main/.sandbox-probe"
	if _, err := os.Stat("/work/main"); err != nil {
		probe = filepath.Join(os.TempDir(), "..", ".sandbox-probe")
	}
	if err := os.WriteFile(probe, nil, 0o644); err != nil {
		t.Fatalf("HOST DAMAGED? cannot write %s: %v", probe, err)
	}
	os.Remove(probe)
	var st syscall.Stat_t
	if err := syscall.Stat("/tmp", &st); err != nil {
		t.Fatalf("HOST DAMAGED? stat /tmp: %v", err)
	}
	if st.Dev != tmpDev {
		t.Fatalf("HOST DAMAGED? /tmp is now on device %d, was %d", st.Dev, tmpDev)
	}
	f, err := os.CreateTemp("/tmp", "sandbox-probe-")
	if err != nil {
		t.Fatalf("HOST DAMAGED? /tmp: %v", err)
	}
	f.Close()
	os.Remove(f.Name())
}

func devOf(t *testing.T, p string) uint64 {
	var st syscall.Stat_t
	if err := syscall.Stat(p, &st); err != nil {
		t.Fatal(err)
	}
	return st.Dev
}

// nsProcs returns the host pids of processes in the pid namespace link.
func nsProcs(link string) []int {
	var pids []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if l, err := os.Readlink("/proc/" + e.Name() + "/ns/pid"); err == nil && l == link {
			pids = append(pids, pid)
		}
	}
	return pids
}

// codeDir makes a code folder the sandbox can reach (t.TempDir's parent
// is 0700).
func codeDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "sandbox-code-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "hello.txt"), []byte("hello from code\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// closedCodeDir makes a code folder under a folder only root can search
// (t.TempDir's parent is 0700 root; the test makes sure of it).
func closedCodeDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.Chmod(filepath.Dir(dir), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "hello.txt"), []byte("hello from code\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// Code and read-only folders under a folder the sandbox's ids cannot
// search still appear, read-only: the supervisor opens them.
func TestSandbox_SourcesUnderClosedFolder(t *testing.T) {
	requireSupported(t)
	code := closedCodeDir(t)
	extra := closedCodeDir(t)
	spec := shSpec(`cat /opt/function/code/hello.txt /opt/extra/hello.txt
touch /opt/function/code/x 2>/dev/null && echo "writable code"
touch /opt/extra/x 2>/dev/null && echo "writable extra"
echo done`)
	spec.CodeDir = code
	spec.ExtraRO = []Mount{{Source: extra, Target: "/opt/extra"}, {Source: filepath.Join(extra, "hello.txt"), Target: "/opt/one.txt"}}
	exit, out, stderr := run(t, spec)
	if want := "hello from code\nhello from code\ndone\n"; !exit.Success() || out != want {
		t.Errorf("exit %v, output %q (stderr %q), want %q", exit, out, stderr, want)
	}
}

func TestSandbox_MountSafety(t *testing.T) {
	requireSupported(t)
	tmpDev := devOf(t, "/tmp")
	before := mountinfo(t)
	code := codeDir(t)

	// A good one, and ones that fail at every stage: spec validation, the
	// supervisor's source check, init's mount setup, the exec.
	exit, out, _ := run(t, Spec{ID: newID(), Path: "/bin/cat", Args: []string{"/opt/function/code/hello.txt"}, CodeDir: code})
	if !exit.Success() || out != "hello from code\n" {
		t.Errorf("cat = %v %q", exit, out)
	}
	// One whose code is under a folder closed to others.
	exit, out, _ = run(t, Spec{ID: newID(), Path: "/bin/cat", Args: []string{"/opt/function/code/hello.txt"}, CodeDir: closedCodeDir(t)})
	if !exit.Success() || out != "hello from code\n" {
		t.Errorf("cat = %v %q", exit, out)
	}
	failing := []Spec{
		{ID: "bad id!", Path: "/bin/true"},
		{ID: newID(), Path: "/bin/true", CodeDir: "/nonexistent/code"},
		{ID: newID(), Path: "/bin/true", CodeDir: code, ExtraRO: []Mount{{Source: "/etc/hostname", Target: "/opt/function/code/x"}}},
		{ID: newID(), Path: "/nonexistent"},
		{ID: newID(), Path: "/bin/true", Dir: "/nonexistent"},
	}
	for _, spec := range failing {
		s, err := Start(context.Background(), spec, testLogger(t))
		if err == nil {
			s.Stop(context.Background(), 0)
			t.Errorf("Start(%+v) succeeded, want an error", spec)
			continue
		}
		t.Logf("Start(%s, code %q, extra %v) = %v (fault %s)", spec.Path, spec.CodeDir, spec.ExtraRO, err, FaultOf(err))
	}
	// Stopped while running.
	s := startPiped(t, shSpec("echo ready; sleep 1000"))
	s.until(t, "ready")
	s.Stop(context.Background(), time.Second)

	if after := mountinfo(t); after != before {
		t.Fatalf("HOST MOUNTS CHANGED\nbefore:\n%s\nafter:\n%s", before, after)
	}
	hostIsFine(t, tmpDev)
}

// TestSandbox_InitRefuses runs the init helper where it must not set up
// anything. Its control pipe is already closed, so even a broken gate would
// stop at reading the config, before any mount: exit 121 means the gate
// refused, 123 that it let the helper through.
func TestSandbox_InitRefuses(t *testing.T) {
	requireSupported(t)
	before := mountinfo(t)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	var ns []string
	for _, name := range []string{"mnt", "pid", "user"} {
		l, err := os.Readlink("/proc/self/ns/" + name)
		if err != nil {
			t.Fatal(err)
		}
		ns = append(ns, name+"="+l)
	}
	for _, tc := range []struct {
		name  string
		flags uintptr
	}{
		{"not pid 1", 0},
		{"pid 1 in the host mount namespace", syscall.CLONE_NEWPID},
		{"own mount namespace but the host user namespace", syscall.CLONE_NEWPID | syscall.CLONE_NEWNS},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctlR, ctlW, _ := os.Pipe()
			ctlW.Close()
			defer ctlR.Close()
			repR, repW, _ := os.Pipe()
			defer repR.Close()
			cmd := &osexec.Cmd{
				Path:        exe,
				Args:        []string{initArg0},
				Env:         []string{initEnv + "=ctl=3;rep=4;exe=3;" + strings.Join(ns, ";")},
				ExtraFiles:  []*os.File{ctlR, repW},
				SysProcAttr: &syscall.SysProcAttr{Cloneflags: tc.flags},
			}
			err := cmd.Run()
			repW.Close()
			report, _ := io.ReadAll(repR)
			if code := cmd.ProcessState.ExitCode(); code != initExitRefused {
				t.Errorf("init helper exit = %d (%v), want %d (refused); report %s", code, err, initExitRefused, report)
			}
			if !strings.Contains(string(report), "refusing") {
				t.Errorf("report %q does not say it refused", report)
			}
			t.Logf("%s", report)
		})
	}
	if after := mountinfo(t); after != before {
		t.Fatalf("HOST MOUNTS CHANGED\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

func TestSandbox_StartErrorFaults(t *testing.T) {
	requireSupported(t)
	for _, tc := range []struct {
		name string
		spec Spec
		want Fault
	}{
		{"bad spec", Spec{ID: "x", Path: "relative"}, FaultPlatform},
		{"missing code dir", Spec{ID: newID(), Path: "/bin/true", CodeDir: "/nonexistent"}, FaultPlatform},
		{"missing program", Spec{ID: newID(), Path: "/opt/function/code/bootstrap"}, FaultFunction},
		{"not executable", Spec{ID: newID(), Path: "/etc/passwd"}, FaultFunction},
		{"missing dir", Spec{ID: newID(), Path: "/bin/true", Dir: "/nope"}, FaultFunction},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Start(context.Background(), tc.spec, testLogger(t))
			if err == nil {
				s.Stop(context.Background(), 0)
				t.Fatalf("Start succeeded")
			}
			t.Logf("Start = %v", err)
			if got := FaultOf(err); got != tc.want {
				t.Errorf("FaultOf(%v) = %s, want %s", err, got, tc.want)
			}
		})
	}
}

func TestSandbox_Isolation(t *testing.T) {
	requireSupported(t)
	code := codeDir(t)
	dataDir := t.TempDir()
	os.WriteFile(filepath.Join(dataDir, "secret"), []byte("s3cret"), 0o644)
	script := `
echo uid=$(id -u) gid=$(id -g) groups=$(id -G)
echo pid=$$
if touch /x 2>/dev/null; then echo root=rw; else echo root=ro; fi
echo code=$(cat /opt/function/code/hello.txt)
if touch /opt/function/code/new 2>/dev/null; then echo codewrite=rw; else echo codewrite=ro; fi
if echo hi > /tmp/a && [ "$(cat /tmp/a)" = hi ]; then echo tmp=rw; else echo tmp=broken; fi
echo dd=$(dd if=/dev/zero of=/tmp/big bs=1M count=16 2>&1 | grep -c "No space left")
rm /tmp/big
for p in /work /root /home /var/lib /sys/fs/cgroup ` + dataDir + ` ` + os.Args[0] + `; do if [ -e "$p" ]; then echo "visible=$p"; fi; done
echo hostname=$(cat /proc/sys/kernel/hostname)
echo cwd=$(pwd)
echo procs=$(ls /proc | grep -c '^[0-9]')
echo devnull=$(echo x > /dev/null && echo ok)
unshare -U true 2>/dev/null && echo nestedns=yes || echo nestedns=no
kill -9 1 2>/dev/null && echo killinit=yes || echo killinit=no
cat /proc/1/environ >/dev/null 2>&1 && echo initenv=readable || echo initenv=denied
mount -t tmpfs x /tmp 2>/dev/null && echo mount=yes || echo mount=no
echo capbnd=$(grep CapBnd /proc/self/status | tr -d '\t')
echo nnp=$(grep NoNewPrivs /proc/self/status | tr -d '\t')
echo ready
read x
echo bye
`
	spec := shSpec(script)
	spec.CodeDir = code
	spec.TmpSize = 8 << 20
	spec.Hostname = "fn-host"
	s := startPiped(t, spec)
	got := map[string][]string{}
	for _, l := range s.until(t, "ready") {
		k, v, _ := strings.Cut(l, "=")
		got[k] = append(got[k], v)
	}
	t.Logf("inside: %v", got)

	// Host side: the program runs as an unprivileged host uid.
	if s.prog == 0 {
		t.Fatal("program pid unknown")
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.prog))
	if err != nil {
		t.Fatal(err)
	}
	if s.HostUID() < DefaultIDBase+FunctionUID {
		t.Errorf("HostUID() = %d, want one of a range from %d", s.HostUID(), DefaultIDBase)
	}
	for _, l := range strings.Split(string(status), "\n") {
		if strings.HasPrefix(l, "Uid:") || strings.HasPrefix(l, "Gid:") {
			f := strings.Fields(l)
			for _, id := range f[1:] {
				if id != strconv.Itoa(s.HostUID()) {
					t.Errorf("host view of the program: %q, want all ids %d", l, s.HostUID())
				}
			}
		}
	}
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.Pid())); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "VmRSS") || strings.HasPrefix(l, "RssAnon") || strings.HasPrefix(l, "Threads") {
				t.Logf("init: %s", strings.Join(strings.Fields(l), " "))
			}
		}
	}
	s.stdin.Close()
	exit := s.Wait()
	if !exit.Success() {
		t.Errorf("exit = %v", exit)
	}

	want := map[string]string{
		"uid":       "1000 gid=1000 groups=1000",
		"root":      "ro",
		"code":      "hello from code",
		"codewrite": "ro",
		"tmp":       "rw",
		"dd":        "1",
		"hostname":  "fn-host",
		"cwd":       CodePath,
		"devnull":   "ok",
		"nestedns":  "no",
		"capbnd":    "CapBnd:0000000000000000",
		"killinit":  "no",
		"initenv":   "denied",
		"mount":     "no",
		"nnp":       "NoNewPrivs:1",
	}
	for k, v := range want {
		if g := strings.Join(got[k], ","); g != v {
			t.Errorf("inside %s = %q, want %q", k, g, v)
		}
	}
	if v := got["visible"]; len(v) > 0 {
		t.Errorf("host paths visible inside: %v", v)
	}
	if pid, _ := strconv.Atoi(strings.Join(got["pid"], "")); pid < 2 || pid > 20 {
		t.Errorf("pid inside = %v, want a small number", got["pid"])
	}
	if n, _ := strconv.Atoi(strings.Join(got["procs"], "")); n < 2 || n > 6 {
		t.Errorf("processes visible inside = %v, want init, sh and the pipeline", got["procs"])
	}
}

func TestSandbox_ReapsOrphans(t *testing.T) {
	requireSupported(t)
	// Each ( ... &) leaves an orphan that init must reap.
	exit, out, stderr := run(t, shSpec(`for i in 1 2 3 4 5; do (sh -c 'exit 0' &); done; sleep 0.3; echo zombies=$(cat /proc/[0-9]*/stat 2>/dev/null | awk '$3 == "Z"' | wc -l)`))
	if !exit.Success() || out != "zombies=0\n" {
		t.Errorf("exit %v, output %q (stderr %q), want zombies=0", exit, out, stderr)
	}
}

func TestSandbox_ExtraRO(t *testing.T) {
	requireSupported(t)
	dir := codeDir(t)
	spec := shSpec(`
for f in /opt/extra/dir/hello.txt /opt/extra/hostname /tmp/rt/hello.txt /usr/share/doc/hello.txt; do
	[ -r $f ] || echo "unreadable $f"
done
touch /opt/extra/dir/x 2>/dev/null && echo "writable /opt/extra/dir"
touch /tmp/rt/x 2>/dev/null && echo "writable /tmp/rt"
echo done`)
	spec.ExtraRO = []Mount{
		{Source: dir, Target: "/opt/extra/dir"},
		{Source: "/etc/hostname", Target: "/opt/extra/hostname"},
		{Source: dir, Target: "/tmp/rt"},        // inside the private /tmp
		{Source: dir, Target: "/usr/share/doc"}, // over a folder that exists in read-only /usr
	}
	exit, out, stderr := run(t, spec)
	if !exit.Success() || out != "done\n" {
		t.Errorf("exit %v, output %q (stderr %q), want just done", exit, out, stderr)
	}

	// A new mount point inside read-only /usr cannot be made: a platform
	// error from init.
	spec = shSpec("true")
	spec.ExtraRO = []Mount{{Source: dir, Target: "/usr/openfgs-nonexistent"}}
	s, err := Start(context.Background(), spec, testLogger(t))
	if err == nil {
		s.Stop(context.Background(), 0)
		t.Fatal("Start succeeded")
	}
	if FaultOf(err) != FaultPlatform || !strings.Contains(err.Error(), "read-only file system") {
		t.Errorf("Start = %v, want a platform error about the read-only /usr", err)
	}
}

func TestSandbox_SetCPUShares(t *testing.T) {
	requireSupported(t)
	s := startPiped(t, Spec{ID: newID(), Path: "/bin/sh", Args: []string{"-c", "echo ready; read x"}, CPUShares: SharesFromMillicores(300)})
	s.until(t, "ready")
	file, want := "cpu.shares", func(shares int64) int64 { return shares }
	if s.cg.v2 {
		file, want = "cpu.weight", func(shares int64) int64 { return 1 + (shares-2)*9999/262142 }
	}
	for _, shares := range []int64{SharesFromMillicores(300), 2048} {
		if shares != SharesFromMillicores(300) {
			if err := s.SetCPUShares(shares); err != nil {
				t.Fatalf("SetCPUShares(%d) = %v", shares, err)
			}
		}
		if got, err := readInt(s.cg.cpu, file); err != nil || got != want(shares) {
			t.Errorf("%s = %d, %v; want %d", file, got, err, want(shares))
		}
	}
	if err := s.SetCPUShares(1); err == nil {
		t.Errorf("SetCPUShares(1) = nil, want an error")
	}
	s.stdin.Close()
}

func TestSandbox_SetMemoryLimit(t *testing.T) {
	requireSupported(t)
	if _, err := os.Stat(python); err != nil {
		t.Skipf("%s: %v", python, err)
	}
	// Allocates 100 MiB once told to, under a 64 MiB limit raised to 256.
	spec := Spec{ID: newID(), Path: python, Args: []string{"-I", "-S", "-c", "print('ready', flush=True); input(); a = bytearray(100 * 2**20); print('ok', flush=True)"}, MemoryBytes: 64 << 20}
	s := startPiped(t, spec)
	s.until(t, "ready")
	for _, lim := range []int64{32 << 20, 0, 256 << 20} {
		if err := s.SetMemoryLimit(lim); err != nil {
			t.Fatalf("SetMemoryLimit(%d) = %v", lim, err)
		}
	}
	if err := s.SetMemoryLimit(1); err == nil {
		t.Errorf("SetMemoryLimit(1) = nil, want an error")
	}
	s.stdin.Write([]byte("go\n"))
	s.until(t, "ok")
	s.stdin.Close()
	if exit := s.Wait(); !exit.Success() || exit.MemoryPeak < 100<<20 {
		t.Errorf("exit = %v, peak %d", exit, exit.MemoryPeak)
	}
}

func TestSandbox_Concurrent(t *testing.T) {
	requireSupported(t)
	const n = 8
	type result struct {
		i    int
		exit Exit
		out  string
		err  error
	}
	results := make(chan result, n)
	for i := range n {
		go func() {
			out := NewBoundedBuffer(100)
			spec := shSpec("echo $(hostname) $(id -u)")
			spec.Hostname = fmt.Sprintf("h%d", i)
			spec.Stdout = out
			s, err := Start(context.Background(), spec, nil)
			if err != nil {
				results <- result{i: i, err: err}
				return
			}
			results <- result{i, s.Wait(), out.String(), nil}
		}()
	}
	for range n {
		r := <-results
		if want := fmt.Sprintf("h%d 1000\n", r.i); r.err != nil || !r.exit.Success() || r.out != want {
			t.Errorf("sandbox %d: %v %v %q, want %q", r.i, r.err, r.exit, r.out, want)
		}
	}
}

func TestSandbox_StartCancelled(t *testing.T) {
	requireSupported(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	spec := shSpec("sleep 1000")
	s, err := Start(ctx, spec, testLogger(t))
	if err == nil {
		s.Stop(context.Background(), 0)
		t.Fatal("Start with a cancelled context succeeded")
	}
	t.Logf("Start = %v", err)
	l, _ := detectCgroups()
	if _, err := os.Stat(filepath.Join(l.memory, cgroupParent, spec.ID)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("cgroup left after a cancelled start: %v", err)
	}
}

func TestSandbox_ExitStatus(t *testing.T) {
	requireSupported(t)
	exit, _, _ := run(t, shSpec("exit 7"))
	if exit.Code != 7 || exit.Signal != 0 || exit.Err != nil || exit.OOMKilled {
		t.Errorf("exit 7: %+v", exit)
	}
	exit, _, _ = run(t, shSpec("kill -USR1 $$"))
	if exit.Signal != syscall.SIGUSR1 || exit.Code != -1 {
		t.Errorf("kill -USR1: %+v", exit)
	}
	t.Logf("%v / cpu %v / peak %d", exit, exit.CPUTime, exit.MemoryPeak)
}

func TestSandbox_ExtraFilesAndEnv(t *testing.T) {
	requireSupported(t)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	spec := shSpec(`echo "to fd3 $GREETING" >&3; ls /proc/self/fd | tr '\n' ' ' >&3`)
	spec.Env = []string{"GREETING=hi", "PATH=/usr/bin:/bin"}
	spec.ExtraFiles = []*os.File{w}
	exit, _, stderr := run(t, spec)
	w.Close()
	b, _ := io.ReadAll(r)
	if !exit.Success() {
		t.Fatalf("exit %v: %s", exit, stderr)
	}
	lines := strings.SplitN(string(b), "\n", 2)
	if lines[0] != "to fd3 hi" {
		t.Errorf("fd 3 got %q", b)
	}
	// 0-3 and the fd ls used for /proc/self/fd: nothing leaked from init.
	if fds := strings.Fields(lines[1]); len(fds) > 5 {
		t.Errorf("open fds in the program: %v", fds)
	}
}

func TestSandbox_MemoryLimit(t *testing.T) {
	requireSupported(t)
	if _, err := os.Stat(python); err != nil {
		t.Skipf("%s: %v", python, err)
	}
	spec := Spec{ID: newID(), Path: python, Args: []string{"-I", "-S", "-c", "a = bytearray(400 * 2**20); print('survived')"}, MemoryBytes: 64 << 20}
	exit, out, stderr := run(t, spec)
	t.Logf("exit %v, peak %d MiB, stdout %q stderr %q", exit, exit.MemoryPeak>>20, out, stderr)
	if !exit.OOMKilled || exit.Signal != syscall.SIGKILL {
		t.Errorf("exit = %+v, want OOMKilled by SIGKILL", exit)
	}
	if exit.MemoryPeak > 64<<20 {
		t.Errorf("peak %d over the 64 MiB limit", exit.MemoryPeak)
	}
}

func TestSandbox_PidsLimit(t *testing.T) {
	requireSupported(t)
	if _, err := os.Stat(python); err != nil {
		t.Skipf("%s: %v", python, err)
	}
	const limit = 16
	script := `
import os, sys, time
n = 0
while True:
    try:
        pid = os.fork()
    except OSError as e:
        print("forked", n, e.errno, flush=True)
        break
    if pid == 0:
        time.sleep(1000)
        os._exit(0)
    n += 1
print("ready", flush=True)
time.sleep(1000)
`
	spec := Spec{ID: newID(), Path: python, Args: []string{"-I", "-S", "-c", script}, Pids: limit, MemoryBytes: 512 << 20}
	s := startPiped(t, spec)
	lines := s.until(t, "ready")
	var n, errno int
	fmt.Sscanf(lines[0], "forked %d %d", &n, &errno)
	t.Logf("with Pids %d the program forked %d children, then errno %d", limit, n, errno)
	if n < limit-4 || n > limit+pidsSlack || errno != int(syscall.EAGAIN) {
		t.Errorf("forked %d (errno %d), want about %d then EAGAIN", n, errno, limit-1)
	}
	if usage, err := s.MemoryUsage(); err != nil || usage <= 0 {
		t.Errorf("MemoryUsage() = %d, %v", usage, err)
	}
	nsLink, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", s.Pid()))
	if err != nil {
		t.Fatal(err)
	}
	if got := len(nsProcs(nsLink)); got < n+2 {
		t.Errorf("host sees %d processes in the sandbox, want at least %d", got, n+2)
	}
	// The host can still fork.
	if err := runHost("/bin/true"); err != nil {
		t.Errorf("host fork after the sandbox's fork bomb: %v", err)
	}
	exit := s.Stop(context.Background(), 200*time.Millisecond)
	t.Logf("stop: %v", exit)
	if left := nsProcs(nsLink); len(left) > 0 {
		t.Errorf("processes left after Stop: %v", left)
	}
	checkCgroupsGone(t, s.Sandbox)
}

func runHost(path string) error {
	p, err := os.StartProcess(path, []string{path}, &os.ProcAttr{})
	if err != nil {
		return err
	}
	_, err = p.Wait()
	return err
}

func checkCgroupsGone(t *testing.T, s *Sandbox) {
	t.Helper()
	for _, d := range s.cg.dirs {
		if _, err := os.Stat(d); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("cgroup %s still there (%v)", d, err)
		}
	}
}

func TestSandbox_StopIgnoredTerm(t *testing.T) {
	requireSupported(t)
	s := startPiped(t, shSpec(`trap '' TERM; echo ready; while :; do sleep 1; done`))
	s.until(t, "ready")
	t0 := time.Now()
	exit := s.Stop(context.Background(), 300*time.Millisecond)
	took := time.Since(t0)
	if exit.Signal != syscall.SIGKILL || !exit.Forced {
		t.Errorf("Stop = %+v, want SIGKILL after the grace period", exit)
	}
	if took < 300*time.Millisecond || took > 5*time.Second {
		t.Errorf("Stop took %v, want about the 300ms grace", took)
	}
	checkCgroupsGone(t, s.Sandbox)
	if again := s.Wait(); again.Signal != exit.Signal {
		t.Errorf("Wait after Stop = %v, want %v", again, exit)
	}
}

func TestSandbox_StopCancelledContext(t *testing.T) {
	requireSupported(t)
	s := startPiped(t, shSpec(`trap '' TERM; echo ready; while :; do sleep 1; done`))
	s.until(t, "ready")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	t0 := time.Now()
	exit := s.Stop(ctx, time.Hour)
	if exit.Signal != syscall.SIGKILL || !exit.Forced || time.Since(t0) > 5*time.Second {
		t.Errorf("Stop(cancelled ctx, 1h) = %+v after %v, want an immediate SIGKILL", exit, time.Since(t0))
	}
}

func TestSandbox_StaleCgroup(t *testing.T) {
	requireSupported(t)
	l, err := detectCgroups()
	if err != nil {
		t.Fatal(err)
	}
	spec := shSpec("exit 0")
	stale, err := newCgroup(l, spec.ID, cgroupLimits{})
	if err != nil {
		t.Fatal(err)
	}
	defer stale.remove(context.Background())
	if exit, _, _ := run(t, spec); !exit.Success() {
		t.Errorf("exit = %v", exit)
	}
}

func TestSandbox_StopGraceful(t *testing.T) {
	requireSupported(t)
	s := startPiped(t, shSpec(`trap 'echo got TERM; exit 3' TERM; echo ready; while :; do sleep 0.05; done`))
	s.until(t, "ready")
	exit := s.Stop(context.Background(), 5*time.Second)
	if exit.Code != 3 || exit.Forced {
		t.Errorf("Stop = %+v, want the program's own exit 3", exit)
	}
}

func TestSandbox_StopSetsidGrandchild(t *testing.T) {
	requireSupported(t)
	// A grandchild in its own session that ignores SIGTERM.
	s := startPiped(t, shSpec(`setsid sh -c 'trap "" TERM; sleep 1000' & sleep 0.2; echo ready; wait`))
	s.until(t, "ready")
	nsLink, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", s.Pid()))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(nsProcs(nsLink)); n < 4 {
		t.Errorf("%d processes in the sandbox, want init, sh, setsid'd sh, sleep", n)
	}
	exit := s.Stop(context.Background(), 2*time.Second)
	t.Logf("stop: %v", exit)
	if left := nsProcs(nsLink); len(left) > 0 {
		t.Errorf("processes left after Stop: %v", left)
	}

	// A program that exits by itself leaves nothing behind either.
	spec := shSpec(`setsid sh -c 'trap "" TERM HUP; sleep 1000' & sleep 0.2; exit 0`)
	spec.Stdout = nil
	s2, err := Start(context.Background(), spec, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	nsLink, _ = os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", s2.Pid()))
	if exit := s2.Wait(); !exit.Success() {
		t.Errorf("exit = %v", exit)
	}
	if left := nsProcs(nsLink); len(left) > 0 {
		t.Errorf("processes left after the program exited: %v", left)
	}
}

func TestSandbox_NetworkNone(t *testing.T) {
	requireSupported(t)
	if _, err := os.Stat(python); err != nil {
		t.Skipf("%s: %v", python, err)
	}
	script := `
import socket
ifs = [l.split(':')[0].strip() for l in open('/proc/net/dev').read().splitlines()[2:]]
print('ifs', ','.join(ifs))
srv = socket.socket(); srv.bind(('127.0.0.1', 8000)); srv.listen(1)
c = socket.create_connection(('127.0.0.1', 8000), timeout=5)
conn, _ = srv.accept()
c.sendall(b'ping'); print('echo', conn.recv(4).decode())
try:
    socket.create_connection(('10.0.0.1', 80), timeout=1)
    print('outside reachable')
except OSError as e:
    print('outside unreachable', e.errno)
`
	spec := Spec{ID: newID(), Path: python, Args: []string{"-I", "-S", "-c", script}, Network: NetworkNone}
	exit, out, stderr := run(t, spec)
	if !exit.Success() {
		t.Fatalf("exit %v: %s", exit, stderr)
	}
	for _, want := range []string{"ifs lo\n", "echo ping\n", "outside unreachable"} {
		if !strings.Contains(out, want) {
			t.Errorf("output %q lacks %q", out, want)
		}
	}
}

func TestSandbox_Timing(t *testing.T) {
	requireSupported(t)
	const runs = 20
	modes := []NetworkMode{NetworkNone}
	if OutboundSupported() == nil {
		modes = append(modes, NetworkOutbound)
	}
	took := map[NetworkMode][]time.Duration{}
	for range runs {
		for _, mode := range modes { // interleaved, so that the machine's noise hits both
			t0 := time.Now()
			s, err := Start(context.Background(), Spec{ID: newID(), Path: "/bin/true", MemoryBytes: 64 << 20, Pids: 32, Network: mode}, nil)
			if err != nil {
				t.Fatal(err)
			}
			took[mode] = append(took[mode], time.Since(t0))
			if exit := s.Wait(); !exit.Success() {
				t.Fatalf("/bin/true: %v", exit)
			}
		}
	}
	for _, mode := range modes {
		d := took[mode]
		slices.Sort(d)
		t.Logf("Start of /bin/true in a sandbox, network %v: median %v, min %v, max %v (%d runs)", mode, d[runs/2], d[0], d[runs-1], runs)
	}

	l, err := detectCgroups()
	if err != nil {
		t.Fatal(err)
	}
	const n = 50
	t0 := time.Now()
	for range n {
		cg, err := newCgroup(l, newID(), cgroupLimits{memory: 64 << 20, cpuShares: 512})
		if err != nil {
			t.Fatal(err)
		}
		if err := cg.setPidsMax(32); err != nil {
			t.Fatal(err)
		}
		if err := cg.remove(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("cgroup create (memory, pids, cpu with limits) + remove: %v each", time.Since(t0)/n)
}

func TestSandbox_NoCgroupsLeft(t *testing.T) {
	requireSupported(t)
	l, err := detectCgroups()
	if err != nil {
		t.Fatal(err)
	}
	prefix := fmt.Sprintf("test-%d-", os.Getpid())
	for _, h := range []string{l.memory, l.pids, l.cpu} {
		ents, _ := os.ReadDir(filepath.Join(h, cgroupParent))
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), prefix) {
				t.Errorf("cgroup %s left in %s", e.Name(), h)
			}
		}
	}
}

func TestSpec_Validation(t *testing.T) {
	for _, tc := range []struct {
		name string
		spec Spec
	}{
		{"empty id", Spec{Path: "/bin/true"}},
		{"slash in id", Spec{ID: "a/b", Path: "/bin/true"}},
		{"dot id", Spec{ID: "..", Path: "/bin/true"}},
		{"relative path", Spec{ID: "a", Path: "true"}},
		{"relative dir", Spec{ID: "a", Path: "/bin/true", Dir: "tmp"}},
		{"reserved target", Spec{ID: "a", Path: "/bin/true", ExtraRO: []Mount{{"/etc", "/proc/x"}}}},
		{"root target", Spec{ID: "a", Path: "/bin/true", ExtraRO: []Mount{{"/etc", "/"}}}},
		{"unclean target", Spec{ID: "a", Path: "/bin/true", ExtraRO: []Mount{{"/etc", "/opt/../usr"}}}},
		{"code target", Spec{ID: "a", Path: "/bin/true", CodeDir: "/tmp", ExtraRO: []Mount{{"/etc", CodePath}}}},
		{"bad hostname", Spec{ID: "a", Path: "/bin/true", Hostname: "a b"}},
		{"tiny memory", Spec{ID: "a", Path: "/bin/true", MemoryBytes: 1000}},
		{"NUL in env", Spec{ID: "a", Path: "/bin/true", Env: []string{"A=\x00"}}},
	} {
		if _, err := tc.spec.withDefaults(); err == nil {
			t.Errorf("%s: withDefaults(%+v) = nil error", tc.name, tc.spec)
		} else if FaultOf(err) != FaultPlatform {
			t.Errorf("%s: fault %s, want platform", tc.name, FaultOf(err))
		}
	}
	s, err := Spec{ID: "a", Path: "/bin/true", CodeDir: "/x"}.withDefaults()
	if err != nil || s.Dir != CodePath || s.TmpSize != defaultTmpSize || s.Hostname != defaultHostname || len(s.Env) == 0 {
		t.Errorf("defaults = %+v, %v", s, err)
	}
}

func TestBoundedBuffer_Write(t *testing.T) {
	b := NewBoundedBuffer(5)
	for _, p := range []string{"abc", "def", "ghi"} {
		if n, err := b.Write([]byte(p)); n != len(p) || err != nil {
			t.Fatalf("Write(%q) = %d, %v", p, n, err)
		}
	}
	if b.String() != "abcde" || b.Truncated() != 4 {
		t.Errorf("buffer %q truncated %d, want %q and 4", b, b.Truncated(), "abcde")
	}
}
