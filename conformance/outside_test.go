package conformance

import (
	"bufio"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// outside is a stand-in for the world outside this machine, which has
// none: a network namespace the test makes, joined to the host's by a
// veth pair with documentation-range addresses (198.51.100.0/24,
// 2001:db8::/32), running a TCP server that greets each connection with
// outsideGreeting and a UDP server that answers each datagram with
// "outside:" and the datagram. For the host it is another machine on a
// directly connected link; its traffic never leaves this machine.
type outside struct {
	IPv4, IPv6       netip.Addr // the outside end
	HostIPv4         netip.Addr // the host's end: an address of the host itself
	LinkLocal        netip.Addr // a link-local (169.254.0.0/16) address of the outside end
	TCPPort, UDPPort int
}

const outsideGreeting = "hello from outside"

var outsideSeq atomic.Int32

// newOutside builds an outside with the ip and nsenter commands; it is
// removed at cleanup. It skips the test when the machine cannot (not
// root, no iproute2).
func newOutside(t *testing.T) *outside {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("an outside network namespace needs root")
	}
	for _, tool := range []string{"ip", "nsenter"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("an outside network namespace needs %s (scripts/test.sh installs it): %v", tool, err)
		}
	}
	holder := exec.Command("/bin/sleep", "600")
	holder.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET}
	if err := holder.Start(); err != nil {
		t.Skipf("cannot start a process in a new network namespace: %v", err)
	}
	t.Cleanup(func() {
		holder.Process.Kill()
		holder.Wait()
	})
	pid := strconv.Itoa(holder.Process.Pid)
	k := freeOutsideSlot(t)
	o := &outside{
		HostIPv4:  netip.AddrFrom4([4]byte{198, 51, 100, byte(4*k + 1)}),
		IPv4:      netip.AddrFrom4([4]byte{198, 51, 100, byte(4*k + 2)}),
		IPv6:      netip.MustParseAddr(fmt.Sprintf("2001:db8:100:%x::2", k)),
		LinkLocal: netip.AddrFrom4([4]byte{169, 254, 77, byte(4*k + 2)}),
	}
	hostLinkLocal := netip.AddrFrom4([4]byte{169, 254, 77, byte(4*k + 1)})
	hostIPv6 := fmt.Sprintf("2001:db8:100:%x::1", k)
	dev := fmt.Sprintf("fgstc%d.%d", os.Getpid()%100000, outsideSeq.Add(1))
	sh := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	sh("ip", "link", "add", dev, "type", "veth", "peer", "name", "eth0", "netns", pid)
	t.Cleanup(func() { exec.Command("ip", "link", "del", dev).Run() })
	sh("ip", "addr", "add", o.HostIPv4.String()+"/30", "dev", dev)
	sh("ip", "-6", "addr", "add", hostIPv6+"/64", "dev", dev, "nodad")
	sh("ip", "addr", "add", hostLinkLocal.String()+"/30", "dev", dev)
	sh("ip", "link", "set", dev, "up")
	in := []string{"nsenter", "-t", pid, "-n", "ip"}
	sh(append(in, "addr", "add", o.IPv4.String()+"/30", "dev", "eth0")...)
	sh(append(in, "-6", "addr", "add", o.IPv6.String()+"/64", "dev", "eth0", "nodad")...)
	sh(append(in, "addr", "add", o.LinkLocal.String()+"/30", "dev", "eth0")...)
	sh(append(in, "link", "set", "eth0", "up")...)
	sh(append(in, "link", "set", "lo", "up")...)

	ln, err := inNetns(holder.Process.Pid, func() (net.Listener, error) { return net.Listen("tcp", ":0") })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	o.TCPPort = ln.Addr().(*net.TCPAddr).Port
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(30 * time.Second))
				fmt.Fprintln(c, outsideGreeting)
				sc := bufio.NewScanner(c)
				for sc.Scan() {
					fmt.Fprintln(c, sc.Text())
				}
			}()
		}
	}()
	pc, err := inNetns(holder.Process.Pid, func() (net.PacketConn, error) { return net.ListenPacket("udp", ":0") })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	o.UDPPort = pc.LocalAddr().(*net.UDPAddr).Port
	go func() {
		buf := make([]byte, 64<<10)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			pc.WriteTo(append([]byte("outside:"), buf[:n]...), from)
		}
	}()
	return o
}

// freeOutsideSlot picks k so that 198.51.100.4k/30 holds no address of
// the host (other tests may have outsides of their own).
func freeOutsideSlot(t *testing.T) int {
	t.Helper()
	start := (os.Getpid() + 32) % 64
	for i := range 64 {
		k := (start + i) % 64
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 51, 100, byte(4 * k)}), 30)
		used := false
		for _, a := range hostAddrs(t) {
			used = used || p.Contains(a)
		}
		if !used {
			return k
		}
	}
	t.Fatal("every /30 of 198.51.100.0/24 is in use")
	return 0
}

// hostAddrs returns the addresses of this host's interfaces.
func hostAddrs(t *testing.T) []netip.Addr {
	t.Helper()
	as, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	var out []netip.Addr
	for _, a := range as {
		if ipn, ok := a.(*net.IPNet); ok {
			if ip, ok := netip.AddrFromSlice(ipn.IP); ok {
				out = append(out, ip.Unmap())
			}
		}
	}
	return out
}

// inNetns runs fn, which makes a socket, in the network namespace of pid,
// on a thread used for nothing else afterwards (it ends with its
// goroutine, after moving back). The socket stays in that namespace.
func inNetns[T any](pid int, fn func() (T, error)) (T, error) {
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
		target, err := os.Open("/proc/" + strconv.Itoa(pid) + "/ns/net")
		if err != nil {
			ch <- result{zero, err}
			return
		}
		defer target.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
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
