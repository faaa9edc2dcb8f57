package outbound

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// ErrRefused is the cause of every destination Check refuses.
var ErrRefused = errors.New("outbound: destination refused")

// Check returns nil if an instance may connect to ip: an address outside
// this host. It refuses (with an error wrapping ErrRefused) unspecified,
// loopback, link-local, multicast and broadcast addresses, and any address
// the kernel's routing delivers to this host itself (the local routing
// table: every address of every interface, whole local ranges such as
// 127.0.0.0/8, subnet broadcasts) or cannot route at all. The routing
// question is asked per call, so addresses the host gains later count too.
func Check(ip netip.Addr) error {
	ip = ip.Unmap()
	refuse := func(why string) error { return fmt.Errorf("%w: %v is %s", ErrRefused, ip, why) }
	switch {
	case !ip.IsValid():
		return fmt.Errorf("%w: no address", ErrRefused)
	case ip.IsUnspecified(), ip.Is4() && ip.As4()[0] == 0:
		return refuse("unspecified (this host)")
	case ip.IsLoopback():
		return refuse("loopback")
	case ip.IsLinkLocalUnicast():
		return refuse("link-local")
	case ip.IsMulticast():
		return refuse("multicast")
	case ip == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return refuse("broadcast")
	}
	routes, err := netlink.RouteGet(ip.AsSlice())
	if err != nil {
		return fmt.Errorf("%w: %v: no route: %w", ErrRefused, ip, err)
	}
	if len(routes) == 0 {
		return refuse("not routable")
	}
	for _, r := range routes {
		switch r.Type {
		case unix.RTN_UNICAST:
		case unix.RTN_LOCAL, unix.RTN_ANYCAST:
			return refuse("an address of this host")
		case unix.RTN_BROADCAST, unix.RTN_MULTICAST:
			return refuse("a broadcast address")
		default:
			return refuse(fmt.Sprintf("not routable (route type %d)", r.Type))
		}
	}
	return nil
}
