package conformance

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/huaweicloud/huaweicloud-sdk-go-v3/services/functiongraph/v2/model"
)

// netProbePy is hostile function code: probe(targets) tries to connect to
// each "tcp:host:port" or "udp:host:port", and reports what answered, the
// network interfaces it sees, the TCP ports listening in /proc/net and the
// unix sockets there.
const netProbePy = `import json, socket

def probe(targets):
    reach = {}
    for t in targets:
        proto, rest = t.split(":", 1)
        host, port = rest.rsplit(":", 1)
        host = host.strip("[]")
        fam = socket.AF_INET6 if ":" in host else socket.AF_INET
        try:
            if proto == "tcp":
                s = socket.socket(fam, socket.SOCK_STREAM)
                s.settimeout(3)
                s.connect((host, int(port)))
                s.settimeout(0.5)
                try:
                    reach[t] = s.recv(100).decode(errors="replace").strip() or "connected"
                except socket.timeout:
                    reach[t] = "connected"
            else:
                s = socket.socket(fam, socket.SOCK_DGRAM)
                s.settimeout(1)
                s.connect((host, int(port)))
                s.send(b"probe")
                reach[t] = s.recv(100).decode(errors="replace")
            s.close()
        except OSError as e:
            reach[t] = "error: " + (e.strerror or type(e).__name__)
    with open("/proc/net/dev") as f:
        ifaces = sorted(l.split(":")[0].strip() for l in f.readlines()[2:])
    listening = set()
    for name in ("tcp", "tcp6"):
        with open("/proc/net/" + name) as f:
            for l in f.readlines()[1:]:
                p = l.split()
                if p[3] == "0A":
                    listening.add(int(p[1].rsplit(":", 1)[1], 16))
    unix = []
    with open("/proc/net/unix") as f:
        for l in f.readlines()[1:]:
            p = l.split()
            if len(p) > 7:
                unix.append(p[7])
    return {"reach": reach, "ifaces": ifaces, "listening": sorted(listening), "unix": unix}
`

// netProbeHTTP serves probe over HTTP on port 8000 (an HTTP function):
// the event, POSTed as it is, holds the targets.
const netProbeHTTP = `import http.server, json
from probe import probe

class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        event = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        body = json.dumps(probe(event["targets"])).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass

http.server.ThreadingHTTPServer(("127.0.0.1", 8000), H).serve_forever()
`

type netProbeResult struct {
	Reach     map[string]string `json:"reach"`
	Ifaces    []string          `json:"ifaces"`
	Listening []int             `json:"listening"`
	Unix      []string          `json:"unix"`
}

// hostileTargets is what a hostile function tries on this machine: the
// host's loopback services (PostgreSQL, Redis, NATS, RabbitMQ, MariaDB,
// Mosquitto, the fgs API itself) over IPv4 and IPv6, a service of the
// test's on every host address (so on each outward address too, and on
// the host's end of the link to the outside), and a link-local address
// (where cloud metadata services live; here the outside's, so that a
// broken rule shows as a connection instead of traffic leaving the
// machine).
func hostileTargets(t *testing.T, s *Server, o *outside) []string {
	t.Helper()
	_, fgsPort, _ := net.SplitHostPort(s.Addr)
	var out []string
	for _, p := range []string{"5432", "6379", "4222", "5672", "3306", "1883", fgsPort} {
		out = append(out, "tcp:127.0.0.1:"+p, "tcp:[::1]:"+p)
	}
	ln, err := net.Listen("tcp", ":0")
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
	port := uint16(ln.Addr().(*net.TCPAddr).Port)
	for _, a := range hostAddrs(t) {
		if !a.IsLoopback() && !a.IsLinkLocalUnicast() {
			out = append(out, "tcp:"+netip.AddrPortFrom(a, port).String())
		}
	}
	return append(out, fmt.Sprintf("tcp:%s:%d", o.HostIPv4, port), fmt.Sprintf("tcp:%s:%d", o.LinkLocal, o.TCPPort))
}

// outsideTargets are the outside's services over IPv4 and IPv6, TCP and
// UDP.
func outsideTargets(o *outside) []string {
	return []string{
		fmt.Sprintf("tcp:%s:%d", o.IPv4, o.TCPPort),
		fmt.Sprintf("tcp:[%s]:%d", o.IPv6, o.TCPPort),
		fmt.Sprintf("udp:%s:%d", o.IPv4, o.UDPPort),
	}
}

// hostUnixSockets lists the named unix sockets of the host's namespace
// (PostgreSQL's, MariaDB's, ...).
func hostUnixSockets(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("/proc/net/unix")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n")[1:] {
		if f := strings.Fields(l); len(f) > 7 {
			out = append(out, f[7])
		}
	}
	return out
}

// checkNoHost fails the test for every host target the probe reached
// and for every host socket it saw.
func checkNoHost(t *testing.T, what string, r netProbeResult, hostile []string, hostUnix []string) {
	t.Helper()
	for _, tg := range hostile {
		got, ok := r.Reach[tg]
		if !ok || !strings.HasPrefix(got, "error: ") {
			t.Errorf("%s: the function reached the host at %s: %q", what, tg, got)
		}
	}
	for _, p := range []int{5432, 6379, 4222, 5672, 3306, 1883} {
		if slices.Contains(r.Listening, p) {
			t.Errorf("%s: /proc/net/tcp in the function shows the host's port %d listening", what, p)
		}
	}
	for _, u := range r.Unix {
		if slices.Contains(hostUnix, u) {
			t.Errorf("%s: /proc/net/unix in the function shows the host's socket %s", what, u)
		}
	}
}

// hasOutbound reports whether fgs can give functions a way out here (it
// needs /dev/net/tun; without it they get loopback only).
func hasOutbound() bool {
	f, err := os.OpenFile("/dev/net/tun", os.O_RDWR, 0)
	if err == nil {
		f.Close()
	}
	return err == nil
}

// A function, whatever its code, reaches nothing of the host it runs on:
// not its loopback services (PostgreSQL, Redis, NATS, RabbitMQ, MariaDB,
// the fgs API), not its other addresses, not link-local metadata, not its
// sockets in /proc/net. With public network access (the default) it
// reaches the outside; with disable_public_network it has loopback only.
func TestInvokeNetworkIsolation(t *testing.T) {
	t.Parallel()
	o := newOutside(t)
	s := startServer(t, serverOpts{})
	c := s.Client(t)
	hostile := hostileTargets(t, s, o)
	hostUnix := hostUnixSockets(t)
	out := outsideTargets(o)
	event, _ := json.Marshal(map[string]any{"targets": append(append([]string{}, out...), hostile...)})
	handler := netProbePy + "\ndef handler(event, context):\n    return probe(event[\"targets\"])\n"

	// Public network access, the default, on the pre-started instance.
	open := deploy(t, c, fnSpec{Name: "net-open", Runtime: "Python3.9", Inline: handler})
	r := s.invokeOK(t, open, string(event), nil)
	var got netProbeResult
	if err := json.Unmarshal([]byte(r.Result), &got); err != nil {
		t.Fatalf("result %q: %v", r.Result, err)
	}
	t.Logf("public network: %+v", got)
	checkNoHost(t, "public network", got, hostile, hostUnix)
	if hasOutbound() {
		for _, tg := range out {
			if want := outsideGreeting; strings.HasPrefix(tg, "udp:") && got.Reach[tg] != "outside:probe" || strings.HasPrefix(tg, "tcp:") && got.Reach[tg] != want {
				t.Errorf("public network: %s answered %q; the function should reach the outside", tg, got.Reach[tg])
			}
		}
		if !slices.Equal(got.Ifaces, []string{"eth0", "lo"}) {
			t.Errorf("public network: interfaces %v, want eth0 and lo", got.Ifaces)
		}
	} else {
		t.Log("no /dev/net/tun: functions have loopback only, so the outside is not checked")
	}

	// disable_public_network: loopback only (it also takes the
	// pre-started instance, which loses its way out first).
	closed := deploy(t, c, fnSpec{Name: "net-closed", Runtime: "Python3.9", Inline: handler})
	off := true
	reconfigure(t, c, closed, func(b *model.UpdateFunctionConfigRequestBody) {
		b.NetworkController = &model.NetworkControlConfig{DisablePublicNetwork: &off}
	})
	r = s.invokeOK(t, closed, string(event), nil)
	got = netProbeResult{}
	if err := json.Unmarshal([]byte(r.Result), &got); err != nil {
		t.Fatalf("result %q: %v", r.Result, err)
	}
	checkNoHost(t, "no public network", got, append(hostile, out...), hostUnix)
	if !slices.Equal(got.Ifaces, []string{"lo"}) {
		t.Errorf("no public network: interfaces %v, want lo only", got.Ifaces)
	}
}

// The same for an HTTP function, whose server the platform reaches on
// port 8000 inside the instance's namespace.
func TestInvokeNetworkIsolationHTTP(t *testing.T) {
	t.Parallel()
	o := newOutside(t)
	s := startServer(t, serverOpts{})
	c := s.Client(t)
	urn := createPkg(t, c, "net-http", "http", "bootstrap", "zip", "web.zip", zipEntries(t, map[string][]byte{
		"bootstrap": []byte("/usr/bin/python3.11 $RUNTIME_CODE_ROOT/server.py\n"),
		"server.py": []byte(netProbeHTTP),
		"probe.py":  []byte(netProbePy),
	}))
	if msg, missing := runtimeMissing(t, s, urn); missing {
		t.Skipf("http runtime not available: %s", msg)
	}
	hostile := hostileTargets(t, s, o)
	out := outsideTargets(o)
	event, _ := json.Marshal(map[string]any{"targets": append(append([]string{}, out...), hostile...)})
	r := s.invokeOK(t, urn, string(event), nil)
	var resp struct {
		StatusCode int    `json:"statusCode"`
		Body       string `json:"body"`
		B64        bool   `json:"isBase64Encoded"`
	}
	if err := json.Unmarshal([]byte(r.Result), &resp); err != nil || resp.StatusCode != 200 {
		t.Fatalf("result %q: %v", r.Result, err)
	}
	body := []byte(resp.Body)
	if resp.B64 {
		body, _ = base64.StdEncoding.DecodeString(resp.Body)
	}
	var got netProbeResult
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatalf("body %q: %v", body, err)
	}
	t.Logf("http function: %+v", got)
	checkNoHost(t, "http function", got, hostile, hostUnixSockets(t))
	if hasOutbound() {
		for _, tg := range out {
			if strings.HasPrefix(tg, "udp:") && got.Reach[tg] != "outside:probe" || strings.HasPrefix(tg, "tcp:") && got.Reach[tg] != outsideGreeting {
				t.Errorf("http function: %s answered %q; the function should reach the outside", tg, got.Reach[tg])
			}
		}
	}
}
