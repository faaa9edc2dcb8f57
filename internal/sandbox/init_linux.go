package sandbox

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/signal"
	"path"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"
)

// The init helper is the supervisor's own binary re-executed with argv[0]
// initArg0 and the environment variable initEnv; both must be present.
const (
	initArg0 = "openfgs-sandbox-init"
	initEnv  = "FGS_SANDBOX_INIT"
)

// Exit codes of init when it cannot report through the pipe.
const (
	initExitRefused = 121 // safety preconditions not met: nothing was mounted
	initExitSetup   = 122 // setup failed, reported
	initExitAborted = 123 // the supervisor closed the control pipe
)

// initMainCalled records that this binary's main calls InitMain, which Start
// requires: otherwise the re-executed child would run the real main.
var initMainCalled atomic.Bool

// InitMain must be the first call in main. In the sandbox init helper (the
// binary re-executed by Start) it sets up the sandbox, runs the program and
// exits with it: it never returns. Anywhere else it returns at once.
func InitMain() {
	initMainCalled.Store(true)
	v, ok := os.LookupEnv(initEnv)
	if !ok || len(os.Args) == 0 || os.Args[0] != initArg0 {
		return
	}
	// Everything below runs on this one OS thread: no_new_privs, the
	// bounding set and the cgroup namespace are per thread, and the
	// program is forked from here.
	runtime.LockOSThread()
	os.Exit(runInit(v))
}

// initParams arrive in initEnv, before anything else: the supervisor's
// namespace ids (for the safety check) and the inherited fds.
type initParams struct {
	ctl, rep, exe  int
	mnt, pid, user string // the supervisor's /proc/self/ns/* links
}

// initConfig arrives as one JSON line on the control pipe.
type initConfig struct {
	Path       string      `json:"path"`
	Args       []string    `json:"args"`
	Env        []string    `json:"env"`
	Dir        string      `json:"dir"`
	Hostname   string      `json:"hostname"`
	TmpSize    int64       `json:"tmp_size"`
	NewNet     bool        `json:"new_net"`
	ExtraFiles int         `json:"extra_files"` // the program's fds 3..3+n-1
	Mounts     []initMount `json:"mounts"`

	// ScopeSockets: confine the program's abstract unix sockets to the
	// instance with Landlock (the supervisor checked that the kernel can).
	ScopeSockets bool `json:"scope_sockets"`
}

// initMount is a read-only bind. FD, when set, is init's fd of a detached
// copy of the source that the supervisor made with open_tree (a plain fd
// of the source would not do: the kernel refuses to bind from a mount of
// another mount namespace), which init attaches with move_mount. Without
// it init binds Source, a host path whose symlinks the supervisor
// resolved and which it checked init's uid can reach.
type initMount struct {
	Source string `json:"source"`
	Target string `json:"target"`
	Dir    bool   `json:"dir"`
	FD     int    `json:"fd,omitempty"`

	fd int // the supervisor's index of the tree among the passed trees; -1 for none
}

// initMsg is one JSON line from init to the supervisor.
type initMsg struct {
	Phase  string   `json:"phase"` // "ready", "started", "error" or "exited"
	Fault  Fault    `json:"fault,omitempty"`
	Err    string   `json:"err,omitempty"`
	Warn   []string `json:"warn,omitempty"`
	Pid    int      `json:"pid,omitempty"` // the program's pid inside
	Code   int      `json:"code"`
	Signal int      `json:"signal,omitempty"`
}

type reporter struct{ f *os.File }

func (r *reporter) send(m initMsg) {
	b, _ := json.Marshal(m)
	r.f.Write(append(b, '\n'))
}

func (r *reporter) fail(fault Fault, err error) {
	r.send(initMsg{Phase: "error", Fault: fault, Err: err.Error(), Code: -1})
}

func parseInitEnv(v string) (initParams, error) {
	p := initParams{ctl: -1, rep: -1, exe: -1}
	for _, kv := range strings.Split(v, ";") {
		k, val, _ := strings.Cut(kv, "=")
		var err error
		switch k {
		case "ctl":
			p.ctl, err = strconv.Atoi(val)
		case "rep":
			p.rep, err = strconv.Atoi(val)
		case "exe":
			p.exe, err = strconv.Atoi(val)
		case "mnt":
			p.mnt = val
		case "pid":
			p.pid = val
		case "user":
			p.user = val
		}
		if err != nil {
			return p, fmt.Errorf("bad %s: %q", initEnv, v)
		}
	}
	if p.ctl < 3 || p.rep < 3 || p.exe < 3 {
		return p, fmt.Errorf("bad %s: %q", initEnv, v)
	}
	return p, nil
}

// checkIsolated is the gate in front of every mount: it passes only if this
// process is pid 1 of its own pid namespace and its mount, pid and user
// namespaces all differ from the supervisor's. A mount made anywhere else
// would change the host.
func checkIsolated(p initParams) error {
	if pid := os.Getpid(); pid != 1 {
		return fmt.Errorf("refusing to set up a sandbox: pid is %d, not 1 of a new pid namespace", pid)
	}
	for _, ns := range []struct{ name, parent string }{{"mnt", p.mnt}, {"pid", p.pid}, {"user", p.user}} {
		if !strings.HasPrefix(ns.parent, ns.name+":[") {
			return fmt.Errorf("refusing to set up a sandbox: the supervisor's %s namespace id %q is malformed", ns.name, ns.parent)
		}
		own, err := os.Readlink("/proc/self/ns/" + ns.name)
		if err != nil {
			return fmt.Errorf("refusing to set up a sandbox: %w", err)
		}
		if own == ns.parent {
			return fmt.Errorf("refusing to set up a sandbox: the %s namespace (%s) is the supervisor's", ns.name, own)
		}
	}
	return nil
}

func runInit(env string) int {
	p, err := parseInitEnv(env)
	if err != nil {
		fmt.Fprintf(os.Stderr, "openfgs sandbox init: %v\n", err)
		return initExitRefused
	}
	rep := &reporter{f: os.NewFile(uintptr(p.rep), "report")}
	if err := checkIsolated(p); err != nil {
		rep.fail(FaultPlatform, err)
		return initExitRefused
	}
	// Keep the supervisor's SIGTERM (and friends) from killing init: they
	// are the program's to handle. Notify rather than Ignore, because an
	// ignored disposition would be inherited by the program.
	signal.Notify(make(chan os.Signal, 1), syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGPIPE)

	ctl := os.NewFile(uintptr(p.ctl), "control")
	br := bufio.NewReader(ctl)
	line, err := br.ReadBytes('\n')
	if err != nil {
		return initExitAborted
	}
	var cfg initConfig
	if err := json.Unmarshal(line, &cfg); err != nil {
		rep.fail(FaultPlatform, fmt.Errorf("init config: %w", err))
		return initExitSetup
	}
	warn, err := setupRoot(p, &cfg)
	if err != nil {
		rep.fail(FaultPlatform, err)
		return initExitSetup
	}
	rep.send(initMsg{Phase: "ready", Warn: warn})

	// Wait until the supervisor has put this process into the instance's
	// cgroups, so that the program is born inside them.
	if b, err := br.ReadByte(); err != nil || b != 'g' {
		return initExitAborted
	}
	ctl.Close()

	pid, fault, err := startProgram(&cfg)
	if err != nil {
		rep.fail(fault, err)
		return initExitSetup
	}
	rep.send(initMsg{Phase: "started", Pid: pid})
	code, sig, err := reap(pid)
	if err != nil {
		rep.fail(FaultPlatform, err)
		return initExitSetup
	}
	rep.send(initMsg{Phase: "exited", Code: code, Signal: int(sig)})
	// Exiting makes the kernel SIGKILL everything left in the namespace.
	if sig != 0 {
		return 128 + int(sig)
	}
	return code
}

// stageCandidates are folders of the copied host tree that may serve as
// the mount point of the new root while it is being built. Any will do (this
// mount namespace is private); the first ones are normally empty and unused.
var stageCandidates = []string{"/media", "/srv", "/mnt", "/opt", "/tmp"}

// systemDirs are bound read-only from the host, or replicated as symlinks
// where the host has symlinks (merged /usr).
var systemDirs = []string{"usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32"}

// etcEntries are the host /etc entries (glob patterns) a program may need:
// name resolution, TLS roots, time zone, the dynamic linker's cache,
// Debian's alternatives and the language runtimes' configuration. Nothing
// else of the host's /etc is visible; passwd, group, hosts and hostname are
// generated.
var etcEntries = []string{
	"alternatives", "ca-certificates", "ca-certificates.conf", "ssl", "pki", "crypto-policies",
	"nsswitch.conf", "resolv.conf", "host.conf", "gai.conf", "protocols", "services", "networks",
	"mime.types", "localtime", "timezone", "ld.so.cache", "ld.so.conf", "ld.so.conf.d",
	"os-release", "debian_version", "java-*", "python3*", "fonts",
}

// setupRoot builds the sandbox's root and pivots into it. It returns
// warnings for hardening steps that did not take.
func setupRoot(p initParams, cfg *initConfig) (warn []string, err error) {
	step := func(what string, err error) error { return fmt.Errorf("sandbox setup: %s: %w", what, err) }

	// The gate again, right before the first mount: no change below may
	// ever run in the supervisor's mount namespace.
	if err := checkIsolated(p); err != nil {
		return nil, err
	}
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return nil, step("make / private", err)
	}

	stage := ""
	for _, c := range stageCandidates {
		if fi, err := os.Lstat(c); err == nil && fi.IsDir() {
			stage = c
			break
		}
	}
	if stage == "" {
		return nil, step("staging", fmt.Errorf("none of %v exists", stageCandidates))
	}
	root := stage
	if err := unix.Mount("openfgs-root", root, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=0755,size=1m,nr_inodes=4096"); err != nil {
		return nil, step("mount the root tmpfs", err)
	}

	for _, name := range systemDirs {
		host := "/" + name
		fi, err := os.Lstat(host)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, step(host, err)
		}
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			t, err := os.Readlink(host)
			if err == nil {
				err = os.Symlink(t, filepath.Join(root, name))
			}
			if err != nil {
				return nil, step(host, err)
			}
		case fi.IsDir():
			if err := bindRO(host, root, host, true); err != nil {
				return nil, step(host, err)
			}
		}
	}

	if err := setupEtc(root, cfg.Hostname); err != nil {
		return nil, step("/etc", err)
	}

	unix.Close(p.exe)

	if _, err := mountPoint(root, "/proc", false); err != nil {
		return nil, step("/proc", err)
	}
	if err := unix.Mount("proc", root+"/proc", "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return nil, step("mount /proc", err)
	}

	if err := setupDev(root, cfg.TmpSize); err != nil {
		return nil, step("/dev", err)
	}

	if _, err := mountPoint(root, "/tmp", false); err != nil {
		return nil, step("/tmp", err)
	}
	if err := unix.Mount("tmpfs", root+"/tmp", "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, fmt.Sprintf("mode=1777,size=%d", cfg.TmpSize)); err != nil {
		return nil, step("mount /tmp", err)
	}
	if _, err := mountPoint(root, "/var", false); err != nil {
		return nil, step("/var", err)
	}
	if err := os.Symlink("../tmp", root+"/var/tmp"); err != nil {
		return nil, step("/var/tmp", err)
	}
	if _, err := mountPoint(root, "/opt/function", false); err != nil {
		return nil, step("/opt/function", err)
	}

	// The code folder and the extra binds come last, parents first (the
	// supervisor sorted them), so that /tmp and the rest cannot hide them.
	// A target inside a read-only bind works only if its mount point
	// already exists there.
	for _, m := range cfg.Mounts {
		t := m.Target
		if !path.IsAbs(t) || path.Clean(t) != t || t == "/" || !path.IsAbs(m.Source) {
			return nil, step("bind", fmt.Errorf("bad bind %q -> %q", m.Source, t))
		}
		bind := bindRO
		if m.FD > 0 {
			bind = func(_, root, target string, dir bool) error { return attachTree(m.FD, root, target, dir) }
		}
		if err := bind(m.Source, root, t, m.Dir); err != nil {
			return nil, step(fmt.Sprintf("bind %s at %s", m.Source, t), err)
		}
	}

	// The root itself: read-only from now on (its submounts keep their own
	// flags, so /tmp stays writable).
	if err := setAttr(root, false, unix.MOUNT_ATTR_RDONLY|unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV); err != nil {
		return nil, step("make the root read-only", err)
	}

	if err := pivot(root); err != nil {
		return nil, step("pivot_root", err)
	}
	var st unix.Statfs_t
	if err := unix.Statfs("/", &st); err != nil || st.Type != unix.TMPFS_MAGIC {
		return nil, step("pivot_root", fmt.Errorf("/ is not the new root (statfs type %#x, %v)", st.Type, err))
	}

	if err := unix.Sethostname([]byte(cfg.Hostname)); err != nil {
		return nil, step("sethostname", err)
	}
	if cfg.NewNet {
		if err := loopbackUp(); err != nil {
			return nil, step("bring up lo", err)
		}
	}
	// No nested user namespaces: they would hand the program a fresh set
	// of capabilities (and so mount, unshare, ...) inside its sandbox.
	if err := os.WriteFile("/proc/sys/user/max_user_namespaces", []byte("0"), 0); err != nil {
		warn = append(warn, "cannot disable nested user namespaces: "+err.Error())
	}
	return warn, nil
}

// pivot makes root the root of this mount namespace and detaches the old
// one. pivot_root(".", ".") stacks the old root on top of the new one;
// fchdir to the old root and a lazy unmount of "." then drop it (the
// technique runc uses; it needs no put_old folder).
func pivot(root string) error {
	oldRoot, err := unix.Open("/", unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(oldRoot)
	if err := unix.Chdir(root); err != nil {
		return err
	}
	if err := unix.PivotRoot(".", "."); err != nil {
		return err
	}
	if err := unix.Fchdir(oldRoot); err != nil {
		return err
	}
	if err := unix.Mount("", ".", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return err
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return err
	}
	return unix.Chdir("/")
}

// mountPoint creates root+target (a folder, or an empty file) and any
// missing parents. It refuses to pass through a symlink, so that a target
// can never lead out of the new root into the host's tree.
func mountPoint(root, target string, file bool) (string, error) {
	if !path.IsAbs(target) || path.Clean(target) != target {
		return "", fmt.Errorf("bad mount point %q", target)
	}
	p := root
	parts := strings.Split(strings.TrimPrefix(target, "/"), "/")
	for i, part := range parts {
		p += "/" + part
		last := i == len(parts)-1
		fi, err := os.Lstat(p)
		switch {
		case err == nil && fi.Mode()&fs.ModeSymlink != 0:
			return "", fmt.Errorf("mount point %s passes through a symlink", target)
		case err == nil && !last && !fi.IsDir():
			return "", fmt.Errorf("mount point %s: %s is not a folder", target, p)
		case err == nil:
		case errors.Is(err, fs.ErrNotExist) && last && file:
			f, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o444)
			if err != nil {
				return "", err
			}
			f.Close()
		case errors.Is(err, fs.ErrNotExist):
			if err := os.Mkdir(p, 0o755); err != nil {
				return "", err
			}
		default:
			return "", err
		}
	}
	return p, nil
}

// bindRO bind-mounts src (recursively) at root+target and makes the whole
// bind read-only, nosuid and nodev.
func bindRO(src, root, target string, dir bool) error {
	dst, err := mountPoint(root, target, !dir)
	if err != nil {
		return err
	}
	if err := unix.Mount(src, dst, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return err
	}
	return setAttr(dst, true, unix.MOUNT_ATTR_RDONLY|unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV)
}

// attachTree makes the detached mount tree at fd (from open_tree) read-only,
// nosuid, nodev and private, then moves it to root+target and closes fd.
// The tree belongs to no namespace until it is moved into this one.
func attachTree(fd int, root, target string, dir bool) error {
	defer unix.Close(fd)
	dst, err := mountPoint(root, target, !dir)
	if err != nil {
		return err
	}
	attr := &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV, Propagation: unix.MS_PRIVATE}
	if err := unix.MountSetattr(fd, "", unix.AT_EMPTY_PATH|unix.AT_RECURSIVE, attr); err != nil {
		return fmt.Errorf("mount_setattr: %w", err)
	}
	if err := unix.MoveMount(fd, "", unix.AT_FDCWD, dst, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return fmt.Errorf("move_mount: %w", err)
	}
	return nil
}

// setAttr sets mount attributes on the mount at p (and below it if
// recursive) with mount_setattr, which leaves the other flags alone; that
// matters in a user namespace, where flags inherited from the host are
// locked. Kernels before 5.12 get a non-recursive remount instead.
func setAttr(p string, recursive bool, attrs uint64) error {
	flags := uint(unix.AT_SYMLINK_NOFOLLOW)
	if recursive {
		flags |= unix.AT_RECURSIVE
	}
	err := unix.MountSetattr(unix.AT_FDCWD, p, flags, &unix.MountAttr{Attr_set: attrs})
	if !errors.Is(err, unix.ENOSYS) {
		return err
	}
	var st unix.Statfs_t
	if err := unix.Statfs(p, &st); err != nil {
		return err
	}
	keep := uintptr(st.Flags) & (unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC | unix.MS_NOATIME | unix.MS_NODIRATIME | unix.MS_RELATIME)
	var add uintptr
	if attrs&unix.MOUNT_ATTR_RDONLY != 0 {
		add |= unix.MS_RDONLY
	}
	if attrs&unix.MOUNT_ATTR_NOSUID != 0 {
		add |= unix.MS_NOSUID
	}
	if attrs&unix.MOUNT_ATTR_NODEV != 0 {
		add |= unix.MS_NODEV
	}
	if attrs&unix.MOUNT_ATTR_NOEXEC != 0 {
		add |= unix.MS_NOEXEC
	}
	return unix.Mount("", p, "", unix.MS_BIND|unix.MS_REMOUNT|keep|add, "")
}

func setupEtc(root, hostname string) error {
	if _, err := mountPoint(root, "/etc", false); err != nil {
		return err
	}
	gen := map[string]string{
		"passwd": "root:x:0:0:root:/root:/usr/sbin/nologin\n" +
			"function:x:1000:1000:function:/tmp:/usr/sbin/nologin\n" +
			"nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
		"group":    "root:x:0:\nfunction:x:1000:\nnogroup:x:65534:\n",
		"hostname": hostname + "\n",
		"hosts": "127.0.0.1\tlocalhost\n127.0.1.1\t" + hostname + "\n" +
			"::1\tlocalhost ip6-localhost ip6-loopback\n",
	}
	for name, body := range gen {
		if err := os.WriteFile(root+"/etc/"+name, []byte(body), 0o644); err != nil {
			return err
		}
	}
	for _, pat := range etcEntries {
		matches, _ := filepath.Glob("/etc/" + pat)
		for _, host := range matches {
			if err := bindEtcEntry(root, host); err != nil {
				return fmt.Errorf("%s: %w", host, err)
			}
		}
	}
	return nil
}

// bindEtcEntry makes host (a /etc entry) visible at the same path. A symlink
// into /usr is replicated (its target is there); any other symlink is
// followed and its target bound, so links into /run and such still work.
func bindEtcEntry(root, host string) error {
	target := "/etc/" + filepath.Base(host)
	if _, err := os.Lstat(root + target); err == nil {
		return nil
	}
	fi, err := os.Lstat(host)
	if err != nil {
		return nil
	}
	src := host
	if fi.Mode()&fs.ModeSymlink != 0 {
		resolved, err := filepath.EvalSymlinks(host)
		if err != nil {
			return nil // dangling: leave it out
		}
		if strings.HasPrefix(resolved, "/usr/") {
			link, err := os.Readlink(host)
			if err != nil {
				return err
			}
			return os.Symlink(link, root+target)
		}
		if fi, err = os.Stat(resolved); err != nil {
			return nil
		}
		src = resolved
	}
	switch {
	case fi.IsDir():
		return bindRO(src, root, target, true)
	case fi.Mode().IsRegular():
		return bindRO(src, root, target, false)
	}
	return nil
}

// setupDev mounts a small read-only /dev with the harmless character
// devices bound from the host, the usual symlinks and a bounded /dev/shm.
func setupDev(root string, tmpSize int64) error {
	dev, err := mountPoint(root, "/dev", false)
	if err != nil {
		return err
	}
	if err := unix.Mount("tmpfs", dev, "tmpfs", unix.MS_NOSUID|unix.MS_NOEXEC, "mode=0755,size=64k,nr_inodes=64"); err != nil {
		return err
	}
	for _, name := range []string{"null", "zero", "full", "random", "urandom"} {
		p, err := mountPoint(root, "/dev/"+name, true)
		if err != nil {
			return err
		}
		if err := unix.Mount("/dev/"+name, p, "", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("bind /dev/%s: %w", name, err)
		}
	}
	for name, t := range map[string]string{"fd": "/proc/self/fd", "stdin": "/proc/self/fd/0", "stdout": "/proc/self/fd/1", "stderr": "/proc/self/fd/2"} {
		if err := os.Symlink(t, dev+"/"+name); err != nil {
			return err
		}
	}
	shm, err := mountPoint(root, "/dev/shm", false)
	if err != nil {
		return err
	}
	if err := unix.Mount("shm", shm, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, fmt.Sprintf("mode=1777,size=%d", min(tmpSize, 64<<20))); err != nil {
		return err
	}
	return setAttr(dev, false, unix.MOUNT_ATTR_RDONLY|unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NOEXEC)
}

func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return err
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	return unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr)
}

// startProgram drops what the program must not have and forks it: uid and
// gid 1000 with no supplementary groups, no capabilities (not even in the
// bounding set), no_new_privs, no core dumps, the seccomp filter (see
// seccompDenied), abstract unix sockets scoped to the instance, only fds
// 0-2 and its ExtraFiles, in a new session and cgroup namespace.
func startProgram(cfg *initConfig) (pid int, fault Fault, err error) {
	// The cgroup namespace is made here, after the supervisor placed us,
	// so the program sees its own cgroup as "/".
	if err := unix.Unshare(unix.CLONE_NEWCGROUP); err != nil {
		return 0, FaultPlatform, fmt.Errorf("unshare cgroup namespace: %w", err)
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return 0, FaultPlatform, fmt.Errorf("no_new_privs: %w", err)
	}
	last := 63
	if b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap"); err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			last = n
		}
	}
	for c := 0; c <= last; c++ {
		if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(c), 0, 0, 0); err != nil && !errors.Is(err, unix.EINVAL) {
			return 0, FaultPlatform, fmt.Errorf("drop capability %d from the bounding set: %w", c, err)
		}
	}
	if err := unix.Setrlimit(unix.RLIMIT_CORE, &unix.Rlimit{}); err != nil {
		return 0, FaultPlatform, fmt.Errorf("rlimit core: %w", err)
	}
	// Every inherited fd from 3 up closes on exec; ForkExec re-opens the
	// program's ExtraFiles at their numbers.
	if err := unix.CloseRange(3, ^uint(0), unix.CLOSE_RANGE_CLOEXEC); err != nil {
		return 0, FaultPlatform, fmt.Errorf("close_range: %w", err)
	}

	if fi, err := os.Stat(cfg.Dir); err != nil || !fi.IsDir() {
		if err == nil {
			err = errors.New("not a folder")
		}
		return 0, FaultFunction, fmt.Errorf("working folder %s: %w", cfg.Dir, err)
	}
	files := make([]uintptr, 3+cfg.ExtraFiles)
	for i := range files {
		files[i] = uintptr(i)
	}
	if cfg.ScopeSockets {
		if err := scopeAbstractSockets(); err != nil {
			return 0, FaultPlatform, err
		}
	}
	// Last: from here this thread may not mount, trace, and so on.
	if err := installSeccomp(); err != nil {
		return 0, FaultPlatform, err
	}
	pid, err = syscall.ForkExec(cfg.Path, append([]string{cfg.Path}, cfg.Args...), &syscall.ProcAttr{
		Dir:   cfg.Dir,
		Env:   cfg.Env,
		Files: files,
		Sys: &syscall.SysProcAttr{
			Credential: &syscall.Credential{Uid: FunctionUID, Gid: FunctionGID, Groups: []uint32{}},
			Setsid:     true,
		},
	})
	if err != nil {
		fault := FaultPlatform
		switch {
		case errors.Is(err, syscall.ENOENT), errors.Is(err, syscall.EACCES), errors.Is(err, syscall.ENOEXEC),
			errors.Is(err, syscall.ENOTDIR), errors.Is(err, syscall.ELOOP), errors.Is(err, syscall.EISDIR),
			errors.Is(err, syscall.ETXTBSY), errors.Is(err, syscall.ENAMETOOLONG), errors.Is(err, syscall.EPERM),
			errors.Is(err, syscall.E2BIG), errors.Is(err, syscall.ELIBBAD):
			fault = FaultFunction
		}
		return 0, fault, fmt.Errorf("exec %s: %w", cfg.Path, err)
	}
	return pid, "", nil
}

// reap waits for every process reparented to init until the program itself
// exits, and returns its status. Nothing here allocates, so no new OS
// thread is ever needed: the pids limit cannot starve init.
func reap(program int) (code int, sig syscall.Signal, err error) {
	debug.SetGCPercent(-1)
	for {
		var ws syscall.WaitStatus
		// __WALL: also children whose exit signal is not SIGCHLD.
		pid, err := syscall.Wait4(-1, &ws, syscall.WALL, nil)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil {
			return -1, 0, fmt.Errorf("reaper: %w", err)
		}
		if pid != program {
			continue
		}
		switch {
		case ws.Exited():
			return ws.ExitStatus(), 0, nil
		case ws.Signaled():
			return -1, ws.Signal(), nil
		}
	}
}
