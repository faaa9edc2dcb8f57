package outbound

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"gvisor.dev/gvisor/pkg/buffer"
	gvlog "gvisor.dev/gvisor/pkg/log"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/link/channel"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv6"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"
	"gvisor.dev/gvisor/pkg/waiter"
)

// The instance's side: the device and its addresses, the same in every
// instance (each has its own namespace). 198.18.0.0/15 is reserved for
// benchmarking (RFC 2544) and fdc7:3a4e:9b21::/48 is a unique local
// prefix, so neither hides a real destination a function may want.
const DeviceName = "eth0"

var (
	InstanceIPv4 = netip.MustParseAddr("198.18.0.2")
	InstanceIPv6 = netip.MustParseAddr("fdc7:3a4e:9b21::2")
)

const (
	// mtu of the instance's device and the stack: jumbo frames carry a
	// bulk transfer in a sixth of the packets of 1500-byte ones (about
	// ten times the throughput, measured) for 7 KB more per instance; a
	// larger MTU bought less and cost more.
	mtu = 9000
	// maxFlows bounds the TCP connections and UDP flows one instance
	// has open through its uplink at once; beyond it new ones are
	// refused.
	maxFlows = 512
	// maxDialing bounds the TCP connections being dialled at once (the
	// forwarder ignores further SYNs until one completes; the instance
	// retransmits them).
	maxDialing = 64
	// dialTimeout bounds a dial to the outside; the instance's own
	// connect timeout may be shorter.
	dialTimeout = 20 * time.Second
	// udpIdle ends a UDP flow with no datagram either way for this long.
	udpIdle = time.Minute
	nicID   = 1
)

// The stack's own log goes to stderr; its notes (such as a dropped
// martian packet) are about what an instance sent, not for the server's
// output.
func init() { gvlog.SetLevel(gvlog.Warning) }

// Options configure an Uplink.
type Options struct {
	Logger *slog.Logger
	// Check says whether the instance may reach an address; nil means
	// the package's Check. Tests narrow it, never widen it.
	Check func(netip.Addr) error
}

// Uplink serves one instance's TUN device: it is the instance's only way
// out of its namespace. Close it when the instance is gone (an open TUN
// device keeps the namespace alive).
type Uplink struct {
	logger *slog.Logger
	check  func(netip.Addr) error
	dialer net.Dialer

	tun   *os.File
	ep    *channel.Endpoint
	stack *stack.Stack

	ctx    context.Context
	cancel context.CancelFunc
	flows  chan struct{} // one token per open flow

	mu     sync.Mutex
	closed bool
	open   map[io.Closer]struct{}

	wg        sync.WaitGroup
	closeOnce sync.Once
}

// Attach gives the network namespace of process pid (an instance's init,
// a child of this process that it has not reaped) a TUN device with
// default routes, and returns the Uplink that serves it. The device goes
// away when the Uplink is closed.
func Attach(ctx context.Context, pid int, opt Options) (*Uplink, error) {
	if err := Supported(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	tun, err := createTUN(pid)
	if err != nil {
		return nil, err
	}
	return newUplink(tun, opt)
}

// newUplink serves tun (a non-blocking TUN fd with no packet info header)
// with a userspace stack that relays what the instance sends.
func newUplink(tun *os.File, opt Options) (*Uplink, error) {
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	if opt.Check == nil {
		opt.Check = Check
	}
	ctx, cancel := context.WithCancel(context.Background())
	u := &Uplink{
		logger: opt.Logger,
		check:  opt.Check,
		dialer: net.Dialer{Timeout: dialTimeout},
		tun:    tun,
		ep:     channel.New(256, mtu, ""),
		ctx:    ctx,
		cancel: cancel,
		flows:  make(chan struct{}, maxFlows),
		open:   map[io.Closer]struct{}{},
	}
	u.stack = stack.New(stack.Options{
		NetworkProtocols:   []stack.NetworkProtocolFactory{ipv4.NewProtocol, ipv6.NewProtocol},
		TransportProtocols: []stack.TransportProtocolFactory{tcp.NewProtocol, udp.NewProtocol},
	})
	fail := func(what string, e tcpip.Error) (*Uplink, error) {
		cancel()
		u.stack.Destroy()
		tun.Close()
		return nil, fmt.Errorf("outbound: %s: %s", what, e)
	}
	if e := u.stack.CreateNIC(nicID, u.ep); e != nil {
		return fail("create NIC", e)
	}
	// Accept packets for any destination, and answer from it: every
	// address outside the instance is "local" to this stack.
	if e := u.stack.SetPromiscuousMode(nicID, true); e != nil {
		return fail("promiscuous mode", e)
	}
	if e := u.stack.SetSpoofing(nicID, true); e != nil {
		return fail("spoofing", e)
	}
	u.stack.SetRouteTable([]tcpip.Route{
		{Destination: header.IPv4EmptySubnet, NIC: nicID},
		{Destination: header.IPv6EmptySubnet, NIC: nicID},
	})
	sack := tcpip.TCPSACKEnabled(true)
	u.stack.SetTransportProtocolOption(tcp.ProtocolNumber, &sack)
	u.stack.SetTransportProtocolHandler(tcp.ProtocolNumber, tcp.NewForwarder(u.stack, 0, maxDialing, u.forwardTCP).HandlePacket)
	u.stack.SetTransportProtocolHandler(udp.ProtocolNumber, udp.NewForwarder(u.stack, u.forwardUDP).HandlePacket)

	u.wg.Add(2) // before anything can call Close
	go u.readTUN()
	go u.writeTUN()
	return u, nil
}

// readTUN hands every packet the instance sends to the stack.
func (u *Uplink) readTUN() {
	defer u.wg.Done()
	buf := make([]byte, mtu)
	for {
		n, err := u.tun.Read(buf)
		if err != nil {
			if !errors.Is(err, os.ErrClosed) {
				u.logger.Debug("outbound: read from the instance's device", "err", err)
			}
			return
		}
		var proto tcpip.NetworkProtocolNumber
		switch {
		case n == 0:
			continue
		case buf[0]>>4 == 4:
			proto = ipv4.ProtocolNumber
		case buf[0]>>4 == 6:
			proto = ipv6.ProtocolNumber
		default:
			continue
		}
		pkt := stack.NewPacketBuffer(stack.PacketBufferOptions{Payload: buffer.MakeWithData(buf[:n])})
		u.ep.InjectInbound(proto, pkt)
		pkt.DecRef()
	}
}

// writeTUN sends the stack's packets to the instance.
func (u *Uplink) writeTUN() {
	defer u.wg.Done()
	for {
		pkt := u.ep.ReadContext(u.ctx)
		if pkt == nil {
			return
		}
		v := pkt.ToView()
		pkt.DecRef()
		_, err := u.tun.Write(v.AsSlice())
		v.Release()
		if errors.Is(err, os.ErrClosed) {
			return
		}
	}
}

// addrOf converts a stack address to a netip one.
func addrOf(a tcpip.Address) netip.Addr {
	ip, _ := netip.AddrFromSlice(a.AsSlice())
	return ip
}

// admit checks a new flow's destination and takes a flow token.
func (u *Uplink) admit(proto string, id stack.TransportEndpointID) (netip.AddrPort, bool) {
	dst := netip.AddrPortFrom(addrOf(id.LocalAddress), id.LocalPort)
	err := u.check(dst.Addr())
	if err == nil && dst.Port() == 0 {
		err = fmt.Errorf("%w: port 0", ErrRefused)
	}
	if err != nil {
		u.logger.Debug("outbound: refused", "proto", proto, "dst", dst.String(), "err", err)
		return dst, false
	}
	select {
	case u.flows <- struct{}{}:
		return dst, true
	default:
		u.logger.Warn("outbound: too many open connections; refusing more", "proto", proto, "dst", dst.String(), "max", maxFlows)
		return dst, false
	}
}

func (u *Uplink) release() { <-u.flows }

// begin counts a goroutine that Close must wait for; false if Close came
// first (and the goroutine must not start).
func (u *Uplink) begin() bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.closed {
		return false
	}
	u.wg.Add(1)
	return true
}

// track registers closers to be closed by Close; false if Close came first.
func (u *Uplink) track(cs ...io.Closer) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.closed {
		return false
	}
	for _, c := range cs {
		u.open[c] = struct{}{}
	}
	return true
}

func (u *Uplink) untrack(cs ...io.Closer) {
	u.mu.Lock()
	for _, c := range cs {
		delete(u.open, c)
	}
	u.mu.Unlock()
}

// forwardTCP handles a SYN from the instance: dial the destination, then
// accept the instance's connection and relay; a refused or failed dial
// resets the instance's connection.
func (u *Uplink) forwardTCP(r *tcp.ForwarderRequest) {
	if !u.begin() {
		r.Complete(true)
		return
	}
	defer u.wg.Done()
	dst, ok := u.admit("tcp", r.ID())
	if !ok {
		r.Complete(true)
		return
	}
	out, err := u.dialer.DialContext(u.ctx, "tcp", dst.String())
	if err != nil {
		u.logger.Debug("outbound: dial", "proto", "tcp", "dst", dst.String(), "err", err)
		u.release()
		r.Complete(true)
		return
	}
	var wq waiter.Queue
	ep, terr := r.CreateEndpoint(&wq)
	if terr != nil {
		out.Close()
		u.release()
		r.Complete(true)
		return
	}
	r.Complete(false)
	in := gonet.NewTCPConn(&wq, ep)
	defer u.release()
	if !u.track(in, out) {
		in.Close()
		out.Close()
		return
	}
	defer u.untrack(in, out)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		pipe(out, in)
	}()
	pipe(in, out)
	wg.Wait()
	in.Close()
	out.Close()
}

// pipe copies until src ends, then half-closes dst.
func pipe(dst, src net.Conn) {
	io.Copy(dst, src)
	if cw, ok := dst.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	} else {
		dst.Close()
	}
}

// forwardUDP handles the first datagram of a new UDP flow from the
// instance. It runs on the stack's receive path, so the relay runs in its
// own goroutine. A refused flow is not handled, and the stack answers it
// with ICMP port unreachable.
func (u *Uplink) forwardUDP(r *udp.ForwarderRequest) bool {
	dst, ok := u.admit("udp", r.ID())
	if !ok {
		return false
	}
	var wq waiter.Queue
	ep, terr := r.CreateEndpoint(&wq)
	if terr != nil {
		u.release()
		return true
	}
	in := gonet.NewUDPConn(&wq, ep)
	if !u.begin() {
		in.Close()
		u.release()
		return true
	}
	go func() {
		defer u.wg.Done()
		defer u.release()
		u.relayUDP(in, dst)
	}()
	return true
}

func (u *Uplink) relayUDP(in *gonet.UDPConn, dst netip.AddrPort) {
	defer in.Close()
	out, err := u.dialer.DialContext(u.ctx, "udp", dst.String())
	if err != nil {
		u.logger.Debug("outbound: dial", "proto", "udp", "dst", dst.String(), "err", err)
		return
	}
	defer out.Close()
	if !u.track(in, out) {
		return
	}
	defer u.untrack(in, out)
	var last atomic.Int64 // unix nanoseconds of the last datagram either way
	last.Store(time.Now().UnixNano())
	move := func(dst, src net.Conn) {
		buf := make([]byte, 64<<10)
		for {
			src.SetReadDeadline(time.Now().Add(udpIdle))
			n, err := src.Read(buf)
			if err != nil {
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() && time.Since(time.Unix(0, last.Load())) < udpIdle {
					continue
				}
				in.Close()
				out.Close()
				return
			}
			last.Store(time.Now().UnixNano())
			dst.Write(buf[:n])
		}
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		move(out, in)
	}()
	move(in, out)
	wg.Wait()
}

// Close ends every relayed connection, removes the instance's device and
// stops the stack. It is safe to call more than once.
func (u *Uplink) Close() error {
	u.closeOnce.Do(func() {
		u.cancel()
		u.mu.Lock()
		u.closed = true
		open := u.open
		u.open = nil
		u.mu.Unlock()
		for c := range open {
			c.Close()
		}
		u.tun.Close() // the last fd of the device: the kernel removes it
		u.stack.Close()
		u.wg.Wait()
		u.ep.Close()
		u.stack.Wait()
	})
	return nil
}
