package executor

import (
	"sync/atomic"

	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"golang.org/x/sys/unix"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/openfgs/openfgs/internal/runtime"
	"github.com/openfgs/openfgs/internal/sandbox"
)

// instance is one running copy of a function (or a generic instance not
// yet given one). Its state and counters are guarded by its pool's mu.
type instance struct {
	id   string
	kind runtime.Kind
	pool *pool // nil while generic

	st       state
	inflight int
	lastUsed time.Time

	memMB      int // the instance's memory limit
	reservedMB int // its share of the node budget still held (guarded by Executor.mu)

	box     Box
	proc    *process
	conn    runtime.Conn
	codeDir string // a per-instance code folder (generic instances), removed on stop
	digest  string // the unpacked package bound as its code folder, if any

	outMu      sync.Mutex
	outLog     io.Writer   // where stray output goes: the invocation in flight
	outCopying atomic.Bool // the pump is reading, or holds bytes not yet written
	// stdoutIsLog: the runtime's output reaches us only through stdout and
	// stderr (no frame protocol), so an invocation's log must wait for it.
	stdoutIsLog bool

	stopOnce sync.Once

	memMu   sync.Mutex
	memRead time.Time // when usedMB was read from the cgroup
	usedMB  float64
}

// Reading memory use. A cgroup read costs a system call (~2 us here, a
// tenth of the supervisor's work on a warm call), so an invocation shorter
// than memFresh reuses a reading younger than memMaxAge: in that little
// time a function cannot allocate much.
const (
	memFresh  = time.Millisecond
	memMaxAge = 10 * time.Millisecond
)

// memoryUsedMB is the instance's memory use after an invocation that
// ended at now and took d, in MB: read from its cgroup, or a recent
// reading (see memFresh).
func (in *instance) memoryUsedMB(now time.Time, d time.Duration) float64 {
	in.memMu.Lock()
	defer in.memMu.Unlock()
	if d < memFresh && now.Sub(in.memRead) < memMaxAge {
		return in.usedMB
	}
	b, err := in.box.MemoryUsage()
	if err != nil {
		return in.usedMB
	}
	in.memRead, in.usedMB = now, float64(b)/(1<<20)
	return in.usedMB
}

// Box is a started sandbox as the executor uses it.
type Box interface {
	Done() <-chan struct{}
	Wait() sandbox.Exit
	Stop(ctx context.Context, grace time.Duration) sandbox.Exit
	MemoryUsage() (int64, error)
	SetMemoryLimit(bytes int64) error
	SetCPUShares(shares int64) error
	// DropOutbound takes away the instance's way out (see
	// sandbox.NetworkOutbound), leaving it loopback only.
	DropOutbound()
	Pid() int
}

// StartFunc starts a sandbox.
type StartFunc func(ctx context.Context, spec sandbox.Spec) (Box, error)

func startSandboxed(ctx context.Context, spec sandbox.Spec) (Box, error) {
	return sandbox.Start(ctx, spec, nil)
}

func newInstanceID() string {
	var b [6]byte
	rand.Read(b[:])
	return "i-" + hex.EncodeToString(b[:])
}

// instanceSpec is what an instance needs beyond its Program.
type instanceSpec struct {
	codeDir string // host folder bound at /opt/function/code
	memMB   int
	cpu     int // millicores
	tmpMB   int
	ownNet  bool // disable_public_network: loopback only
	prog    runtime.Program
	fn      *runtime.Function // nil for a generic instance
}

// startInstance starts a sandbox running spec.prog and attaches its
// runtime. It does not load the function.
func (e *Executor) startInstance(ctx context.Context, kind runtime.Kind, spec instanceSpec) (*instance, error) {
	if w := e.opt.Work; w != nil {
		w.Begin()
		defer w.End()
	}
	in := &instance{id: newInstanceID(), kind: kind, memMB: spec.memMB, codeDir: "", st: starting}
	var toClose []*os.File
	defer func() {
		for _, f := range toClose {
			f.Close()
		}
	}()
	pipe := func() (r, w *os.File, err error) {
		r, w, err = os.Pipe()
		if err == nil {
			toClose = append(toClose, r, w)
		}
		return
	}
	reqR, reqW, err := pipe()
	if err != nil {
		return nil, err
	}
	frR, frW, err := pipe()
	if err != nil {
		return nil, err
	}
	outR, outW, err := pipe()
	if err != nil {
		return nil, err
	}
	// Runtime folders appear under RuntimeRoot, not at their host paths
	// (which would tell a function where the data dir is).
	var ro []sandbox.Mount
	prog := spec.prog
	prog.Args = slices.Clone(prog.Args)
	prog.Env = slices.Clone(prog.Env)
	for _, host := range spec.prog.ReadOnly {
		inside := runtime.RuntimeRoot + "/" + filepath.Base(host)
		ro = append(ro, sandbox.Mount{Source: host, Target: inside})
		rewrite := func(s string) string {
			if s == host || strings.HasPrefix(s, host+"/") {
				return inside + s[len(host):]
			}
			if k, v, ok := strings.Cut(s, "="); ok && (v == host || strings.HasPrefix(v, host+"/")) {
				return k + "=" + inside + v[len(host):]
			}
			return s
		}
		prog.Path = rewrite(prog.Path)
		prog.Dir = rewrite(prog.Dir)
		for i := range prog.Args {
			prog.Args[i] = rewrite(prog.Args[i])
		}
		for i := range prog.Env {
			prog.Env[i] = rewrite(prog.Env[i])
		}
	}
	spec.prog = prog
	// Every instance has a network namespace of its own; the way out is
	// for functions with public network access, when the node has it.
	net := sandbox.NetworkNone
	if !spec.ownNet && e.opt.Outbound {
		net = sandbox.NetworkOutbound
	}
	sspec := sandbox.Spec{
		ID:          in.id,
		Path:        spec.prog.Path,
		Args:        spec.prog.Args,
		Env:         spec.prog.Env,
		Dir:         spec.prog.Dir,
		CodeDir:     spec.codeDir,
		ExtraRO:     ro,
		Hostname:    in.id,
		TmpSize:     int64(spec.tmpMB) << 20,
		MemoryBytes: int64(spec.memMB) << 20,
		Pids:        1024,
		CPUShares:   sandbox.SharesFromMillicores(int64(spec.cpu)),
		Network:     net,
		IDs:         e.opt.HostIDs,
		Stdout:      outW,
		Stderr:      outW,
	}
	if spec.prog.Pipes {
		sspec.ExtraFiles = []*os.File{reqR, frW}
	}
	box, err := e.opt.StartInstance(ctx, sspec)
	if err != nil {
		return nil, err
	}
	// Our ends stay open; the child's ends close with the deferred loop.
	toClose = []*os.File{reqR, frW, outW}
	in.box = box
	in.proc = &process{output: outR, pid: box.Pid(), done: box.Done()}
	if spec.prog.Pipes {
		in.proc.requests, in.proc.frames = reqW, frR
	} else {
		reqW.Close()
		frR.Close()
	}
	in.stdoutIsLog = !spec.prog.Pipes
	go in.pumpOutput()
	go e.watch(in)
	conn, err := kind.Attach(ctx, in.proc, spec.fn)
	if err != nil {
		in.stop(e, stopFailed)
		return nil, err
	}
	in.conn = conn
	return in, nil
}

// watch drops an instance whose sandbox ends on its own (a crash, an OOM
// kill, or a program that exits): a busy one is dropped by the invocation
// that sees its connection fail, an idle or generic one here.
func (e *Executor) watch(in *instance) {
	<-in.box.Done()
	e.mu.Lock()
	for k, list := range e.generic {
		for i, g := range list {
			if g == in {
				e.generic[k] = append(list[:i:i], list[i+1:]...)
			}
		}
	}
	p := in.pool
	e.mu.Unlock()
	if p != nil {
		p.mu.Lock()
		if in.st == idle {
			p.removeLocked(in)
			p.broadcastLocked()
		}
		p.mu.Unlock()
	}
	go in.stop(e, stopBroken)
}

// pumpOutput forwards what the instance writes to stdout and stderr
// outside the frame protocol to the invocation in flight. It marks itself
// busy (outCopying) before each read of the pipe and clears the mark once
// what it read is written, so that drainOutput never sees an empty pipe
// while bytes taken from it are still on their way.
func (in *instance) pumpOutput() {
	rc, err := in.proc.output.SyscallConn()
	if err != nil {
		return
	}
	buf := make([]byte, 8<<10)
	for {
		var n int
		var rerr error
		err := rc.Read(func(fd uintptr) bool {
			in.outCopying.Store(true)
			n, rerr = unix.Read(int(fd), buf)
			if rerr == unix.EAGAIN {
				in.outCopying.Store(false)
				return false // wait until the pipe is readable
			}
			return true
		})
		if n > 0 {
			in.outMu.Lock()
			if in.outLog != nil {
				in.outLog.Write(buf[:n])
			}
			in.outMu.Unlock()
		}
		in.outCopying.Store(false)
		if err != nil || rerr != nil || n <= 0 {
			return
		}
	}
}

// drainOutput waits (briefly) until what the instance wrote to stdout and
// stderr before it answered has reached the invocation's log: the answer
// and the output travel on different pipes, and the answer may win.
func (in *instance) drainOutput() {
	if !in.stdoutIsLog {
		return
	}
	deadline := time.Now().Add(20 * time.Millisecond)
	for time.Now().Before(deadline) {
		// The order matters: an empty pipe, then a pump that is not
		// between a read and the write of what it read.
		n, err := unreadBytes(in.proc.output)
		if err != nil || n == 0 && !in.outCopying.Load() {
			return
		}
		time.Sleep(50 * time.Microsecond)
	}
}

// unreadBytes is how many bytes wait in a pipe. It uses the raw fd
// through SyscallConn, which (unlike Fd) leaves the pipe non-blocking.
func unreadBytes(f *os.File) (int, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return 0, err
	}
	var n int
	var ierr error
	if err := rc.Control(func(fd uintptr) { n, ierr = unix.IoctlGetInt(int(fd), unix.TIOCINQ) }); err != nil {
		return 0, err
	}
	return n, ierr
}

func (in *instance) setOutput(w io.Writer) {
	in.outMu.Lock()
	in.outLog = w
	in.outMu.Unlock()
}

// stopReason says why an instance stops.
type stopReason string

const (
	stopIdle     stopReason = "idle"
	stopRetired  stopReason = "new code or configuration"
	stopEvicted  stopReason = "memory budget"
	stopBroken   stopReason = "broken"
	stopFailed   stopReason = "failed to start"
	stopShutdown stopReason = "shutdown"
)

// stop ends the instance: closes its connection, stops the sandbox
// (SIGTERM, then SIGKILL after a grace period), removes its folder and
// gives back its budget. It runs once.
func (in *instance) stop(e *Executor, why stopReason) {
	in.stopOnce.Do(func() {
		if w := e.opt.Work; w != nil {
			w.Begin()
			defer w.End()
		}
		if in.conn != nil {
			in.conn.Close()
		}
		grace := 2 * time.Second
		if why == stopBroken || why == stopFailed {
			grace = 0
		}
		ctx, cancel := context.WithTimeout(context.Background(), grace+5*time.Second)
		exit := in.box.Stop(ctx, grace)
		cancel()
		in.proc.close()
		if in.codeDir != "" {
			os.RemoveAll(in.codeDir)
		}
		if in.digest != "" {
			e.code.release(in.digest)
		}
		e.release(in)
		e.logger.Debug("instance stopped", "instance_id", in.id, "reason", string(why), "exit", exit.String())
	})
}

// exitFault turns how a broken instance ended into a function error.
func (in *instance) exitFault() *runtime.FuncError {
	select {
	case <-in.box.Done():
	case <-time.After(200 * time.Millisecond):
		return &runtime.FuncError{Code: runtime.ErrExited, Type: "RuntimeExited", Message: "runtime process is exited: it stopped answering"}
	}
	x := in.box.Wait()
	if x.OOMKilled {
		return &runtime.FuncError{Code: runtime.ErrOOM, Type: "MemoryLimitExceeded", Message: "runtime memory limit exceeded"}
	}
	return &runtime.FuncError{Code: runtime.ErrExited, Type: "RuntimeExited", Message: "runtime process is exited: " + x.String()}
}

// boundedLog collects one invocation's log, keeping its first max bytes
// and counting the rest.
type boundedLog struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	max     int
	dropped int
}

func (b *boundedLog) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	room := b.max - b.buf.Len()
	if room >= len(p) {
		b.buf.Write(p)
	} else {
		if room > 0 {
			b.buf.Write(p[:room])
		}
		b.dropped += len(p) - max(room, 0)
	}
	return len(p), nil
}

func (b *boundedLog) bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := bytes.Clone(b.buf.Bytes())
	if b.dropped > 0 {
		out = append(out, []byte("... ("+itoa(b.dropped)+" more bytes of log dropped)\n")...)
	}
	return out
}

// logTime is the platform's timestamp layout in logs.
const logTime = "2006-01-02T15:04:05Z"

// stamp is a formatted log timestamp: every invocation writes two, and
// they change once a second.
type stamp struct {
	sec int64
	s   [len(logTime)]byte
}

var lastStamp atomic.Pointer[stamp]

// appendLogTime appends t in the logTime layout.
func appendLogTime(b []byte, t time.Time) []byte {
	sec := t.Unix()
	if st := lastStamp.Load(); st != nil && st.sec == sec {
		return append(b, st.s[:]...)
	}
	st := &stamp{sec: sec}
	if len(t.UTC().AppendFormat(st.s[:0], logTime)) != len(st.s) { // a year past 9999
		return t.UTC().AppendFormat(b, logTime)
	}
	lastStamp.Store(st)
	return append(b, st.s[:]...)
}

// startLine writes the platform's first line of an invocation's log.
func (b *boundedLog) startLine(t time.Time, id, version string) {
	var buf [160]byte
	l := appendLogTime(buf[:0], t)
	l = append(l, " Start invoke request '"...)
	l = append(l, id...)
	l = append(l, "', version: "...)
	l = append(l, version...)
	l = append(l, '\n')
	b.Write(l)
}

// finishLine writes the platform's last line of an invocation's log.
func (b *boundedLog) finishLine(t time.Time, id string, d time.Duration, memMB float64, billingMB int) {
	var buf [256]byte
	l := appendLogTime(buf[:0], t)
	l = append(l, " Finish invoke request '"...)
	l = append(l, id...)
	l = append(l, "', duration: "...)
	l = strconv.AppendFloat(l, float64(d.Microseconds())/1000, 'f', 3, 64)
	l = append(l, "ms, billing duration: "...)
	l = strconv.AppendInt(l, BillingMillis(d), 10)
	l = append(l, "ms, memory used: "...)
	l = strconv.AppendFloat(l, memMB, 'f', 3, 64)
	l = append(l, "MB, billing memory: "...)
	l = strconv.AppendInt(l, int64(billingMB), 10)
	l = append(l, "MB\n"...)
	b.Write(l)
}

func itoa(n int) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			break
		}
	}
	return string(b[i:])
}
