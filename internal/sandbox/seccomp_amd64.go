//go:build linux

package sandbox

import "golang.org/x/sys/unix"

// The native system call ABI: x86_64. x32 calls carry it too, with bit 30
// set in the number.
const (
	seccompArch   = unix.AUDIT_ARCH_X86_64
	seccompNrMask = 0x40000000
)
