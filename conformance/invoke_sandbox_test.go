package conformance

import (
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// Hostile function code: two tenants (projects) whose functions try to
// reach each other through channels the kernel offers beside the network,
// and to use system calls the sandbox denies (docs/runtimes.md, "The
// sandbox").

// hostilePy answers {"op": ...}: the errno of each denied system call,
// listening on or connecting to an abstract unix socket, its uid map, and
// taking, counting and giving back inotify instances.
const hostilePy = `import ctypes, errno, os, platform, socket, subprocess, threading

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
NR = {
    "x86_64": {"keyctl": 250, "add_key": 248, "request_key": 249, "mq_open": 240, "io_uring_setup": 425,
               "bpf": 321, "perf_event_open": 298, "userfaultfd": 323, "mount": 165, "ptrace": 101,
               "unshare": 272, "setns": 308, "clone3": 435},
    "aarch64": {"keyctl": 219, "add_key": 217, "request_key": 218, "mq_open": 180, "io_uring_setup": 425,
                "bpf": 280, "perf_event_open": 241, "userfaultfd": 282, "mount": 40, "ptrace": 117,
                "unshare": 97, "setns": 268, "clone3": 435},
}[platform.machine()]
held = []
servers = []

def name_of(e):
    return errno.errorcode.get(e, str(e))

def arg(a):
    if isinstance(a, str):
        return ctypes.c_char_p(a.encode())
    if a is None:
        return ctypes.c_void_p(None)
    return ctypes.c_long(a)

def syscalls():
    child = subprocess.Popen(["/bin/sleep", "30"])
    calls = {
        "keyctl": (0, -3, 1),
        "add_key": ("user", "tenant-secret", "s3cret", 6, -2),
        "request_key": ("user", "tenant-secret", None, 0),
        "mq_open": ("tenant-queue", os.O_CREAT | os.O_RDWR, 0o600, None),
        "io_uring_setup": (1, None),
        "bpf": (0, None, 0),
        "perf_event_open": (None, 0, -1, -1, 0),
        "userfaultfd": (1,),
        "mount": ("none", "/tmp", "tmpfs", 0, None),
        "ptrace": (16, child.pid, 0, 0),
        "unshare": (0x10000000,),
        "setns": (-1, 0),
        "clone3": (None, 0),
    }
    out = {}
    for name, args in calls.items():
        ctypes.set_errno(0)
        r = libc.syscall(ctypes.c_long(NR[name]), *[arg(a) for a in args])
        out[name] = "ok" if r >= 0 else name_of(ctypes.get_errno())
    child.kill()
    child.wait()
    t = threading.Thread(target=lambda: out.__setitem__("thread", "ok"))
    t.start()
    t.join()
    return out

def listen(name):
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind("\0" + name)
    srv.listen(8)
    servers.append(srv)
    def serve():
        while True:
            c, _ = srv.accept()
            try:
                c.sendall(b"hello from " + name.encode())
            except OSError:
                pass
            c.close()
    threading.Thread(target=serve, daemon=True).start()
    return "listening"

def connect(name):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    try:
        s.connect("\0" + name)
        return "connected " + s.recv(64).decode()
    except OSError as e:
        return "refused " + name_of(e.errno)
    finally:
        s.close()

def inotify_grab():
    err = 0
    while len(held) < 4096:
        fd = libc.inotify_init1(0)
        if fd < 0:
            err = ctypes.get_errno()
            break
        held.append(fd)
    return {"count": len(held), "error": name_of(err)}

def inotify_one():
    fd = libc.inotify_init1(0)
    if fd < 0:
        return name_of(ctypes.get_errno())
    os.close(fd)
    return "ok"

def release():
    for fd in held:
        os.close(fd)
    held.clear()
    return "released"

def handler(event, context):
    op = event["op"]
    if op == "syscalls":
        r = syscalls()
    elif op == "listen":
        r = listen(event["name"])
    elif op == "connect":
        r = connect(event["name"])
    elif op == "uid_map":
        r = open("/proc/self/uid_map").read().split()
    elif op == "inotify_grab":
        r = inotify_grab()
    elif op == "inotify_one":
        r = inotify_one()
    elif op == "release":
        r = release()
    else:
        raise ValueError("unknown op " + op)
    return {"op": op, "result": r}
`

// hostileBootstrap is a Custom runtime bootstrap (built for linux/amd64 by
// buildGo) answering the same ops as hostilePy, with raw system calls.
const hostileBootstrap = `package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
	"unsafe"
)

var names = map[syscall.Errno]string{
	syscall.EPERM: "EPERM", syscall.ENOSYS: "ENOSYS", syscall.EINVAL: "EINVAL", syscall.EFAULT: "EFAULT",
	syscall.ENOSPC: "ENOSPC", syscall.EBADF: "EBADF", syscall.ENOENT: "ENOENT", syscall.EMFILE: "EMFILE",
	syscall.ECONNREFUSED: "ECONNREFUSED", 126: "ENOKEY",
}

func errName(e syscall.Errno) string {
	if n, ok := names[e]; ok {
		return n
	}
	return fmt.Sprintf("errno %d", int(e))
}

func str(s string) uintptr {
	p, _ := syscall.BytePtrFromString(s)
	return uintptr(unsafe.Pointer(p))
}

func num(n int) uintptr { return uintptr(n) }

func syscalls() map[string]string {
	child := exec.Command("/bin/sleep", "30")
	child.Start()
	calls := map[string][]uintptr{
		"keyctl":          {250, 0, num(-3), 1},
		"add_key":         {248, str("user"), str("tenant-secret"), str("s3cret"), 6, num(-2)},
		"request_key":     {249, str("user"), str("tenant-secret"), 0, 0},
		"mq_open":         {240, str("tenant-queue"), syscall.O_CREAT | syscall.O_RDWR, 0o600, 0},
		"io_uring_setup":  {425, 1, 0},
		"bpf":             {321, 0, 0, 0},
		"perf_event_open": {298, 0, 0, num(-1), num(-1), 0},
		"userfaultfd":     {323, 1},
		"mount":           {165, str("none"), str("/tmp"), str("tmpfs"), 0, 0},
		"ptrace":          {101, 16, uintptr(child.Process.Pid), 0, 0},
		"unshare":         {272, 0x10000000},
		"setns":           {308, num(-1), 0},
		"clone3":          {435, 0, 0},
	}
	out := map[string]string{}
	for name, c := range calls {
		a := append(c[1:], 0, 0, 0, 0, 0, 0)
		_, _, e := syscall.Syscall6(c[0], a[0], a[1], a[2], a[3], a[4], a[5])
		if e == 0 {
			out[name] = "ok"
		} else {
			out[name] = errName(e)
		}
	}
	child.Process.Kill()
	child.Wait()
	return out
}

func listen(name string) string {
	l, err := net.Listen("unix", "@"+name)
	if err != nil {
		return "error " + err.Error()
	}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("hello from " + name))
			c.Close()
		}
	}()
	return "listening"
}

func connect(name string) string {
	c, err := net.DialTimeout("unix", "@"+name, 5*time.Second)
	if err != nil {
		if e, ok := err.(*net.OpError); ok {
			if se, ok := e.Err.(*os.SyscallError); ok {
				if errno, ok := se.Err.(syscall.Errno); ok {
					return "refused " + errName(errno)
				}
			}
		}
		return "refused " + err.Error()
	}
	defer c.Close()
	b, _ := io.ReadAll(c)
	return "connected " + string(b)
}

func inotifyOne() string {
	fd, err := syscall.InotifyInit1(0)
	if err != nil {
		return errName(err.(syscall.Errno))
	}
	syscall.Close(fd)
	return "ok"
}

func handle(event map[string]any) any {
	name, _ := event["name"].(string)
	switch event["op"] {
	case "syscalls":
		return syscalls()
	case "listen":
		return listen(name)
	case "connect":
		return connect(name)
	case "uid_map":
		b, _ := os.ReadFile("/proc/self/uid_map")
		return strings.Fields(string(b))
	case "inotify_one":
		return inotifyOne()
	}
	return "unknown op"
}

func main() {
	api := "http://" + os.Getenv("RUNTIME_API_ADDR") + "/v1/runtime/invocation/"
	for {
		resp, err := http.Get(api + "request")
		if err != nil {
			time.Sleep(50 * time.Millisecond)
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		rid := resp.Header.Get("X-Cff-Request-Id")
		if resp.StatusCode != 200 || rid == "" {
			time.Sleep(50 * time.Millisecond)
			continue
		}
		var event map[string]any
		json.Unmarshal(body, &event)
		out, _ := json.Marshal(map[string]any{"op": event["op"], "result": handle(event)})
		r, err := http.Post(api+"response/"+rid, "application/json", bytes.NewReader(out))
		if err == nil {
			r.Body.Close()
		}
	}
}
`

// opResult is what both hostile functions answer.
type opResult struct {
	Op     string          `json:"op"`
	Result json.RawMessage `json:"result"`
}

// callAs invokes urn in c's project with {"op": op, ...extra} and decodes
// the answer's result into out.
func (s *Server) callAs(t *testing.T, c cred, urn, op string, extra map[string]string, out any) invokeResult {
	t.Helper()
	ev := map[string]string{"op": op}
	for k, v := range extra {
		ev[k] = v
	}
	body, _ := json.Marshal(ev)
	r, err := s.invokeAs(c, urn, body, nil)
	if err != nil {
		t.Fatalf("%s %s: %v", urn, op, err)
	}
	if r.HTTP != 200 || r.Status != 200 {
		t.Fatalf("%s %s: %v; want HTTP 200, status 200", urn, op, r)
	}
	var res opResult
	if err := json.Unmarshal([]byte(r.Result), &res); err != nil || res.Op != op {
		t.Fatalf("%s %s: result %q (%v)", urn, op, r.Result, err)
	}
	if err := json.Unmarshal(res.Result, out); err != nil {
		t.Fatalf("%s %s: result %s: %v", urn, op, res.Result, err)
	}
	return r
}

// TestInvokeTenantSandboxes: functions of two projects run as host uids of
// their own, cannot reach each other's abstract unix sockets or use kernel
// keys, get EPERM for the denied system calls, and one that uses up the
// per-user inotify limit does not stop host root or the other tenant.
func TestInvokeTenantSandboxes(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOpts{})
	a := s.Cred()
	ac := s.Client(t)
	b := s.AddCredential(t, s.AddProject(t, "tenant-b"))
	bc := s.ClientWith(t, b, clientOpts{})

	aPy := deploy(t, ac, fnSpec{Name: "hostile", Runtime: "Python3.9", Inline: hostilePy})
	bPy := deploy(t, bc, fnSpec{Name: "hostile", Runtime: "Python3.9", Inline: hostilePy})
	bCustom := ""
	t.Run("CustomRuntimeAvailable", func(t *testing.T) {
		skipUnlessRuntime(t, s, ac, "Custom", "bootstrap", "zip", "custom.zip",
			zipEntries(t, map[string][]byte{"bootstrap": []byte("#!/bin/sh\nexit 1\n")}, "bootstrap"))
		bCustom = createPkg(t, bc, "hostile-custom", "Custom", "bootstrap", "zip", "custom.zip",
			zipEntries(t, map[string][]byte{"bootstrap": buildGo(t, hostileBootstrap)}, "bootstrap"))
	})
	type fn struct {
		what string
		c    cred
		urn  string
	}
	fns := []fn{{"tenant A's Python function", a, aPy}, {"tenant B's Python function", b, bPy}}
	if bCustom != "" {
		fns = append(fns, fn{"tenant B's Custom function", b, bCustom})
	}

	t.Run("OwnHostIDs", func(t *testing.T) {
		firsts := map[int]string{}
		for _, f := range fns {
			var m []string
			s.callAs(t, f.c, f.urn, "uid_map", nil, &m)
			if len(m) != 3 || m[0] != "0" || m[2] != "65536" {
				t.Errorf("%s: uid_map %q, want 0 <first> 65536", f.what, m)
				continue
			}
			first, _ := strconv.Atoi(m[1])
			if first < 1_000_000 {
				t.Errorf("%s runs as host ids from %d, want a range from the default --uid-base 1000000", f.what, first)
			}
			if other, ok := firsts[first]; ok {
				t.Errorf("%s and %s run as the same host ids from %d", f.what, other, first)
			}
			firsts[first] = f.what
		}
	})

	t.Run("DeniedSyscalls", func(t *testing.T) {
		for _, f := range fns {
			var got map[string]string
			s.callAs(t, f.c, f.urn, "syscalls", nil, &got)
			t.Logf("%s: %v", f.what, got)
			for _, name := range []string{"keyctl", "add_key", "request_key", "mq_open", "io_uring_setup", "bpf",
				"perf_event_open", "userfaultfd", "mount", "ptrace", "unshare", "setns"} {
				if got[name] != "EPERM" {
					t.Errorf("%s: %s = %q, want EPERM", f.what, name, got[name])
				}
			}
			if got["clone3"] != "ENOSYS" {
				t.Errorf("%s: clone3 = %q, want ENOSYS (so that libc falls back to clone)", f.what, got["clone3"])
			}
			if _, py := got["thread"]; py && got["thread"] != "ok" {
				t.Errorf("%s: a thread did not run: %q", f.what, got["thread"])
			}
		}
	})

	t.Run("AbstractUnixSockets", func(t *testing.T) {
		aName := "openfgs-tenant-a-" + randomHex(6)
		var got string
		la := s.callAs(t, a, aPy, "listen", map[string]string{"name": aName}, &got)
		if got != "listening" {
			t.Fatalf("A listen: %q", got)
		}
		// A's own instance reaches it: the socket is there.
		own := s.callAs(t, a, aPy, "connect", map[string]string{"name": aName}, &got)
		if own.Instance() != la.Instance() {
			t.Fatalf("A's calls ran on instances %s and %s, want one warm instance", la.Instance(), own.Instance())
		}
		if got != "connected hello from "+aName {
			t.Fatalf("A connecting to its own abstract socket: %q", got)
		}
		for _, f := range fns[1:] {
			s.callAs(t, f.c, f.urn, "connect", map[string]string{"name": aName}, &got)
			t.Logf("%s connecting to A's @%s: %s", f.what, aName, got)
			if !strings.HasPrefix(got, "refused ") {
				t.Errorf("%s connecting to tenant A's abstract socket @%s: %q, want it refused", f.what, aName, got)
			}
		}
		if bCustom != "" {
			bName := "openfgs-tenant-b-" + randomHex(6)
			if s.callAs(t, b, bCustom, "listen", map[string]string{"name": bName}, &got); got != "listening" {
				t.Fatalf("B listen: %q", got)
			}
			if s.callAs(t, a, aPy, "connect", map[string]string{"name": bName}, &got); !strings.HasPrefix(got, "refused ") {
				t.Errorf("tenant A connecting to tenant B's abstract socket @%s: %q, want it refused", bName, got)
			}
		}
	})

	t.Run("InotifyLimitStaysWithTheFunction", func(t *testing.T) {
		if b, err := os.ReadFile("/proc/sys/fs/inotify/max_user_instances"); err != nil {
			t.Skipf("no inotify limit to reach: %v", err)
		} else if n, _ := strconv.Atoi(strings.TrimSpace(string(b))); n > 900 {
			t.Skipf("fs.inotify.max_user_instances = %d: a function runs out of file descriptors first", n)
		}
		var grab struct {
			Count int    `json:"count"`
			Error string `json:"error"`
		}
		t.Cleanup(func() {
			var r string
			s.callAs(t, a, aPy, "release", nil, &r)
		})
		s.callAs(t, a, aPy, "inotify_grab", nil, &grab)
		t.Logf("tenant A took %d inotify instances, then %s", grab.Count, grab.Error)
		if grab.Error != "EMFILE" || grab.Count < 16 {
			t.Fatalf("tenant A stopped after %d inotify instances with %s; want many, then the per-user limit (EMFILE)", grab.Count, grab.Error)
		}
		fd, err := syscall.InotifyInit1(syscall.IN_CLOEXEC)
		if err != nil {
			t.Errorf("host root: inotify_init1 = %v while tenant A holds %d inotify instances", err, grab.Count)
		} else {
			syscall.Close(fd)
		}
		for _, f := range fns[1:] {
			var got string
			if s.callAs(t, f.c, f.urn, "inotify_one", nil, &got); got != "ok" {
				t.Errorf("%s: inotify_init1 = %s while tenant A holds %d inotify instances, want ok", f.what, got, grab.Count)
			}
		}
	})
}
