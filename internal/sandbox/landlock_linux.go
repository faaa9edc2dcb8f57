package sandbox

import (
	"fmt"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// landlockRuleset is struct landlock_ruleset_attr up to its scoped field
// (Landlock ABI 6); the kernel accepts this prefix of the newer struct.
type landlockRuleset struct {
	handledAccessFS  uint64
	handledAccessNet uint64
	scoped           uint64
}

// landlockScopes reports whether this kernel can scope abstract unix
// sockets (Landlock ABI 6, Linux 6.12), or why not.
var landlockScopes = sync.OnceValue(func() error {
	abi, _, e := unix.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, 0, 0, unix.LANDLOCK_CREATE_RULESET_VERSION)
	if e != 0 {
		return fmt.Errorf("Landlock is not available (%w)", e)
	}
	if abi < 6 {
		return fmt.Errorf("Landlock ABI %d lacks abstract unix socket scoping (needs ABI 6, Linux 6.12)", abi)
	}
	return nil
})

// scopeAbstractSockets puts the calling thread, and so the program forked
// from it, in a Landlock domain of its own that may not connect or send
// to abstract unix sockets made outside it: not another instance's (even
// one sharing the host's network namespace, where abstract names live),
// not the host's. Processes of one instance still reach each other's. It
// restricts nothing else. It needs no_new_privs, and landlockScopes.
func scopeAbstractSockets() error {
	attr := landlockRuleset{scoped: unix.LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET}
	fd, _, e := unix.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, uintptr(unsafe.Pointer(&attr)), unsafe.Sizeof(attr), 0)
	if e != 0 {
		return fmt.Errorf("Landlock ruleset: %w", e)
	}
	defer unix.Close(int(fd))
	if _, _, e := unix.Syscall(unix.SYS_LANDLOCK_RESTRICT_SELF, fd, 0, 0); e != 0 {
		return fmt.Errorf("Landlock restrict_self: %w", e)
	}
	return nil
}
