package custom_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/openfgs/openfgs/internal/runtime"
)

// proc runs a Program as a plain child process sharing the host's
// network, as an instance without a sandbox. It implements
// runtime.Process plus the optional Exited and Program methods.
type proc struct {
	cmd     *exec.Cmd
	prog    runtime.Program
	out     lockedBuffer
	exited  chan struct{}
	waitErr error
}

func startProc(t testing.TB, prog runtime.Program) *proc {
	t.Helper()
	cmd := exec.Command(prog.Path, prog.Args...)
	cmd.Env = append([]string{}, prog.Env...)
	cmd.Dir = prog.Dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
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

func (p *proc) Dial(ctx context.Context, port int) (io.ReadWriteCloser, error) {
	var d net.Dialer
	return d.DialContext(ctx, "tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
}

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
