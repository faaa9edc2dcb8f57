package outbound_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/openfgs/openfgs/internal/sandbox/outbound"
	"github.com/openfgs/openfgs/internal/sandbox/outbound/outboundtest"
	"github.com/vishvananda/netlink"
)

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// hostAddrs returns every address of this host's interfaces.
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
				out = append(out, ip.Unmap().WithZone(""))
			}
		}
	}
	return out
}

func TestCheck_RefusesTheHost(t *testing.T) {
	refused := []string{
		"127.0.0.1", "127.1.2.3", "::1", "0.0.0.0", "0.1.2.3", "::",
		"169.254.169.254", "fe80::1", "224.0.0.1", "239.1.2.3", "ff02::1",
		"255.255.255.255", "::ffff:127.0.0.1", "::ffff:169.254.169.254",
	}
	for _, a := range hostAddrs(t) {
		refused = append(refused, a.String())
	}
	for _, s := range refused {
		if err := outbound.Check(netip.MustParseAddr(s)); !errors.Is(err, outbound.ErrRefused) {
			t.Errorf("Check(%s) = %v, want ErrRefused", s, err)
		}
	}
}

// hostNetState lists the host's interfaces, addresses and routes (leaving
// out test outsides, which tests running beside this one add and remove),
// to show that attaching and closing uplinks changes nothing outside the
// instance's namespace.
func hostNetState(t *testing.T) string {
	t.Helper()
	links, err := netlink.LinkList()
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	skip := map[int]bool{}
	for _, l := range links {
		if strings.HasPrefix(l.Attrs().Name, "fgst") {
			skip[l.Attrs().Index] = true
			continue
		}
		lines = append(lines, "link "+l.Attrs().Name)
		addrs, _ := netlink.AddrList(l, netlink.FAMILY_ALL)
		for _, a := range addrs {
			lines = append(lines, "addr "+l.Attrs().Name+" "+a.IPNet.String())
		}
	}
	routes, err := netlink.RouteList(nil, netlink.FAMILY_ALL)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range routes {
		if !skip[r.LinkIndex] {
			lines = append(lines, "route "+r.String())
		}
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

// dialFrom connects from inside the namespace of pid.
func dialFrom(pid int, network string, addr netip.AddrPort) (net.Conn, error) {
	return outboundtest.InNetns(pid, func() (net.Conn, error) {
		return net.DialTimeout(network, addr.String(), 5*time.Second)
	})
}

func TestAttach(t *testing.T) {
	if err := outbound.Supported(); err != nil {
		t.Skip(err)
	}
	outside := outboundtest.New(t)
	before := hostNetState(t)

	// Host services the instance must not reach: one on loopback, one on
	// every address (so also on the host's own outward addresses).
	loop, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer loop.Close()
	any, err := net.Listen("tcp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	defer any.Close()
	for _, ln := range []net.Listener{loop, any} {
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				fmt.Fprintln(c, "host service")
				c.Close()
			}
		}()
	}

	pid := outboundtest.NewNetns(t)
	up, err := outbound.Attach(context.Background(), pid, outbound.Options{Logger: testLogger(t)})
	if err != nil {
		t.Fatalf("Attach = %v", err)
	}
	defer up.Close()

	// The way out works, over IPv4 and IPv6, TCP and UDP.
	for _, ip := range []netip.Addr{outside.IPv4, outside.IPv6} {
		c, err := dialFrom(pid, "tcp", netip.AddrPortFrom(ip, uint16(outside.TCPPort)))
		if err != nil {
			t.Fatalf("dial the outside at %v from the instance: %v", ip, err)
		}
		c.SetDeadline(time.Now().Add(5 * time.Second))
		r := bufio.NewReader(c)
		greet, _ := r.ReadString('\n')
		fmt.Fprintln(c, "ping")
		echo, _ := r.ReadString('\n')
		c.Close()
		if greet != outboundtest.Greeting+"\n" || echo != "ping\n" {
			t.Errorf("outside at %v said %q then %q", ip, greet, echo)
		}

		u, err := dialFrom(pid, "udp", netip.AddrPortFrom(ip, uint16(outside.UDPPort)))
		if err != nil {
			t.Fatal(err)
		}
		u.SetDeadline(time.Now().Add(5 * time.Second))
		u.Write([]byte("dgram"))
		buf := make([]byte, 100)
		n, err := u.Read(buf)
		u.Close()
		if string(buf[:n]) != "outside:dgram" {
			t.Errorf("UDP to %v: %q, %v", ip, buf[:n], err)
		}
	}

	// The host's own addresses are refused: its outward addresses (where
	// the any-address service listens), the host's end of the veth; so is
	// a link-local address (the outside's). Whatever the instance calls
	// loopback is its own.
	anyPort := uint16(any.Addr().(*net.TCPAddr).Port)
	var targets []netip.AddrPort
	for _, a := range hostAddrs(t) {
		if !a.IsLoopback() && !a.IsLinkLocalUnicast() {
			targets = append(targets, netip.AddrPortFrom(a, anyPort))
		}
	}
	targets = append(targets, netip.AddrPortFrom(outside.HostIPv4, anyPort), netip.AddrPortFrom(outside.LinkLocal, uint16(outside.TCPPort)))
	for _, dst := range targets {
		c, err := dialFrom(pid, "tcp", dst)
		if err == nil {
			c.Close()
			t.Errorf("the instance reached the host's service at %v", dst)
			continue
		}
		if !errors.Is(err, syscall.ECONNREFUSED) {
			t.Errorf("dial %v: %v, want connection refused", dst, err)
		}
	}
	// UDP to the host's own addresses never arrives.
	hostUDP, err := net.ListenPacket("udp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	defer hostUDP.Close()
	udpPort := uint16(hostUDP.LocalAddr().(*net.UDPAddr).Port)
	for _, dst := range targets {
		u, err := dialFrom(pid, "udp", netip.AddrPortFrom(dst.Addr(), udpPort))
		if err != nil {
			continue
		}
		u.Write([]byte("to the host"))
		u.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		if n, err := u.Read(make([]byte, 100)); err == nil {
			t.Errorf("UDP from the instance to %v was answered (%d bytes)", dst.Addr(), n)
		}
		u.Close()
	}
	hostUDP.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if n, from, err := hostUDP.ReadFrom(make([]byte, 100)); err == nil {
		t.Errorf("the host's UDP service got %d bytes from %v", n, from)
	}

	loopPort := uint16(loop.Addr().(*net.TCPAddr).Port)
	if c, err := dialFrom(pid, "tcp", netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), loopPort)); err == nil {
		c.Close()
		t.Errorf("the instance reached the host's loopback service")
	}

	// The instance sees its own device, and the host nothing new.
	ifs, err := outboundtest.InNetns(pid, net.Interfaces)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, i := range ifs {
		names = append(names, i.Name)
	}
	if !slices.Contains(names, outbound.DeviceName) {
		t.Errorf("instance interfaces %v lack %s", names, outbound.DeviceName)
	}
	if after := hostNetState(t); after != before {
		t.Errorf("the host's interfaces, addresses or routes changed:\nbefore:\n%s\nafter:\n%s", before, after)
	}

	// Closing the uplink removes the device, and with it the way out.
	up.Close()
	ifs, _ = outboundtest.InNetns(pid, net.Interfaces)
	for _, i := range ifs {
		if i.Name == outbound.DeviceName {
			t.Errorf("%s still in the instance after Close", i.Name)
		}
	}
	if c, err := dialFrom(pid, "tcp", netip.AddrPortFrom(outside.IPv4, uint16(outside.TCPPort))); err == nil {
		c.Close()
		t.Errorf("the instance reached the outside after Close")
	}
	if after := hostNetState(t); after != before {
		t.Errorf("the host's interfaces, addresses or routes changed after Close:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

// An instance sharing the supervisor's namespace never gets a device
// added to it.
func TestAttach_RefusesOwnNamespace(t *testing.T) {
	if err := outbound.Supported(); err != nil {
		t.Skip(err)
	}
	before := hostNetState(t)
	cmd := exec.Command("/bin/sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
	}()
	up, err := outbound.Attach(context.Background(), cmd.Process.Pid, outbound.Options{})
	if err == nil {
		up.Close()
		t.Fatal("Attach(a process in the host's namespace) = nil error")
	}
	if !strings.Contains(err.Error(), "shares the supervisor's network namespace") {
		t.Errorf("Attach(a process in the host's namespace) = %v", err)
	}
	if after := hostNetState(t); after != before {
		t.Errorf("host network changed:\n%s\n%s", before, after)
	}
}
