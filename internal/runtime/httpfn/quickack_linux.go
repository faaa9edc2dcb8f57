package httpfn

import (
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// quickAckConn acknowledges what it receives at once (TCP_QUICKACK,
// renewed before every read, since the kernel drops it on its own).
//
// Many simple servers (Python's http.server among them) write a
// response's headers and its body in two small writes without
// TCP_NODELAY: Nagle's algorithm holds the body until the headers are
// acknowledged, and a delayed acknowledgement costs 40 ms per request.
type quickAckConn struct {
	*net.TCPConn
	raw syscall.RawConn
}

func newQuickAckConn(c *net.TCPConn) net.Conn {
	raw, err := c.SyscallConn()
	if err != nil {
		return c
	}
	return &quickAckConn{c, raw}
}

func (c *quickAckConn) Read(b []byte) (int, error) {
	c.raw.Control(func(fd uintptr) {
		unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_QUICKACK, 1)
	})
	return c.TCPConn.Read(b)
}
