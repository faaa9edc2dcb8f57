//go:build linux

package sandbox

import "golang.org/x/sys/unix"

// The native system call ABI: AArch64.
const (
	seccompArch   = unix.AUDIT_ARCH_AARCH64
	seccompNrMask = 0
)
