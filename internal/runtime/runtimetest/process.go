// Package runtimetest helps test runtime Kinds without a sandbox: Start
// runs a Program as a plain child process with the frame pipes on fds 3
// and 4 (or, for Program.OwnNetwork, in a network namespace of its own:
// see NetnsStarterMain), and Run is the conformance suite every language
// runtime passes, with the function code of each case written as a
// FunctionGraph user writes it.
package runtimetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/openfgs/openfgs/internal/runtime"
)

// Process is a Program running as a plain child process (no cgroups, the
// host's file system; no namespaces but, for Program.OwnNetwork, a network
// namespace of its own). It implements runtime.Process.
type Process struct {
	cmd      *exec.Cmd
	netns    bool     // in a network namespace of its own
	requests *os.File // our end of the instance's fd 3
	frames   *os.File // our end of the instance's fd 4
	out      lockedBuffer
	exited   chan struct{}
	waitErr  error
}

var _ runtime.Process = (*Process)(nil)

// StartProcess starts prog. The caller must Stop it. A prog with
// OwnNetwork runs in a network namespace of its own, which needs Linux
// and NetnsStarterMain in the test binary's TestMain.
func StartProcess(prog runtime.Program) (*Process, error) {
	if prog.Path == "" {
		return nil, errors.New("runtimetest: program has no path")
	}
	var cmd *exec.Cmd
	if prog.OwnNetwork {
		var err error
		if cmd, err = netnsCommand(prog); err != nil {
			return nil, err
		}
	} else {
		cmd = exec.Command(prog.Path, prog.Args...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	}
	cmd.Env = prog.Env
	if cmd.Env == nil {
		cmd.Env = []string{}
	}
	cmd.Dir = prog.Dir
	cmd.WaitDelay = time.Second
	p := &Process{cmd: cmd, netns: prog.OwnNetwork, exited: make(chan struct{})}
	cmd.Stdout = &p.out
	cmd.Stderr = &p.out
	var childEnds []*os.File
	if prog.Pipes {
		reqR, reqW, err := os.Pipe()
		if err != nil {
			return nil, err
		}
		frR, frW, err := os.Pipe()
		if err != nil {
			reqR.Close()
			reqW.Close()
			return nil, err
		}
		cmd.ExtraFiles = []*os.File{reqR, frW} // fds 3 and 4
		childEnds = []*os.File{reqR, frW}
		p.requests, p.frames = reqW, frR
	}
	err := cmd.Start()
	for _, f := range childEnds {
		f.Close()
	}
	if err != nil {
		p.closePipes()
		return nil, err
	}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

// Start starts prog and stops it when the test ends; on failure the
// test's output shows what the process wrote. A prog with OwnNetwork
// skips the test where network namespaces cannot be made, and fails it
// when TestMain does not call NetnsStarterMain.
func Start(t testing.TB, prog runtime.Program) *Process {
	t.Helper()
	if prog.OwnNetwork {
		if !netnsStarterInstalled.Load() {
			t.Fatal(errNoStarter)
		}
		if why := netnsUnavailable(); why != "" {
			t.Skip(why)
		}
	}
	p, err := StartProcess(prog)
	if err != nil {
		t.Fatalf("start %s: %v", prog.Path, err)
	}
	t.Cleanup(func() {
		p.Stop()
		if t.Failed() {
			if out := p.OutputString(); out != "" {
				t.Logf("instance output:\n%s", out)
			}
		}
	})
	return p
}

// Requests is the instance's fd 3.
func (p *Process) Requests() io.Writer {
	if p.requests == nil {
		return nil
	}
	return p.requests
}

// Frames is the instance's fd 4.
func (p *Process) Frames() io.Reader {
	if p.frames == nil {
		return nil
	}
	return p.frames
}

// Dial connects to 127.0.0.1:port in the instance's network: its own
// namespace for a Program with OwnNetwork, else the host's, which the
// instance shares without a sandbox.
func (p *Process) Dial(ctx context.Context, port int) (io.ReadWriteCloser, error) {
	var c net.Conn
	err := p.inNetwork(func() (err error) {
		var d net.Dialer
		c, err = d.DialContext(ctx, "tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		return err
	})
	return c, err
}

// Listen listens on 127.0.0.1:port in the instance's network, as Dial.
func (p *Process) Listen(ctx context.Context, port int) (net.Listener, error) {
	var l net.Listener
	err := p.inNetwork(func() (err error) {
		var lc net.ListenConfig
		l, err = lc.Listen(ctx, "tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		return err
	})
	return l, err
}

// inNetwork runs f in the instance's network namespace: on this goroutine
// when that is the host's.
func (p *Process) inNetwork(f func() error) error {
	if !p.netns {
		return f()
	}
	return inNetns(p.cmd.Process.Pid, f)
}

// Done is closed when the process has exited.
func (p *Process) Done() <-chan struct{} { return p.exited }

// Output returns what the instance wrote to stdout and stderr so far.
func (p *Process) Output() io.Reader { return bytes.NewReader(p.out.Bytes()) }

// OutputString is Output as a string.
func (p *Process) OutputString() string { return string(p.out.Bytes()) }

// Pid is the instance's process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Exited is closed when the process has exited.
func (p *Process) Exited() <-chan struct{} { return p.exited }

// Wait waits for the process to exit, up to timeout.
func (p *Process) Wait(timeout time.Duration) error {
	select {
	case <-p.exited:
		return p.waitErr
	case <-time.After(timeout):
		return fmt.Errorf("runtimetest: process %d still running after %v", p.Pid(), timeout)
	}
}

// Stop kills the process and its process group and waits for it.
func (p *Process) Stop() {
	select {
	case <-p.exited:
	default:
		syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.exited
	}
	p.closePipes()
}

func (p *Process) closePipes() {
	if p.requests != nil {
		p.requests.Close()
	}
	if p.frames != nil {
		p.frames.Close()
	}
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.buf.Len() > 1<<20 { // keep the first MiB
		return len(p), nil
	}
	return b.buf.Write(p)
}

func (b *lockedBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.buf.Bytes())
}
