package outbound

import (
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"strconv"
	"sync"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// tunPath is the TUN clone device.
const tunPath = "/dev/net/tun"

// Supported reports whether instances can have an Uplink here: the
// supervisor must be able to open the TUN clone device (opening it
// creates nothing) and know its own network namespace. The result is
// computed once.
func Supported() error {
	supportedOnce.Do(func() { supportedErr = supported() })
	return supportedErr
}

var (
	supportedOnce sync.Once
	supportedErr  error
)

func supported() error {
	fd, err := unix.Open(tunPath, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("outbound: %s: %w (is the tun module loaded?)", tunPath, err)
	}
	unix.Close(fd)
	if _, err := ownNetns(); err != nil {
		return err
	}
	return nil
}

// nsID identifies a namespace by its nsfs inode.
type nsID struct{ dev, ino uint64 }

func fdNS(fd int) (nsID, error) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nsID{}, err
	}
	return nsID{st.Dev, st.Ino}, nil
}

// The supervisor's own network namespace, opened once from an ordinary
// thread (a thread-self link: the main thread could in principle be
// parked elsewhere by a goroutine that locked it and exited).
var own struct {
	once sync.Once
	fd   int
	id   nsID
	err  error
}

func ownNetns() (nsID, error) {
	own.once.Do(func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		own.fd, own.err = unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if own.err != nil {
			own.err = fmt.Errorf("outbound: own network namespace: %w", own.err)
			return
		}
		own.id, own.err = fdNS(own.fd)
	})
	return own.id, own.err
}

// createTUN makes the device in pid's network namespace. The work runs on
// a thread of its own that joins that namespace and is never handed back
// to other goroutines (it ends with this one), so no other code ever runs
// there; it moves back to the supervisor's namespace first anyway, so
// that even the main thread, which Go parks rather than ends, is left
// where it was. Every step checks where it is: the thread's namespace and
// the device's must be the instance's, never the supervisor's, so a
// mistake cannot add a device, address or route to the host.
func createTUN(pid int) (*os.File, error) {
	type result struct {
		f   *os.File
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with this goroutine
		f, err := tunInNamespace(pid)
		ch <- result{f, err}
	}()
	r := <-ch
	if r.err != nil && r.f != nil {
		r.f.Close()
		r.f = nil
	}
	return r.f, r.err
}

func tunInNamespace(pid int) (_ *os.File, err error) {
	host, err := ownNetns()
	if err != nil {
		return nil, err
	}
	target, err := unix.Open("/proc/"+strconv.Itoa(pid)+"/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("outbound: instance network namespace: %w", err)
	}
	defer unix.Close(target)
	want, err := fdNS(target)
	if err != nil {
		return nil, fmt.Errorf("outbound: instance network namespace: %w", err)
	}
	if want == host {
		return nil, errors.New("outbound: the instance shares the supervisor's network namespace; refusing to add a device to it")
	}
	if err := unix.Setns(target, unix.CLONE_NEWNET); err != nil {
		return nil, fmt.Errorf("outbound: enter the instance's network namespace: %w", err)
	}
	defer func() {
		if berr := unix.Setns(own.fd, unix.CLONE_NEWNET); berr != nil && err == nil {
			err = fmt.Errorf("outbound: back to the supervisor's network namespace: %w", berr)
		}
	}()
	self, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("outbound: %w", err)
	}
	here, err := fdNS(self)
	unix.Close(self)
	if err != nil || here != want {
		return nil, fmt.Errorf("outbound: this thread is not in the instance's network namespace after setns (%v)", err)
	}

	fd, err := unix.Open(tunPath, unix.O_RDWR|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("outbound: %s: %w", tunPath, err)
	}
	ifr, err := unix.NewIfreq(DeviceName)
	if err == nil {
		ifr.SetUint16(unix.IFF_TUN | unix.IFF_NO_PI)
		err = unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr)
	}
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("outbound: create %s: %w", DeviceName, err)
	}
	// Only now can the runtime's poller take it (a TUN fd polls as an
	// error until it has a device).
	f := os.NewFile(uintptr(fd), tunPath)
	defer func() {
		if err != nil {
			f.Close()
		}
	}()
	devNS, err := unix.IoctlRetInt(fd, unix.TUNGETDEVNETNS)
	if err != nil {
		return nil, fmt.Errorf("outbound: namespace of %s: %w", DeviceName, err)
	}
	got, err := fdNS(devNS)
	unix.Close(devNS)
	if err != nil || got != want {
		return nil, fmt.Errorf("outbound: %s was not created in the instance's network namespace (%v)", DeviceName, err)
	}
	if err := configure(); err != nil {
		return nil, err
	}
	return f, nil
}

// configure gives the device its addresses and the default routes. It
// runs in the instance's namespace (tunInNamespace checked it): the
// netlink socket is created here and so speaks for this namespace only.
func configure() error {
	h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		return fmt.Errorf("outbound: netlink: %w", err)
	}
	defer h.Close()
	link, err := h.LinkByName(DeviceName)
	if err != nil {
		return fmt.Errorf("outbound: find %s: %w", DeviceName, err)
	}
	if link.Type() != "tuntap" {
		return fmt.Errorf("outbound: %s is a %s device, not the TUN device just made", DeviceName, link.Type())
	}
	steps := []struct {
		what string
		do   func() error
	}{
		{"IPv4 address", func() error {
			return h.AddrAdd(link, &netlink.Addr{IPNet: &net.IPNet{IP: InstanceIPv4.AsSlice(), Mask: net.CIDRMask(32, 32)}})
		}},
		{"IPv6 address", func() error {
			return h.AddrAdd(link, &netlink.Addr{IPNet: &net.IPNet{IP: InstanceIPv6.AsSlice(), Mask: net.CIDRMask(128, 128)}, Flags: unix.IFA_F_NODAD})
		}},
		{"MTU", func() error { return h.LinkSetMTU(link, mtu) }},
		{"link up", func() error { return h.LinkSetUp(link) }},
		{"IPv4 default route", func() error {
			return h.RouteAdd(&netlink.Route{LinkIndex: link.Attrs().Index, Scope: netlink.SCOPE_LINK, Dst: &net.IPNet{IP: net.IPv4zero.To4(), Mask: net.CIDRMask(0, 32)}})
		}},
		{"IPv6 default route", func() error {
			return h.RouteAdd(&netlink.Route{LinkIndex: link.Attrs().Index, Dst: &net.IPNet{IP: net.IPv6zero, Mask: net.CIDRMask(0, 128)}})
		}},
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			return fmt.Errorf("outbound: %s %s: %w", DeviceName, s.what, err)
		}
	}
	return nil
}
