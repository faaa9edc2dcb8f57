//go:build linux

package httpfn_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"os"
	"os/exec"
	goruntime "runtime"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/openfgs/openfgs/internal/runtime"
)

// proc runs a Program as a child process in a network namespace of its
// own (with only a loopback interface, brought up before the program
// starts), as the sandbox does for Program.OwnNetwork. It implements
// runtime.Process plus the optional Exited and Program methods; Dial
// connects inside the namespace, as the executor does.
type proc struct {
	cmd     *exec.Cmd
	prog    runtime.Program
	out     lockedBuffer
	exited  chan struct{}
	waitErr error
}

func startProc(t testing.TB, prog runtime.Program) *proc {
	t.Helper()
	ip := ipCommand(t)
	args := append([]string{"-c", ip + ` link set lo up && exec "$@"`, "netns-init", prog.Path}, prog.Args...)
	cmd := exec.Command("/bin/sh", args...)
	cmd.Env = append([]string{}, prog.Env...)
	cmd.Dir = prog.Dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Cloneflags: syscall.CLONE_NEWNET}
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

func (p *proc) Requests() io.Writer { return nil }
func (p *proc) Frames() io.Reader   { return nil }
func (p *proc) Output() io.Reader   { return bytes.NewReader([]byte(p.out.String())) }

// Dial connects to 127.0.0.1:port in the process's network namespace:
// the socket is made on a thread that joins the namespace and is never
// given back (it ends with its goroutine).
func (p *proc) Dial(ctx context.Context, port int) (io.ReadWriteCloser, error) {
	type result struct {
		c   net.Conn
		err error
	}
	ch := make(chan result, 1)
	go func() {
		goruntime.LockOSThread() // not unlocked: the thread dies with the goroutine
		ns, err := os.Open("/proc/" + strconv.Itoa(p.cmd.Process.Pid) + "/ns/net")
		if err != nil {
			ch <- result{nil, err}
			return
		}
		err = unix.Setns(int(ns.Fd()), unix.CLONE_NEWNET)
		ns.Close()
		if err != nil {
			ch <- result{nil, err}
			return
		}
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		ch <- result{c, err}
	}()
	r := <-ch
	return r.c, r.err
}

// ipCommand is the path of ip(8); tests that need a network namespace
// skip without it or without the privilege to make one.
func ipCommand(t testing.TB) string {
	t.Helper()
	ipOnce.Do(func() {
		for _, p := range []string{"/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"} {
			if _, err := os.Stat(p); err == nil {
				ipPath = p
				break
			}
		}
		if ipPath == "" {
			ipErr = "no ip command"
			return
		}
		if err := exec.Command("unshare", "--net", ipPath, "link", "set", "lo", "up").Run(); err != nil {
			ipErr = "cannot make a network namespace: " + err.Error()
		}
	})
	if ipErr != "" {
		t.Skip(ipErr)
	}
	return ipPath
}

var (
	ipOnce sync.Once
	ipPath string
	ipErr  string
)

func (p *proc) Exited() <-chan struct{}  { return p.exited }
func (p *proc) Program() runtime.Program { return p.prog }

func (p *proc) stop() {
	select {
	case <-p.exited:
	default:
		syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.exited
	}
}

// bareProc is a proc that only has the methods of runtime.Process, as
// the executor's processes.
type bareProc struct{ p *proc }

func (b bareProc) Requests() io.Writer { return nil }
func (b bareProc) Frames() io.Reader   { return nil }
func (b bareProc) Output() io.Reader   { return b.p.Output() }
func (b bareProc) Dial(ctx context.Context, port int) (io.ReadWriteCloser, error) {
	return b.p.Dial(ctx, port)
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
