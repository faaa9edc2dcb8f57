// Package outbound gives a sandbox's own network namespace a way out to
// the world without giving it the host's network.
//
// [Attach] puts a TUN device ("eth0", an IPv4 and an IPv6 address, the
// default routes) into the instance's network namespace and serves it with
// a userspace TCP/IP stack (gVisor's netstack) inside the supervisor. The
// stack ends every TCP connection and UDP flow the instance starts and, if
// [Check] allows the destination, makes the same connection again from the
// supervisor's own network namespace and relays the bytes. Check refuses
// every address of the host itself (whatever the kernel routes locally:
// 127.0.0.0/8, ::1, each interface's addresses, broadcast), link-local
// addresses (169.254.0.0/16, fe80::/10, where cloud metadata services
// live), multicast, and unspecified ones; a refused TCP connection is
// reset, as a closed port would be, and a refused UDP datagram dropped.
// ICMP (ping) is not relayed.
//
// Instances never reach one another: nothing of an instance is bound in
// the supervisor's namespace, and its addresses exist only in its own
// namespace and its own stack.
//
// Why a userspace stack in the supervisor rather than a veth pair, a bridge
// and NAT: those change host-global state (ip_forward, firewall rules) and
// leave it behind if the server dies; a per-instance helper process such
// as pasta costs a process and a few MB per instance and cannot refuse the
// host's other addresses by itself. Here the destination policy is Go code
// that asks the kernel, per connection, whether an address is the host's
// own, and nothing outside the instance's namespace changes.
//
// Only Linux has it; it needs /dev/net/tun (see [Supported]).
package outbound
