// Package outboundtest gives tests a stand-in for "the outside world" on
// a machine that has none: a network namespace of its own, joined to the
// host's by a veth pair with documentation-range addresses (198.51.100.0/24,
// 2001:db8::/32), running TCP and UDP echo servers. From the host it is
// another machine on a directly connected link; traffic to it never leaves
// this machine.
package outboundtest

import (
	"bufio"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Outside is the stand-in. Its servers answer each TCP connection with
// Greeting and then echo each line; each UDP datagram with "outside:"
// and the datagram.
type Outside struct {
	IPv4, IPv6         netip.Addr // the outside end
	HostIPv4, HostIPv6 netip.Addr // the host's end: addresses of the host itself
	// LinkLocal is a link-local address (169.254.0.0/16) of the outside
	// end, which instances must not reach: a test that tries shows a
	// broken rule as a connection, not as traffic leaving the machine.
	LinkLocal        netip.Addr
	TCPPort, UDPPort int // on both outside addresses
	Pid              int // the process holding the outside namespace
}

// Greeting is the first line the TCP server sends.
const Greeting = "hello from outside"

var seq atomic.Int32

// New makes an Outside for the test and removes it at cleanup. It skips
// the test when it cannot (not root, no veth support).
func New(t testing.TB) *Outside {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("outboundtest: needs root")
	}
	pid := NewNetns(t)
	n := int(seq.Add(1))
	hostName := fmt.Sprintf("fgsto%d.%d", os.Getpid()%100000, n)
	peer := "eth0"
	k, err := freeSlot()
	if err != nil {
		t.Fatal(err)
	}
	o := &Outside{
		HostIPv4:  netip.AddrFrom4([4]byte{198, 51, 100, byte(4*k + 1)}),
		IPv4:      netip.AddrFrom4([4]byte{198, 51, 100, byte(4*k + 2)}),
		HostIPv6:  netip.MustParseAddr(fmt.Sprintf("2001:db8:100:%x::1", k)),
		IPv6:      netip.MustParseAddr(fmt.Sprintf("2001:db8:100:%x::2", k)),
		LinkLocal: netip.AddrFrom4([4]byte{169, 254, 77, byte(4*k + 2)}),
		Pid:       pid,
	}
	hostLinkLocal := netip.AddrFrom4([4]byte{169, 254, 77, byte(4*k + 1)})
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: hostName}, PeerName: peer, PeerNamespace: netlink.NsPid(pid)}
	if err := netlink.LinkAdd(veth); err != nil {
		t.Skipf("outboundtest: cannot make a veth pair: %v", err)
	}
	t.Cleanup(func() {
		if l, err := netlink.LinkByName(hostName); err == nil {
			netlink.LinkDel(l)
		}
	})
	host, err := netlink.LinkByName(hostName)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []*netlink.Addr{
		{IPNet: prefix(o.HostIPv4, 30)},
		{IPNet: prefix(hostLinkLocal, 30)},
		{IPNet: prefix(o.HostIPv6, 64), Flags: unix.IFA_F_NODAD},
	} {
		if err := netlink.AddrAdd(host, a); err != nil {
			t.Fatalf("outboundtest: host address %v: %v", a, err)
		}
	}
	if err := netlink.LinkSetUp(host); err != nil {
		t.Fatal(err)
	}
	_, err = InNetns(pid, func() (struct{}, error) {
		h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
		if err != nil {
			return struct{}{}, err
		}
		defer h.Close()
		for _, name := range []string{"lo", peer} {
			l, err := h.LinkByName(name)
			if err != nil {
				return struct{}{}, err
			}
			if name == peer {
				for _, a := range []*netlink.Addr{
					{IPNet: prefix(o.IPv4, 30)},
					{IPNet: prefix(o.LinkLocal, 30)},
					{IPNet: prefix(o.IPv6, 64), Flags: unix.IFA_F_NODAD},
				} {
					if err := h.AddrAdd(l, a); err != nil {
						return struct{}{}, err
					}
				}
			}
			if err := h.LinkSetUp(l); err != nil {
				return struct{}{}, err
			}
		}
		return struct{}{}, nil
	})
	if err != nil {
		t.Fatalf("outboundtest: configure the outside namespace: %v", err)
	}
	ln, err := InNetns(pid, func() (net.Listener, error) { return net.Listen("tcp", ":0") })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	o.TCPPort = ln.Addr().(*net.TCPAddr).Port
	go serveTCP(ln)
	pc, err := InNetns(pid, func() (net.PacketConn, error) { return net.ListenPacket("udp", ":0") })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	o.UDPPort = pc.LocalAddr().(*net.UDPAddr).Port
	go serveUDP(pc)
	return o
}

func prefix(a netip.Addr, bits int) *net.IPNet {
	return &net.IPNet{IP: a.AsSlice(), Mask: net.CIDRMask(bits, a.BitLen())}
}

// freeSlot picks k so that 198.51.100.4k/30 holds no address of the host
// (other tests, in other processes, may have outsides of their own).
func freeSlot() (int, error) {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return 0, err
	}
	start := os.Getpid() % 64
	for i := range 64 {
		k := (start + i) % 64
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 51, 100, byte(4 * k)}), 30)
		used := false
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok {
				if ip, ok := netip.AddrFromSlice(ipn.IP); ok && p.Contains(ip.Unmap()) {
					used = true
				}
			}
		}
		if !used {
			return k, nil
		}
	}
	return 0, fmt.Errorf("outboundtest: every /30 of 198.51.100.0/24 is in use")
}

func serveTCP(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			c.SetDeadline(time.Now().Add(30 * time.Second))
			fmt.Fprintln(c, Greeting)
			sc := bufio.NewScanner(c)
			for sc.Scan() {
				fmt.Fprintln(c, sc.Text())
			}
		}()
	}
}

func serveUDP(pc net.PacketConn) {
	buf := make([]byte, 64<<10)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			return
		}
		pc.WriteTo(append([]byte("outside:"), buf[:n]...), from)
	}
}

// NewNetns starts a process in a network namespace of its own (nothing
// but loopback, up, as in a sandbox) and returns its pid; the process is
// killed at cleanup.
func NewNetns(t testing.TB) int {
	t.Helper()
	cmd := exec.Command("/bin/sleep", "600")
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET}
	if err := cmd.Start(); err != nil {
		t.Skipf("outboundtest: cannot start a process in a new network namespace: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	pid := cmd.Process.Pid
	_, err := InNetns(pid, func() (struct{}, error) {
		lo, err := netlink.LinkByName("lo")
		if err == nil {
			err = netlink.LinkSetUp(lo)
		}
		return struct{}{}, err
	})
	if err != nil {
		t.Fatalf("outboundtest: loopback up: %v", err)
	}
	return pid
}

// InNetns runs fn, which typically makes a socket, in the network
// namespace of pid, on a thread that is never reused (it ends with its
// goroutine; it moves back first, for the main thread, which Go parks
// instead). Sockets stay in the namespace they were made in.
func InNetns[T any](pid int, fn func() (T, error)) (T, error) {
	type result struct {
		v   T
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread() // never unlocked
		var zero T
		back, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			ch <- result{zero, err}
			return
		}
		defer back.Close()
		f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/ns/net")
		if err != nil {
			ch <- result{zero, err}
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			ch <- result{zero, err}
			return
		}
		defer unix.Setns(int(back.Fd()), unix.CLONE_NEWNET)
		v, err := fn()
		ch <- result{v, err}
	}()
	r := <-ch
	return r.v, r.err
}
