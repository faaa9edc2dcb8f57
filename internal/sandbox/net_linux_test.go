package sandbox

import (
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/openfgs/openfgs/internal/sandbox/outbound"
	"github.com/openfgs/openfgs/internal/sandbox/outbound/outboundtest"
	"github.com/vishvananda/netlink"
)

// netProbe is a hostile program: it tries every target in NET_TARGETS
// (tcp:addr:port or udp:addr:port, space-separated), lists the network
// interfaces and the listening TCP ports it can see in /proc/net, and
// prints it all as one JSON line.
const netProbe = `
import json, os, socket
out = {"reach": {}}
for t in os.environ["NET_TARGETS"].split():
    proto, rest = t.split(":", 1)
    host, port = rest.rsplit(":", 1)
    host = host.strip("[]")
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        if proto == "tcp":
            s = socket.socket(fam, socket.SOCK_STREAM)
            s.settimeout(3)
            s.connect((host, int(port)))
            out["reach"][t] = s.recv(100).decode(errors="replace").strip() or "connected"
        else:
            s = socket.socket(fam, socket.SOCK_DGRAM)
            s.settimeout(1)
            s.connect((host, int(port)))
            s.send(b"probe")
            out["reach"][t] = s.recv(100).decode(errors="replace")
        s.close()
    except OSError as e:
        out["reach"][t] = "error: " + (e.strerror or type(e).__name__)
with open("/proc/net/dev") as f:
    out["ifaces"] = sorted(l.split(":")[0].strip() for l in f.readlines()[2:])
ports = set()
for name in ("tcp", "tcp6"):
    try:
        with open("/proc/net/" + name) as f:
            for l in f.readlines()[1:]:
                p = l.split()
                if p[3] == "0A":
                    ports.add(int(p[1].rsplit(":", 1)[1], 16))
    except OSError:
        pass
out["listening"] = sorted(ports)
print(json.dumps(out), flush=True)
`

type probeResult struct {
	Reach     map[string]string `json:"reach"`
	Ifaces    []string          `json:"ifaces"`
	Listening []int             `json:"listening"`
}

func requireOutbound(t *testing.T) {
	t.Helper()
	requireSupported(t)
	if err := OutboundSupported(); err != nil {
		t.Skipf("no outbound network here: %v", err)
	}
	if _, err := os.Stat(python); err != nil {
		t.Skipf("%s: %v", python, err)
	}
}

// hostServices starts a TCP service on the host's loopback and one on
// every address, each answering "host service", and returns their ports.
func hostServices(t *testing.T) (loopPort, anyPort int) {
	t.Helper()
	var ports []int
	for _, addr := range []string{"127.0.0.1:0", ":0"} {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
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
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports[0], ports[1]
}

// hostTargets lists, for a port, the host's own addresses a hostile
// function would try: loopback, and every outward address.
func hostTargets(t *testing.T, port int) []string {
	t.Helper()
	out := []string{fmt.Sprintf("tcp:127.0.0.1:%d", port), fmt.Sprintf("tcp:[::1]:%d", port)}
	as, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range as {
		ipn, ok := a.(*net.IPNet)
		if !ok {
			continue
		}
		ip, _ := netip.AddrFromSlice(ipn.IP)
		ip = ip.Unmap()
		if ip.IsLoopback() || ip.IsLinkLocalUnicast() {
			continue
		}
		out = append(out, "tcp:"+netip.AddrPortFrom(ip, uint16(port)).String())
	}
	return out
}

func runProbe(t *testing.T, mode NetworkMode, targets []string) probeResult {
	t.Helper()
	spec := Spec{ID: newID(), Path: python, Args: []string{"-I", "-S", "-c", netProbe}, Network: mode,
		Env: []string{"PATH=/usr/bin:/bin", "NET_TARGETS=" + strings.Join(targets, " ")}}
	exit, out, stderr := run(t, spec)
	if !exit.Success() {
		t.Fatalf("probe: exit %v: %s", exit, stderr)
	}
	var r probeResult
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("probe output %q: %v", out, err)
	}
	t.Logf("probe (network %v): %+v", mode, r)
	return r
}

// A NetworkOutbound instance reaches the outside, but nothing of the
// host: not its loopback services, not its other addresses, not its
// sockets in /proc/net.
func TestSandbox_NetworkOutbound(t *testing.T) {
	requireOutbound(t)
	outside := outboundtest.New(t)
	loopPort, anyPort := hostServices(t)
	before := hostNetState(t)

	outTCP4 := fmt.Sprintf("tcp:%s:%d", outside.IPv4, outside.TCPPort)
	outTCP6 := fmt.Sprintf("tcp:[%s]:%d", outside.IPv6, outside.TCPPort)
	outUDP := fmt.Sprintf("udp:%s:%d", outside.IPv4, outside.UDPPort)
	hostLoop := hostTargets(t, loopPort)
	hostAny := hostTargets(t, anyPort)
	hostAny = append(hostAny, fmt.Sprintf("tcp:%s:%d", outside.HostIPv4, anyPort), fmt.Sprintf("tcp:%s:%d", outside.LinkLocal, outside.TCPPort))
	targets := append(append([]string{outTCP4, outTCP6, outUDP}, hostLoop...), hostAny...)

	r := runProbe(t, NetworkOutbound, targets)
	for _, ok := range []string{outTCP4, outTCP6} {
		if r.Reach[ok] != outboundtest.Greeting {
			t.Errorf("%s: %q, want the outside's greeting", ok, r.Reach[ok])
		}
	}
	if r.Reach[outUDP] != "outside:probe" {
		t.Errorf("%s: %q, want the outside's echo", outUDP, r.Reach[outUDP])
	}
	for _, bad := range append(hostLoop, hostAny...) {
		if !strings.HasPrefix(r.Reach[bad], "error: ") {
			t.Errorf("the instance reached the host at %s: %q", bad, r.Reach[bad])
		}
	}
	if want := []string{outbound.DeviceName, "lo"}; !slices.Equal(r.Ifaces, want) {
		t.Errorf("interfaces %v, want %v", r.Ifaces, want)
	}
	for _, p := range []int{loopPort, anyPort} {
		if slices.Contains(r.Listening, p) {
			t.Errorf("/proc/net in the instance shows the host's listening port %d (sees %v)", p, r.Listening)
		}
	}
	if after := hostNetState(t); after != before {
		t.Errorf("the host's interfaces, addresses or routes changed:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

// DropOutbound leaves a running instance loopback only.
func TestSandbox_DropOutbound(t *testing.T) {
	requireOutbound(t)
	outside := outboundtest.New(t)
	script := `
import socket, sys
for line in sys.stdin:
    try:
        s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=3)
        print("reached", s.recv(100).decode(errors="replace").strip(), flush=True)
        s.close()
    except OSError as e:
        print("failed", e.strerror, flush=True)
`
	spec := Spec{ID: newID(), Path: python, Args: []string{"-I", "-S", "-c", script, outside.IPv4.String(), strconv.Itoa(outside.TCPPort)}, Network: NetworkOutbound}
	s := startPiped(t, spec)
	fmt.Fprintln(s.stdin, "go")
	if got := s.until(t, ""); len(got) != 1 || got[0] != "reached "+outboundtest.Greeting {
		t.Fatalf("before DropOutbound: %q", got)
	}
	s.DropOutbound()
	fmt.Fprintln(s.stdin, "go")
	if got := s.until(t, ""); len(got) != 1 || !strings.HasPrefix(got[0], "failed") {
		t.Errorf("after DropOutbound: %q, want a failure", got)
	}
}

// Without a way out the instance still has its own namespace: loopback
// only, and nothing of the host.
func TestSandbox_NetworkNoneHidesTheHost(t *testing.T) {
	requireOutbound(t)
	outside := outboundtest.New(t)
	loopPort, anyPort := hostServices(t)
	out := fmt.Sprintf("tcp:%s:%d", outside.IPv4, outside.TCPPort)
	targets := append(append([]string{out}, hostTargets(t, loopPort)...), hostTargets(t, anyPort)...)
	r := runProbe(t, NetworkNone, targets)
	for _, tg := range targets {
		if !strings.HasPrefix(r.Reach[tg], "error: ") {
			t.Errorf("a NetworkNone instance reached %s: %q", tg, r.Reach[tg])
		}
	}
	if !slices.Equal(r.Ifaces, []string{"lo"}) || slices.Contains(r.Listening, loopPort) || slices.Contains(r.Listening, anyPort) {
		t.Errorf("interfaces %v, listening %v: want lo only and none of the host's ports", r.Ifaces, r.Listening)
	}
}

// hostNetState lists the host's interfaces, addresses and routes (leaving
// out test outsides, which other tests add and remove).
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
