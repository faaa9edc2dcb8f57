//go:build linux

package httpfn_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/openfgs/openfgs/internal/runtime"
)

// netnsInitName is argv[0] of the test binary re-executed as the init of
// a new network namespace: it brings the loopback interface up and
// executes argv[1:] (see netnsInit).
const netnsInitName = "openfgs-netns-init"

// netnsInit runs in the re-executed test binary, before anything else:
// it brings lo up in its (new) network namespace and becomes the
// program, keeping its environment and pid.
func netnsInit() {
	if err := loopbackUp(); err != nil {
		fmt.Fprintln(os.Stderr, "netns init: bring lo up:", err)
		os.Exit(125)
	}
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "netns init: no program")
		os.Exit(125)
	}
	err := unix.Exec(os.Args[1], os.Args[1:], os.Environ())
	fmt.Fprintf(os.Stderr, "netns init: exec %s: %v\n", os.Args[1], err)
	os.Exit(127)
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

// netnsCheck says why instances cannot get network namespaces of their
// own here ("" when they can): tests that start instances skip then.
var netnsCheck = sync.OnceValue(func() string {
	self, err := os.Executable()
	if err != nil {
		return err.Error()
	}
	cmd := &exec.Cmd{Path: self, Args: []string{netnsInitName, "/bin/true"},
		SysProcAttr: &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET}}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Sprintf("cannot make a network namespace: %v %s", err, out)
	}
	return ""
})

// proc runs a Program as a child process in a network namespace of its
// own with only a loopback interface, up before the program starts, as
// the sandbox does for Program.OwnNetwork. It implements runtime.Process
// and nothing more; Dial and Listen work inside the namespace, as the
// executor's do.
type proc struct {
	cmd     *exec.Cmd
	prog    runtime.Program
	out     lockedBuffer
	exited  chan struct{}
	waitErr error
}

var _ runtime.Process = (*proc)(nil)

func startProc(t testing.TB, prog runtime.Program) *proc {
	t.Helper()
	if why := netnsCheck(); why != "" {
		t.Skip(why)
	}
	if !prog.OwnNetwork {
		t.Fatalf("Program.OwnNetwork is false")
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := &exec.Cmd{
		Path:        self,
		Args:        append([]string{netnsInitName, prog.Path}, prog.Args...),
		Env:         append([]string{}, prog.Env...),
		Dir:         prog.Dir,
		SysProcAttr: &syscall.SysProcAttr{Setpgid: true, Cloneflags: syscall.CLONE_NEWNET},
	}
	p := &proc{cmd: cmd, prog: prog, exited: make(chan struct{})}
	cmd.Stdout = &p.out
	cmd.Stderr = &p.out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", prog.Path, err)
	}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("instance output:\n%s", p.out.String())
		}
	})
	return p
}

func (p *proc) Requests() io.Writer   { return nil }
func (p *proc) Frames() io.Reader     { return nil }
func (p *proc) Output() io.Reader     { return bytes.NewReader([]byte(p.out.String())) }
func (p *proc) Done() <-chan struct{} { return p.exited }

// inNetns runs f on a thread that joins the process's network namespace
// and is never given back (it ends with its goroutine).
func (p *proc) inNetns(f func() error) error {
	ch := make(chan error, 1)
	go func() {
		goruntime.LockOSThread() // not unlocked: the thread dies with the goroutine
		ns, err := os.Open("/proc/" + strconv.Itoa(p.cmd.Process.Pid) + "/ns/net")
		if err != nil {
			ch <- err
			return
		}
		err = unix.Setns(int(ns.Fd()), unix.CLONE_NEWNET)
		ns.Close()
		if err != nil {
			ch <- err
			return
		}
		ch <- f()
	}()
	return <-ch
}

// Dial connects to 127.0.0.1:port in the process's network namespace.
func (p *proc) Dial(ctx context.Context, port int) (io.ReadWriteCloser, error) {
	var c net.Conn
	err := p.inNetns(func() (err error) {
		var d net.Dialer
		c, err = d.DialContext(ctx, "tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		return err
	})
	return c, err
}

// Listen listens on 127.0.0.1:port in the process's network namespace.
func (p *proc) Listen(ctx context.Context, port int) (net.Listener, error) {
	var l net.Listener
	err := p.inNetns(func() (err error) {
		var lc net.ListenConfig
		l, err = lc.Listen(ctx, "tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		return err
	})
	return l, err
}

func (p *proc) stop() {
	select {
	case <-p.exited:
	default:
		syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.exited
	}
}

// hostPortFree reports whether nothing listens on 127.0.0.1:port in the
// test's (the host's) network namespace.
func hostPortFree(port int) bool {
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return false
	}
	ln.Close()
	return true
}

// dialHost connects to 127.0.0.1:port in the host's network namespace.
func dialHost(port int) error {
	c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), time.Second)
	if err == nil {
		c.Close()
	}
	return err
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// waitFor polls cond until it holds or d passes.
func waitFor(d time.Duration, cond func() bool) bool {
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		if cond() {
			return true
		}
		time.Sleep(5 * time.Millisecond)
	}
	return cond()
}

// isTestBinaryAsInit reports whether this process is the test binary
// re-executed as a namespace's init.
func isTestBinaryAsInit() bool {
	return filepath.Base(os.Args[0]) == netnsInitName
}
