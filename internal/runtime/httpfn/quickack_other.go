//go:build !linux

package httpfn

import "net"

func newQuickAckConn(c *net.TCPConn) net.Conn { return c }
