package sandbox

import (
	"os"
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
	a := startPiped(t, pySpec(grabInotify))
	lines := a.until(t, "grabbed")
	f := strings.Fields(lines[len(lines)-1])
	n, _ := strconv.Atoi(f[1])
	t.Logf("the first instance got %d inotify instances, then %s", n, f[2])
	if f[2] != "EMFILE" || n < 16 {
		t.Fatalf("the first instance stopped after %d inotify instances with %s; want the per-user limit (EMFILE) after many", n, f[2])
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
