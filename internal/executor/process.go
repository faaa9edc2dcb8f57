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
		ns, err := os.Open("/proc/" + strconv.Itoa(p.pid) + "/ns/net")
		if err != nil {
			ch <- result{nil, fmt.Errorf("instance network: %w", err)}
			return
		}
		err = unix.Setns(int(ns.Fd()), unix.CLONE_NEWNET)
		ns.Close()
		if err != nil {
			ch <- result{nil, fmt.Errorf("instance network: setns: %w", err)}
			return
		}
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", "127.0.0.1:"+strconv.Itoa(port))
		ch <- result{c, err}
	}()
	r := <-ch
	return r.c, r.err
}

func (p *process) close() {
	for _, f := range []*os.File{p.requests, p.frames, p.output} {
		if f != nil {
			f.Close()
		}
	}
}
