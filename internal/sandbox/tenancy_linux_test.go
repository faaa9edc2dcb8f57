package sandbox

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// pySpec runs a Python script in a sandbox.
func pySpec(script string) Spec {
	return Spec{ID: newID(), Path: python, Args: []string{"-I", "-S", "-c", script}, TmpSize: 16 << 20, MemoryBytes: 256 << 20, Pids: 64}
}

// grabInotify creates inotify instances until the kernel refuses one,
// says how many it got and why it stopped, and holds them until stdin
// closes.
const grabInotify = `
import ctypes, errno, sys
libc = ctypes.CDLL(None, use_errno=True)
fds, err = [], 0
while len(fds) < 4096:
    fd = libc.inotify_init1(0)
    if fd < 0:
        err = ctypes.get_errno()
        break
    fds.append(fd)
print("grabbed", len(fds), errno.errorcode.get(err, err), flush=True)
sys.stdin.readline()
`

// oneInotify creates one inotify instance and says whether it could.
const oneInotify = `
import ctypes, errno, os
libc = ctypes.CDLL(None, use_errno=True)
fd = libc.inotify_init1(0)
print("inotify", "ok" if fd >= 0 else errno.errorcode.get(ctypes.get_errno()), flush=True)
`

// An instance that uses up the per-user inotify limit uses up its own
// share only: host root and another instance can still create them.
func TestSandbox_PerUserLimitsStayInTheInstance(t *testing.T) {
	requireSupported(t)
	limit := inotifyLimit(t)
	a := startPiped(t, pySpec(grabInotify))
	lines := a.until(t, "grabbed")
	f := strings.Fields(lines[len(lines)-1])
	n, _ := strconv.Atoi(f[1])
	t.Logf("the first instance got %d inotify instances, then %s", n, f[2])
	if f[2] != "EMFILE" || n != limit {
		t.Fatalf("the first instance stopped after %d inotify instances with %s; want EMFILE after all %d of the per-user limit", n, f[2], limit)
	}

	// Host root, while the first instance holds all it could get.
	fd, err := syscall.InotifyInit1(syscall.IN_CLOEXEC)
	if err != nil {
		t.Errorf("host root: inotify_init1 = %v while an instance holds %d inotify instances; the instance used up root's limit", err, n)
	} else {
		syscall.Close(fd)
	}
	// Another instance.
	exit, out, stderr := run(t, pySpec(oneInotify))
	if !exit.Success() || strings.TrimSpace(out) != "inotify ok" {
		t.Errorf("second instance: %v, %q (stderr %q); want inotify ok", exit, out, stderr)
	}
	a.stdin.Close()
	if exit := a.Wait(); !exit.Success() {
		t.Errorf("first instance: %v", exit)
	}
}

// inotifyLimit returns fs.inotify.max_user_instances, skipping the test
// when a process's own fd limit would stop it first.
func inotifyLimit(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile("/proc/sys/fs/inotify/max_user_instances")
	if err != nil {
		t.Skipf("no inotify limit to reach: %v", err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || n > 900 {
		t.Skipf("fs.inotify.max_user_instances = %q: a process runs out of file descriptors (1024) first", b)
	}
	return n
}

// Two live instances have host id ranges of their own, and each owns its
// user namespace.
func TestSandbox_OwnHostIDs(t *testing.T) {
	requireSupported(t)
	a := startPiped(t, shSpec("echo ready; read x"))
	b := startPiped(t, shSpec("echo ready; read x"))
	a.until(t, "ready")
	b.until(t, "ready")
	if a.HostUID() == b.HostUID() {
		t.Fatalf("two live instances run as the same host uid %d", a.HostUID())
	}
	if d := a.HostUID() - b.HostUID(); d%IDRangeSize != 0 {
		t.Errorf("host uids %d and %d are not in ranges of %d", a.HostUID(), b.HostUID(), IDRangeSize)
	}
	for _, s := range []*started{a, b} {
		fd, err := unix.Open("/proc/"+strconv.Itoa(s.Pid())+"/ns/user", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		var owner uint32
		_, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), uintptr(unix.NS_GET_OWNER_UID), uintptr(unsafe.Pointer(&owner)))
		unix.Close(fd)
		if e != 0 {
			t.Fatalf("NS_GET_OWNER_UID: %v", e)
		}
		if want := s.HostUID() - FunctionUID; int(owner) != want {
			t.Errorf("user namespace of the instance with host uid %d is owned by %d, want %d (its range's first id)", s.HostUID(), owner, want)
		}
		uidMap, err := os.ReadFile("/proc/" + strconv.Itoa(s.Pid()) + "/uid_map")
		if err != nil {
			t.Fatal(err)
		}
		if f := strings.Fields(string(uidMap)); len(f) != 3 || f[0] != "0" || f[1] != strconv.Itoa(s.HostUID()-FunctionUID) || f[2] != strconv.Itoa(IDRangeSize) {
			t.Errorf("uid_map = %q, want 0 %d %d", uidMap, s.HostUID()-FunctionUID, IDRangeSize)
		}
	}
	a.stdin.Close()
	b.stdin.Close()
	a.Wait()
	b.Wait()
}

func TestNewIDRanges(t *testing.T) {
	for _, tc := range []struct {
		base  int64
		count int
		ok    bool
	}{
		{DefaultIDBase, DefaultIDRanges, true},
		{IDRangeSize, 1, true},
		{IDRangeSize - 1, 1, false},
		{0, 1, false},
		{DefaultIDBase, 0, false},
		{DefaultIDBase, -1, false},
		{1<<31 - IDRangeSize, 1, true},
		{1<<31 - IDRangeSize, 2, false},
		{DefaultIDBase, 1 << 20, false},
	} {
		_, err := NewIDRanges(tc.base, tc.count)
		if (err == nil) != tc.ok {
			t.Errorf("NewIDRanges(%d, %d) = %v, want ok %v", tc.base, tc.count, err, tc.ok)
		}
	}
}

// Ranges are exclusive within a process and, through the lock file,
// between allocators (so between processes) on the host.
func TestIDRanges_Acquire(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the lock file lives under /run: needs root")
	}
	// Far from the defaults, so that sandboxes of other tests or servers
	// on this host do not compete.
	const base = 1<<31 - 3*IDRangeSize
	r, err := NewIDRanges(base, 3)
	if err != nil {
		t.Fatal(err)
	}
	var got []*idLease
	seen := map[int]bool{}
	for range 3 {
		l, err := r.acquire()
		if err != nil {
			t.Fatalf("acquire = %v with ranges free", err)
		}
		if seen[l.first] || l.first < base || (l.first-base)%IDRangeSize != 0 {
			t.Errorf("acquire = range at %d (taken before: %v)", l.first, seen[l.first])
		}
		seen[l.first] = true
		got = append(got, l)
	}
	if l, err := r.acquire(); err == nil {
		t.Fatalf("acquire = range at %d with all 3 taken, want an error", l.first)
	} else {
		t.Logf("acquire with all taken = %v", err)
	}

	// Another allocator of the same ids, as another server on this host
	// would have, gets only what the first one gave back.
	other, _ := NewIDRanges(base, 3)
	if l, err := other.acquire(); err == nil {
		t.Fatalf("another allocator got range %d, which the first one holds", l.first)
	}
	got[1].release()
	l, err := other.acquire()
	if err != nil || l.first != got[1].first {
		t.Fatalf("another allocator after a release = %v, %v; want the released range %d", l, err, got[1].first)
	}
	if l2, err := r.acquire(); err == nil {
		t.Fatalf("the first allocator got range %d back, which the other one now holds", l2.first)
	}
	l.release()
	l3, err := r.acquire()
	if err != nil || l3.first != got[1].first {
		t.Fatalf("acquire after the other released = %v, %v; want %d", l3, err, got[1].first)
	}
	for _, l := range append(got, l3) {
		l.release()
	}
}

// probeSyscalls makes each denied system call with arguments that would
// not fail with EPERM without the filter (where there are such), and
// prints a JSON object of name -> errno name ("ok" for success). Then it
// checks that what runtimes need still works: threads, subprocesses,
// fork. The syscall numbers arrive in argv[1] as JSON.
const probeSyscalls = `
import ctypes, errno, json, os, subprocess, sys, threading
NR = json.loads(sys.argv[1])
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
def arg(a):
    if isinstance(a, str):
        return ctypes.c_char_p(a.encode())
    if a is None:
        return ctypes.c_void_p(None)
    return ctypes.c_long(a)
child = subprocess.Popen(["/bin/sleep", "30"])
me = os.getpid()
calls = {
    "keyctl": (0, -3, 1),
    "add_key": ("user", "openfgs-probe", "v", 1, -2),
    "request_key": ("user", "openfgs-none", None, 0),
    "mq_open": ("openfgs-probe", os.O_CREAT | os.O_RDWR, 0o600, None),
    "mq_unlink": ("openfgs-none",),
    "io_uring_setup": (1, None),
    "bpf": (0, None, 0),
    "perf_event_open": (None, 0, -1, -1, 0),
    "userfaultfd": (1,),
    "mount": ("none", "/tmp", "tmpfs", 0, None),
    "umount2": ("/tmp", 0),
    "pivot_root": ("/", "/"),
    "open_tree": (-100, "/tmp", 0),
    "fsopen": ("tmpfs", 0),
    "setns": (-1, 0),
    "ptrace": (16, child.pid, 0, 0),
    "process_vm_readv": (child.pid, None, 0, None, 0, 0),
    "kcmp": (me, me, 1, 0, 0),
    "pidfd_getfd": (-1, 0, 0),
    "unshare": (0x10000000,),
    "clone": (0x10000000 | 17, 0, 0, 0, 0),
    "clone3": (None, 0),
}
out = {}
for name, args in calls.items():
    ctypes.set_errno(0)
    r = libc.syscall(ctypes.c_long(NR[name]), *[arg(a) for a in args])
    if r == 0 and name == "clone":
        os._exit(0)
    out[name] = "ok" if r >= 0 else errno.errorcode.get(ctypes.get_errno(), str(ctypes.get_errno()))
child.kill()
child.wait()
t = threading.Thread(target=lambda: out.__setitem__("thread", "ok"))
t.start()
t.join()
out["subprocess"] = "ok" if subprocess.run(["/bin/true"]).returncode == 0 else "failed"
pid = os.fork()
if pid == 0:
    os._exit(7)
out["fork"] = "ok" if os.waitpid(pid, 0)[1] >> 8 == 7 else "failed"
for l in open("/proc/self/status"):
    if l.startswith("Seccomp:"):
        out["seccomp_mode"] = l.split()[1]
print(json.dumps(out), flush=True)
`

// syscallNumbers are the numbers probeSyscalls needs, for this machine.
var syscallNumbers = map[string]uintptr{
	"keyctl": unix.SYS_KEYCTL, "add_key": unix.SYS_ADD_KEY, "request_key": unix.SYS_REQUEST_KEY,
	"mq_open": unix.SYS_MQ_OPEN, "mq_unlink": unix.SYS_MQ_UNLINK,
	"io_uring_setup": unix.SYS_IO_URING_SETUP, "bpf": unix.SYS_BPF, "perf_event_open": unix.SYS_PERF_EVENT_OPEN,
	"userfaultfd": unix.SYS_USERFAULTFD, "mount": unix.SYS_MOUNT, "umount2": unix.SYS_UMOUNT2,
	"pivot_root": unix.SYS_PIVOT_ROOT, "open_tree": unix.SYS_OPEN_TREE, "fsopen": unix.SYS_FSOPEN,
	"setns": unix.SYS_SETNS, "ptrace": unix.SYS_PTRACE, "process_vm_readv": unix.SYS_PROCESS_VM_READV,
	"kcmp": unix.SYS_KCMP, "pidfd_getfd": unix.SYS_PIDFD_GETFD, "unshare": unix.SYS_UNSHARE,
	"clone": unix.SYS_CLONE, "clone3": unix.SYS_CLONE3,
}

// The program runs under the seccomp filter: every denied call fails with
// EPERM (clone3 with ENOSYS), and threads, subprocesses and fork work.
func TestSandbox_SyscallFilter(t *testing.T) {
	requireSupported(t)
	nums, _ := json.Marshal(syscallNumbers)
	spec := pySpec(probeSyscalls)
	spec.Args = append(spec.Args, string(nums))
	exit, out, stderr := run(t, spec)
	if !exit.Success() {
		t.Fatalf("probe: %v; stdout %q stderr %q", exit, out, stderr)
	}
	var got map[string]string
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("probe output %q: %v (stderr %q)", out, err, stderr)
	}
	t.Logf("inside: %v", got)
	for name := range syscallNumbers {
		want := "EPERM"
		if name == "clone3" {
			want = "ENOSYS"
		}
		if got[name] != want {
			t.Errorf("%s inside the sandbox: %s, want %s", name, got[name], want)
		}
	}
	for _, k := range []string{"thread", "subprocess", "fork"} {
		if got[k] != "ok" {
			t.Errorf("%s inside the sandbox: %q, want ok", k, got[k])
		}
	}
	if got["seccomp_mode"] != "2" {
		t.Errorf("Seccomp mode in /proc/self/status = %q, want 2 (filter)", got["seccomp_mode"])
	}
}

// The filter assembles (its jumps fit), and docs/runtimes.md lists every
// system call it denies.
func TestSeccompFilter_AssemblesAndIsDocumented(t *testing.T) {
	prog, err := seccompProgram()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d BPF instructions", len(prog))
	doc, err := os.ReadFile("../../docs/runtimes.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range append(seccompDenied, deniedSyscall{name: "clone3"}, deniedSyscall{name: "unshare"}, deniedSyscall{name: "clone"}) {
		if !strings.Contains(string(doc), "`"+s.name+"`") {
			t.Errorf("docs/runtimes.md does not list the denied system call %s", s.name)
		}
	}
}

// listenAbstract listens on the abstract unix socket named in argv[1],
// checks that a process of its own instance can connect, and serves
// until stdin closes.
const listenAbstract = `
import socket, subprocess, sys, threading
name = "\0" + sys.argv[1]
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(name)
srv.listen(8)
def serve():
    while True:
        c, _ = srv.accept()
        try:
            c.sendall(b"hello from A")
        except OSError:
            pass
        c.close()
threading.Thread(target=serve, daemon=True).start()
own = subprocess.run([sys.executable, "-I", "-S", "-c",
    "import socket, sys; s = socket.socket(socket.AF_UNIX); s.connect(chr(0) + sys.argv[1]); print(s.recv(64).decode())", sys.argv[1]],
    capture_output=True, text=True)
print("own", own.stdout.strip() or own.stderr.strip().splitlines()[-1], flush=True)
print("listening", flush=True)
sys.stdin.readline()
`

// connectAbstract connects to the abstract unix socket named in argv[1].
const connectAbstract = `
import errno, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
try:
    s.connect("\0" + sys.argv[1])
    print("connected", s.recv(64).decode())
except OSError as e:
    print("refused", errno.errorcode.get(e.errno, e.errno))
`

// An abstract unix socket of one instance cannot be reached from another,
// while processes of its own instance reach it. Every instance has its
// own network namespace (where abstract names live), and Landlock scoping
// closes the same door again where namespaces are shared.
func TestSandbox_AbstractSocketsStayInTheInstance(t *testing.T) {
	requireSupported(t)
	if err := landlockScopes(); err != nil {
		t.Skipf("this kernel cannot scope abstract unix sockets: %v", err)
	}
	name := fmt.Sprintf("openfgs-test-%d-%d", os.Getpid(), idSeq.Add(1))
	spec := pySpec(listenAbstract)
	spec.Args = append(spec.Args, name)
	a := startPiped(t, spec)
	lines := a.until(t, "listening")
	if !slices.Contains(lines, "own hello from A") {
		t.Errorf("a process of the listening instance could not connect: %q", lines)
	}
	spec = pySpec(connectAbstract)
	spec.Args = append(spec.Args, name)
	exit, out, stderr := run(t, spec)
	if !exit.Success() || !strings.HasPrefix(out, "refused ") {
		t.Errorf("another instance connecting to @%s: %v, %q (stderr %q); want it refused", name, exit, out, stderr)
	}
	t.Logf("another instance: %s", strings.TrimSpace(out))
	a.stdin.Close()
	a.Wait()
}
