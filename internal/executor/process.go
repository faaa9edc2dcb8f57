package executor

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	goruntime "runtime"
	"strconv"

	"golang.org/x/sys/unix"
)

// process is a started instance as a runtime.Kind sees it.
type process struct {
	done     <-chan struct{}
	requests *os.File // our end of the instance's fd 3
	frames   *os.File // our end of the instance's fd 4
	output   *os.File // the instance's stdout and stderr
	pid      int      // a process inside the instance's namespaces
}

func (p *process) Requests() io.Writer { return p.requests }
func (p *process) Frames() io.Reader   { return p.frames }
func (p *process) Output() io.Reader   { return p.output }

// Dial connects to 127.0.0.1:port inside the instance's network
// namespace.
func (p *process) Dial(ctx context.Context, port int) (io.ReadWriteCloser, error) {
	return inNetns(p, func() (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "tcp", "127.0.0.1:"+strconv.Itoa(port))
	})
}

// Listen listens on 127.0.0.1:port inside the instance's network
// namespace.
func (p *process) Listen(ctx context.Context, port int) (net.Listener, error) {
	return inNetns(p, func() (net.Listener, error) {
		var lc net.ListenConfig
		return lc.Listen(ctx, "tcp", "127.0.0.1:"+strconv.Itoa(port))
	})
}

func (p *process) Done() <-chan struct{} { return p.done }

// inNetns runs fn, which makes a socket, in the instance's network
// namespace. It runs on a thread that joins that namespace and is never
// reused (it exits with its goroutine), so no other code ever runs in the
// instance's namespace; the socket stays in it.
func inNetns[T any](p *process, fn func() (T, error)) (T, error) {
	type result struct {
		v   T
		err error
	}
	ch := make(chan result, 1)
	go func() {
		goruntime.LockOSThread() // not unlocked: the thread dies with us
		if err := p.enterNet(); err != nil {
			var zero T
			ch <- result{zero, err}
			return
		}
		v, err := fn()
		ch <- result{v, err}
	}()
	r := <-ch
	return r.v, r.err
}

// enterNet moves the calling (locked) thread into the instance's network
// namespace.
func (p *process) enterNet() error {
	ns, err := os.Open("/proc/" + strconv.Itoa(p.pid) + "/ns/net")
	if err != nil {
		return fmt.Errorf("instance network: %w", err)
	}
	defer ns.Close()
	if err := unix.Setns(int(ns.Fd()), unix.CLONE_NEWNET); err != nil {
		return fmt.Errorf("instance network: setns: %w", err)
	}
	return nil
}

func (p *process) close() {
	for _, f := range []*os.File{p.requests, p.frames, p.output} {
		if f != nil {
			f.Close()
		}
	}
}
