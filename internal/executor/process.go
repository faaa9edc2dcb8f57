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
// namespace. The socket is made on a thread that joins that namespace
// and is never reused (it exits with the goroutine), so no other code
// ever runs in the instance's namespace.
func (p *process) Dial(ctx context.Context, port int) (io.ReadWriteCloser, error) {
	type result struct {
		c   net.Conn
		err error
	}
	ch := make(chan result, 1)
	go func() {
		goruntime.LockOSThread() // not unlocked: the thread dies with us
		if err := p.enterNet(); err != nil {
			ch <- result{nil, err}
			return
		}
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", "127.0.0.1:"+strconv.Itoa(port))
		ch <- result{c, err}
	}()
	r := <-ch
	return r.c, r.err
}

func (p *process) Done() <-chan struct{} { return p.done }

// Listen listens on 127.0.0.1:port inside the instance's network
// namespace, the same way Dial connects.
func (p *process) Listen(ctx context.Context, port int) (net.Listener, error) {
	type result struct {
		l   net.Listener
		err error
	}
	ch := make(chan result, 1)
	go func() {
		goruntime.LockOSThread() // not unlocked: the thread dies with us
		if err := p.enterNet(); err != nil {
			ch <- result{nil, err}
			return
		}
		var lc net.ListenConfig
		l, err := lc.Listen(ctx, "tcp", "127.0.0.1:"+strconv.Itoa(port))
		ch <- result{l, err}
	}()
	r := <-ch
	return r.l, r.err
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
