package sandbox

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

const (
	// pidsSlack is added to pids.max on top of Spec.Pids and init's own
	// threads, so that a program that fills its pids budget can never stop
	// the Go runtime in init from starting a thread it turns out to need.
	pidsSlack = 2
	// killWait bounds how long Stop waits for an instance to vanish after
	// SIGKILL (only a process stuck in the kernel takes longer).
	killWait = 10 * time.Second
	// waitDelay bounds how long Wait keeps copying a non-file Stdout or
	// Stderr after the instance is gone.
	waitDelay = 2 * time.Second
)

// Sandbox is a started instance. Its methods are safe for concurrent use.
type Sandbox struct {
	id     string
	logger *slog.Logger
	cmd    *exec.Cmd
	cg     *cgroup
	pid    int // init, host view
	prog   int // the program, host view (0 if unknown)
	ids    *idLease

	uplinkMu sync.Mutex
	uplink   io.Closer // NetworkOutbound's way out, until dropped or the end

	forced atomic.Bool
	done   chan struct{} // closed when exit is final and the cgroups are gone
	exit   Exit
}

// Supported reports whether this host can run sandboxes: root, user
// namespaces, and the memory, pids and cpu cgroup controllers. It spawns
// one short-lived process in fresh namespaces to prove they work. The
// result is computed once.
func Supported() error {
	supportedOnce.Do(func() { supportedErr = supported() })
	return supportedErr
}

var (
	supportedOnce sync.Once
	supportedErr  error
)

// Warnings lists the hardening steps this kernel cannot take, each with
// what instances then lack; sandboxes still run without them.
func Warnings() []string {
	var w []string
	if err := landlockScopes(); err != nil {
		w = append(w, "instances' abstract unix sockets are not confined to them, so instances that share a network namespace can reach each other's: "+err.Error())
	}
	return w
}

func supported() error {
	if os.Geteuid() != 0 {
		return errors.New("sandbox: the supervisor must run as root (it writes uid maps and cgroups)")
	}
	b, err := os.ReadFile("/proc/sys/user/max_user_namespaces")
	if err != nil {
		return fmt.Errorf("sandbox: user namespaces: %w", err)
	}
	if strings.TrimSpace(string(b)) == "0" {
		return errors.New("sandbox: user namespaces are disabled (user.max_user_namespaces = 0)")
	}
	l, err := detectCgroups()
	if err != nil {
		return fmt.Errorf("sandbox: %w", err)
	}
	for _, d := range []string{l.memory, l.pids, l.cpu} {
		if err := unix.Access(d, unix.W_OK); err != nil {
			return fmt.Errorf("sandbox: cgroup hierarchy %s is not writable: %w", d, err)
		}
	}
	probe := ""
	for _, p := range []string{"/bin/true", "/usr/bin/true"} {
		if _, err := os.Stat(p); err == nil {
			probe = p
			break
		}
	}
	if probe == "" {
		return nil // nothing harmless to run: trust the static checks
	}
	lease, err := defaultIDRanges().acquire()
	if err != nil {
		return fmt.Errorf("sandbox: %w", err)
	}
	defer lease.release()
	cmd := exec.Command(probe)
	cmd.SysProcAttr = nsAttr(lease.first)
	err = startFromLockedThread(cmd, lease.first)
	if err == nil {
		err = cmd.Wait()
	}
	if err != nil {
		return fmt.Errorf("sandbox: cannot start a process in new user, pid, mount, ipc, uts and net namespaces: %w", err)
	}
	return nil
}

// nsAttr is how init is cloned. Container ids 0..65535 map to host ids
// first.., so init is root only inside; Credential 0/0 makes it so (the
// default would leave it the overflow uid without capabilities), and
// setgroups is allowed so that its supplementary groups, inherited from the
// supervisor (host root's), are cleared. Pdeathsig takes the instance down
// if the supervisor dies. The network namespace is always new: an
// instance never shares the host's (see NetworkMode).
func nsAttr(first int) *syscall.SysProcAttr {
	flags := uintptr(syscall.CLONE_NEWUSER | syscall.CLONE_NEWNS | syscall.CLONE_NEWPID | syscall.CLONE_NEWIPC | syscall.CLONE_NEWUTS | syscall.CLONE_NEWNET)
	ids := []syscall.SysProcIDMap{{ContainerID: 0, HostID: first, Size: IDRangeSize}}
	return &syscall.SysProcAttr{
		Cloneflags:                 flags,
		UidMappings:                ids,
		GidMappings:                ids,
		GidMappingsEnableSetgroups: true,
		Credential:                 &syscall.Credential{Uid: 0, Gid: 0},
		Pdeathsig:                  syscall.SIGKILL,
	}
}

// Start starts an instance and returns once its program is running (or
// failed to start). ctx bounds the start only; the instance lives until it
// exits or Stop is called. main must call InitMain first thing.
//
// Errors are *Error values: FaultFunction when the program or working
// folder is unusable, FaultPlatform for everything else.
func Start(ctx context.Context, spec Spec, logger *slog.Logger) (_ *Sandbox, err error) {
	const op = "sandbox.Start"
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	spec, err = spec.withDefaults()
	if err != nil {
		return nil, err
	}
	logger = logger.With("instance_id", spec.ID)
	if !initMainCalled.Load() {
		return nil, platformErr(op, "main does not call sandbox.InitMain first, so this binary cannot serve as the sandbox init")
	}
	if os.Geteuid() != 0 {
		return nil, platformErr(op, "the supervisor must run as root")
	}
	layout, err := detectCgroups()
	if err != nil {
		return nil, platformErr(op, "%w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, platformErr(op, "not started: %w", err)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, defaultStartBudget)
		defer cancel()
	}
	ranges := spec.IDs
	if ranges == nil {
		ranges = defaultIDRanges()
	}
	lease, err := ranges.acquire()
	if err != nil {
		return nil, platformErr(op, "%w", err)
	}
	// Until monitor owns it, the range goes back on every failure.
	defer func() {
		if err != nil {
			lease.release()
		}
	}()

	// Everything init inherits beyond the program's ExtraFiles. The
	// binary goes by fd because its folder may not be searchable by the
	// shifted uid (go test builds under a 0700 folder).
	var closers []*os.File
	defer func() {
		for _, f := range closers {
			f.Close()
		}
	}()
	exe, err := os.Open("/proc/self/exe")
	if err != nil {
		return nil, platformErr(op, "open own binary: %w", err)
	}
	closers = append(closers, exe)
	var mounts []initMount
	var trees []*os.File // detached copies of the bind sources, in mounts' order
	addMount := func(src, target string) (initMount, error) {
		m, tree, err := bindSource(src, target, lease.first)
		if err != nil {
			return m, err
		}
		if tree != nil {
			closers = append(closers, tree)
			m.fd = len(trees) // made absolute below
			trees = append(trees, tree)
		}
		mounts = append(mounts, m)
		return m, nil
	}
	if spec.CodeDir != "" {
		m, err := addMount(spec.CodeDir, CodePath)
		if err != nil {
			return nil, platformErr(op, "code folder: %w", err)
		}
		if !m.Dir {
			return nil, platformErr(op, "code folder %s is not a folder", spec.CodeDir)
		}
	}
	for _, x := range spec.ExtraRO {
		if _, err := addMount(x.Source, x.Target); err != nil {
			return nil, platformErr(op, "read-only mount at %s: %w", x.Target, err)
		}
	}
	slices.SortFunc(mounts, func(a, b initMount) int { return strings.Compare(a.Target, b.Target) })
	ctlR, ctlW, err := os.Pipe()
	if err != nil {
		return nil, platformErr(op, "%w", err)
	}
	closers = append(closers, ctlR)
	repR, repW, err := os.Pipe()
	if err != nil {
		ctlW.Close()
		return nil, platformErr(op, "%w", err)
	}
	closers = append(closers, repW)
	// Until init runs, a failure closes the parent's ends too.
	early := func(err error) (*Sandbox, error) {
		ctlW.Close()
		repR.Close()
		return nil, err
	}

	n := len(spec.ExtraFiles)
	files := append(append([]*os.File(nil), spec.ExtraFiles...), ctlR, repW, exe)
	// The trees follow exe: init's fd numbers for them.
	for i := range mounts {
		if mounts[i].fd >= 0 {
			mounts[i].FD = 3 + len(files) + mounts[i].fd
		}
	}
	files = append(files, trees...)
	cfg := initConfig{
		Path: spec.Path, Args: spec.Args, Env: spec.Env, Dir: spec.Dir,
		Hostname: spec.Hostname, TmpSize: spec.TmpSize, NewNet: true,
		ExtraFiles: n, Mounts: mounts, ScopeSockets: landlockScopes() == nil,
	}
	ns := make(map[string]string)
	for _, name := range []string{"mnt", "pid", "user"} {
		if ns[name], err = os.Readlink("/proc/self/ns/" + name); err != nil {
			return early(platformErr(op, "%w", err))
		}
	}
	exeFD := 3 + n + 2
	env := fmt.Sprintf("%s=ctl=%d;rep=%d;exe=%d;mnt=%s;pid=%s;user=%s", initEnv, 3+n, 3+n+1, exeFD, ns["mnt"], ns["pid"], ns["user"])

	cg, err := newCgroup(layout, spec.ID, cgroupLimits{memory: spec.MemoryBytes, cpuShares: spec.CPUShares})
	if err != nil {
		return early(platformErr(op, "create cgroups: %w", err))
	}

	cmd := &exec.Cmd{
		Path: "/proc/self/fd/" + strconv.Itoa(exeFD),
		Args: []string{initArg0},
		// Init's own environment (the program's travels in the config).
		// GORACE matters only to -race builds, whose runtime otherwise
		// sleeps a second at every exit.
		Env:         []string{env, "GOMAXPROCS=1", "GORACE=atexit_sleep_ms=0"},
		Stdin:       spec.Stdin,
		Stdout:      spec.Stdout,
		Stderr:      spec.Stderr,
		ExtraFiles:  files,
		SysProcAttr: nsAttr(lease.first),
		WaitDelay:   waitDelay,
	}
	t0 := time.Now()
	if err := startFromLockedThread(cmd, lease.first); err != nil {
		cg.remove(context.Background())
		return early(platformErr(op, "start init: %w", err))
	}
	for _, f := range closers {
		f.Close()
	}
	closers = nil

	s := &Sandbox{id: spec.ID, logger: logger, cmd: cmd, cg: cg, pid: cmd.Process.Pid, ids: lease, done: make(chan struct{})}
	// The way out is made while init builds the root.
	uplink := startOutbound(ctx, spec.Network, s.pid, logger)
	rep := bufio.NewReader(repR)
	// Unblock the handshake when ctx ends.
	stopAfter := context.AfterFunc(ctx, func() {
		now := time.Now()
		ctlW.SetDeadline(now)
		repR.SetDeadline(now)
	})
	fail := func(err error) (*Sandbox, error) {
		stopAfter()
		ctlW.Close()
		cmd.Process.Signal(syscall.SIGKILL)
		uplink.discard()
		// Drain the reports so a refusal or setup error is not lost, then
		// reap init and remove the cgroups.
		repR.SetDeadline(time.Now().Add(killWait))
		for {
			m, rerr := readMsg(rep)
			if rerr != nil {
				break
			}
			if _, ok := errors.AsType[*Error](err); !ok && m.Phase == "error" {
				err = &Error{Op: op, Fault: m.Fault, Err: errors.New(m.Err)}
			}
		}
		repR.Close()
		cmd.Wait()
		if rerr := cg.remove(context.Background()); rerr != nil {
			logger.Error("sandbox: cgroups left behind", "err", rerr)
		}
		if _, ok := errors.AsType[*Error](err); !ok {
			if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
				err = fmt.Errorf("%w (%v)", cerr, err)
			}
			err = &Error{Op: op, Fault: FaultPlatform, Err: err}
		}
		return nil, err
	}

	if err := cg.add(s.pid); err != nil {
		return fail(fmt.Errorf("place init in cgroups: %w", err))
	}
	b, _ := json.Marshal(cfg)
	if _, err := ctlW.Write(append(b, '\n')); err != nil {
		return fail(fmt.Errorf("send config to init: %w", err))
	}
	m, err := expect(rep, "ready")
	if err != nil {
		return fail(err)
	}
	for _, w := range m.Warn {
		logger.Warn("sandbox: " + w)
	}
	// The pids budget is the program's: add init's own threads (the Go
	// runtime's) that are already charged to the cgroup.
	threads, err := countThreads(s.pid)
	if err != nil {
		return fail(fmt.Errorf("count init's threads: %w", err))
	}
	if spec.Pids > 0 {
		if err := cg.setPidsMax(spec.Pids + threads + pidsSlack); err != nil {
			return fail(err)
		}
	}
	if err := s.takeOutbound(uplink); err != nil {
		return fail(err)
	}
	if _, err := ctlW.Write([]byte{'g'}); err != nil {
		return fail(fmt.Errorf("start the program: %w", err))
	}
	ctlW.Close()
	if _, err := expect(rep, "started"); err != nil {
		return fail(err)
	}
	if !stopAfter() {
		// ctx ended just as the program started.
		return fail(ctx.Err())
	}
	s.prog = childOf(s.pid)
	logger.Debug("sandbox: started", "pid", s.pid, "program_pid", s.prog, "host_uid", lease.first+FunctionUID, "init_threads", threads, "took", time.Since(t0))
	go s.monitor(rep, repR)
	return s, nil
}

// Reachable reports whether sandboxes can bind folders from under dir:
// always where the kernel has open_tree, else only when every folder on
// dir's path is searchable by the sandbox's ids.
func Reachable(dir string) error {
	_, tree, err := bindSource(dir, "/", int(defaultIDRanges().Base()))
	if tree != nil {
		tree.Close()
	}
	return err
}

// bindSource resolves a bind source on the host and opens a detached copy
// of it (open_tree with OPEN_TREE_CLONE): a mount that belongs to no
// mount namespace, so the host's mount table does not change, and that
// init attaches in its own namespace with move_mount. The supervisor
// opens it as root, so the sandbox's ids need no search permission on the
// source's parent folders (a data dir under /root works).
//
// Where open_tree does not exist (Linux before 5.2) tree is nil and init
// binds the source by path as its own uid (host uid and gid hostID, the
// first of the instance's range, no supplementary groups, no capabilities
// over host files), so every folder on the way must be searchable:
// bindSource checks that.
func bindSource(src, target string, hostID int) (m initMount, tree *os.File, err error) {
	real, err := filepath.EvalSymlinks(src)
	if err != nil {
		return initMount{}, nil, err
	}
	fi, err := os.Stat(real)
	if err != nil {
		return initMount{}, nil, err
	}
	m = initMount{Source: real, Target: target, Dir: fi.IsDir(), fd: -1}
	fd, err := unix.OpenTree(unix.AT_FDCWD, real, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_RECURSIVE)
	if err == nil {
		return m, os.NewFile(uintptr(fd), "tree:"+real), nil
	}
	if !errors.Is(err, unix.ENOSYS) {
		return initMount{}, nil, fmt.Errorf("open_tree %s: %w", real, err)
	}
	for d := filepath.Dir(real); ; d = filepath.Dir(d) {
		st, err := os.Stat(d)
		if err != nil {
			return initMount{}, nil, err
		}
		sys := st.Sys().(*syscall.Stat_t)
		bit := os.FileMode(0o001)
		switch {
		case int(sys.Uid) == hostID:
			bit = 0o100
		case int(sys.Gid) == hostID:
			bit = 0o010
		}
		if st.Mode().Perm()&bit == 0 {
			return initMount{}, nil, fmt.Errorf("%s cannot be reached from the sandbox: folder %s (mode %v, owner %d) is not searchable by host uid %d, and this kernel has no open_tree; make every folder on the path searchable by others", src, d, st.Mode().Perm(), sys.Uid, hostID)
		}
		if d == "/" {
			break
		}
	}
	return m, nil, nil
}

// The kernel sends Pdeathsig when the thread that forked the child exits,
// not the process (go.dev/issue/27505), and Go ends a thread whenever a
// goroutine locked to it returns. So init is always forked from one
// goroutine that stays locked to its thread for the life of the process.
var spawner struct {
	once sync.Once
	reqs chan spawnReq
}

type spawnReq struct {
	cmd   *exec.Cmd
	owner int
	done  chan error
}

// startFromLockedThread starts cmd, which makes a user namespace that
// owner owns (see startAsOwner), from the spawner thread.
func startFromLockedThread(cmd *exec.Cmd, owner int) error {
	spawner.once.Do(func() {
		spawner.reqs = make(chan spawnReq)
		go func() {
			runtime.LockOSThread() // never unlocked: the thread lives as long as the process
			for r := range spawner.reqs {
				r.done <- startAsOwner(r.cmd, r.owner)
			}
		}()
	})
	done := make(chan error, 1)
	spawner.reqs <- spawnReq{cmd, owner, done}
	return <-done
}

// expect reads init's next report, which must be of the given phase.
func expect(rep *bufio.Reader, phase string) (initMsg, error) {
	m, err := readMsg(rep)
	switch {
	case errors.Is(err, io.EOF):
		return m, fmt.Errorf("init exited before %q", phase)
	case err != nil:
		return m, fmt.Errorf("waiting for init (%s): %w", phase, err)
	case m.Phase == "error":
		return m, &Error{Op: "sandbox.Start", Fault: m.Fault, Err: errors.New(m.Err)}
	case m.Phase != phase:
		return m, fmt.Errorf("init said %q, want %q", m.Phase, phase)
	}
	return m, nil
}

func readMsg(r *bufio.Reader) (initMsg, error) {
	var m initMsg
	line, err := r.ReadBytes('\n')
	if err != nil {
		if len(line) == 0 || !errors.Is(err, io.EOF) {
			return m, err
		}
	}
	if err := json.Unmarshal(line, &m); err != nil {
		return m, fmt.Errorf("bad report from init: %q", line)
	}
	return m, nil
}

func countThreads(pid int) (int64, error) {
	ents, err := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/task")
	return int64(len(ents)), err
}

// childOf returns the host pid of init's one child (the program), or 0.
func childOf(pid int) int {
	tasks, _ := filepath.Glob("/proc/" + strconv.Itoa(pid) + "/task/*/children")
	for _, t := range tasks {
		b, _ := os.ReadFile(t)
		if f := strings.Fields(string(b)); len(f) > 0 {
			n, _ := strconv.Atoi(f[0])
			return n
		}
	}
	return 0
}

// monitor waits for the end: init's last report, init's exit (which the
// kernel delays until every process of its pid namespace is gone), the OOM
// counter; then it removes the cgroups.
func (s *Sandbox) monitor(rep *bufio.Reader, repR *os.File) {
	var last *initMsg
	for {
		m, err := readMsg(rep)
		if err != nil {
			break
		}
		if m.Phase == "exited" || m.Phase == "error" {
			last = &m
		}
	}
	repR.Close()
	werr := s.cmd.Wait()

	e := Exit{Code: -1, Forced: s.forced.Load()}
	ps := s.cmd.ProcessState
	switch {
	case last != nil && last.Phase == "exited":
		e.Code, e.Signal = last.Code, syscall.Signal(last.Signal)
		if e.Signal != 0 {
			e.Code = -1
		}
	case last != nil:
		e.Err = &Error{Op: "sandbox", Fault: last.Fault, Err: errors.New(last.Err)}
	case ps == nil:
		e.Err = platformErr("sandbox", "wait for init: %w", werr)
	default:
		ws, _ := ps.Sys().(syscall.WaitStatus)
		if ws.Signaled() {
			// Killed (by Stop, the OOM killer or Pdeathsig) before it
			// could report: so was everything in its namespace.
			e.Signal = ws.Signal()
		} else {
			e.Err = platformErr("sandbox", "init exited with code %d without reporting the program's status", ws.ExitStatus())
		}
	}
	if ps != nil {
		if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
			e.CPUTime = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		}
	}
	if n, err := s.cg.oomKills(); err == nil {
		e.OOMKilled = n > 0
	} else {
		s.logger.Warn("sandbox: read OOM counter", "err", err)
	}
	if peak, err := s.cg.memoryPeak(); err == nil {
		e.MemoryPeak = peak
	}
	if err := s.cg.remove(context.Background()); err != nil {
		s.logger.Error("sandbox: cgroups left behind", "err", err)
	}
	s.DropOutbound()
	// Every process of the instance is gone (init's exit waited for its
	// pid namespace to empty): its host ids are free again.
	s.ids.release()
	s.exit = e
	s.logger.Debug("sandbox: gone", "exit", e.String())
	close(s.done)
}

// Pid returns the host pid of the instance's init (pid 1 inside).
func (s *Sandbox) Pid() int { return s.pid }

// HostUID returns the host uid (and gid) the program runs as: its range's
// first id plus FunctionUID. It is the instance's alone while it lives.
func (s *Sandbox) HostUID() int { return s.ids.first + FunctionUID }

// Done is closed when the instance is gone and Wait returns at once.
func (s *Sandbox) Done() <-chan struct{} { return s.done }

// Wait blocks until the whole instance is gone (every process of it, and
// its cgroups) and returns how the program ended.
func (s *Sandbox) Wait() Exit {
	<-s.done
	return s.exit
}

// Stop ends the instance: SIGTERM to every process in it, then, when grace
// has passed or ctx ends, SIGKILL to init, which kills the whole pid
// namespace at once. It returns how the program ended (Exit.Forced if the
// SIGKILL was needed).
func (s *Sandbox) Stop(ctx context.Context, grace time.Duration) Exit {
	select {
	case <-s.done:
		return s.exit
	default:
	}
	s.signalAll(syscall.SIGTERM)
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-s.done:
		return s.exit
	case <-t.C:
	case <-ctx.Done():
	}
	s.kill()
	t.Reset(killWait)
	select {
	case <-s.done:
		return s.exit
	case <-t.C:
		return Exit{Code: -1, Err: platformErr("sandbox.Stop", "instance %s still there %v after SIGKILL", s.id, killWait)}
	}
}

// kill SIGKILLs init. The kernel then kills every process of the pid
// namespace; nothing in it can escape or survive that.
func (s *Sandbox) kill() {
	select {
	case <-s.done:
		return
	default:
	}
	s.forced.Store(true)
	// os.Process signals through a pidfd: no risk of hitting a recycled pid.
	if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
		s.logger.Warn("sandbox: SIGKILL init", "err", err)
	}
}

// signalAll sends sig to every process in the instance's cgroup except init,
// through pidfds, checking after opening each that the pid still belongs
// to this instance (so a recycled pid is never signalled).
func (s *Sandbox) signalAll(sig syscall.Signal) {
	pids, err := s.cg.procs()
	if err != nil {
		s.logger.Warn("sandbox: list processes", "err", err)
		return
	}
	want := s.cg.mem[strings.LastIndex(s.cg.mem, "/"+cgroupParent+"/"):]
	for _, pid := range pids {
		if pid == s.pid {
			continue
		}
		fd, err := unix.PidfdOpen(pid, 0)
		if err != nil {
			continue // gone
		}
		if inCgroup(pid, want) {
			unix.PidfdSendSignal(fd, sig, nil, 0)
		}
		unix.Close(fd)
	}
}

// inCgroup reports whether /proc/<pid>/cgroup lists a path ending in want.
func inCgroup(pid int, want string) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cgroup")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasSuffix(line, want) {
			return true
		}
	}
	return false
}

// MemoryUsage returns the instance's current memory charge in bytes.
func (s *Sandbox) MemoryUsage() (int64, error) {
	select {
	case <-s.done:
		return 0, platformErr("sandbox.MemoryUsage", "instance %s has exited", s.id)
	default:
	}
	return s.cg.memoryUsage()
}

// SetMemoryLimit changes the memory limit of the running instance (for a
// pre-started instance that takes on a function's size); 0 removes it.
// Below the current usage the kernel reclaims, then OOM-kills.
func (s *Sandbox) SetMemoryLimit(bytes int64) error {
	const op = "sandbox.SetMemoryLimit"
	if bytes < 0 || (bytes != 0 && bytes < minMemory) {
		return platformErr(op, "limit %d is below %d bytes", bytes, minMemory)
	}
	select {
	case <-s.done:
		return platformErr(op, "instance %s has exited", s.id)
	default:
	}
	if err := s.cg.setMemoryLimit(bytes); err != nil {
		return platformErr(op, "%w", err)
	}
	return nil
}

// SetCPUShares changes the CPU weight of the running instance (for a
// generic instance that takes a function): shares as in Spec.CPUShares.
func (s *Sandbox) SetCPUShares(shares int64) error {
	const op = "sandbox.SetCPUShares"
	if shares < 2 || shares > 262144 {
		return platformErr(op, "shares %d: want 2 to 262144", shares)
	}
	select {
	case <-s.done:
		return platformErr(op, "instance %s has exited", s.id)
	default:
	}
	if err := s.cg.setCPUShares(shares); err != nil {
		return platformErr(op, "%w", err)
	}
	return nil
}

// MemoryPeak returns the instance's memory high-water mark in bytes.
func (s *Sandbox) MemoryPeak() (int64, error) {
	select {
	case <-s.done:
		return s.exit.MemoryPeak, nil
	default:
	}
	return s.cg.memoryPeak()
}
