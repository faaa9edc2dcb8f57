package sandbox

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"unsafe"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// deniedSyscall is a system call the filter refuses with EPERM.
type deniedSyscall struct {
	name string
	nr   uint32
}

// seccompDenied are the system calls a function's processes may not make:
// each fails with EPERM, so runtimes that probe for them (libuv tries
// io_uring) fall back as they would on a host that lacks them. They reach
// kernel state that is per user or shared between tenants (kernel keys,
// POSIX message queues), are large attack surfaces few functions need
// (io_uring, bpf, perf events, userfaultfd), or change the sandbox itself
// (mounts, namespaces, tracing other processes). docs/runtimes.md lists
// them for users; keep the two in step.
var seccompDenied = []deniedSyscall{
	// Kernel keys: keyrings are per user and outlive processes.
	{"keyctl", unix.SYS_KEYCTL}, {"add_key", unix.SYS_ADD_KEY}, {"request_key", unix.SYS_REQUEST_KEY},
	// POSIX message queues: their bytes count against a per-user limit.
	{"mq_open", unix.SYS_MQ_OPEN}, {"mq_unlink", unix.SYS_MQ_UNLINK}, {"mq_timedsend", unix.SYS_MQ_TIMEDSEND},
	{"mq_timedreceive", unix.SYS_MQ_TIMEDRECEIVE}, {"mq_notify", unix.SYS_MQ_NOTIFY}, {"mq_getsetattr", unix.SYS_MQ_GETSETATTR},
	// Asynchronous I/O rings, BPF programs, perf events, userfaultfd.
	{"io_uring_setup", unix.SYS_IO_URING_SETUP}, {"io_uring_enter", unix.SYS_IO_URING_ENTER}, {"io_uring_register", unix.SYS_IO_URING_REGISTER},
	{"bpf", unix.SYS_BPF}, {"perf_event_open", unix.SYS_PERF_EVENT_OPEN}, {"userfaultfd", unix.SYS_USERFAULTFD},
	// Mounts.
	{"mount", unix.SYS_MOUNT}, {"umount2", unix.SYS_UMOUNT2}, {"pivot_root", unix.SYS_PIVOT_ROOT},
	{"move_mount", unix.SYS_MOVE_MOUNT}, {"open_tree", unix.SYS_OPEN_TREE}, {"open_tree_attr", unix.SYS_OPEN_TREE_ATTR},
	{"fsopen", unix.SYS_FSOPEN}, {"fsconfig", unix.SYS_FSCONFIG}, {"fsmount", unix.SYS_FSMOUNT},
	{"fspick", unix.SYS_FSPICK}, {"mount_setattr", unix.SYS_MOUNT_SETATTR},
	// Joining other namespaces (making a user namespace: see seccompFilter).
	{"setns", unix.SYS_SETNS},
	// Tracing and reading other processes.
	{"ptrace", unix.SYS_PTRACE}, {"process_vm_readv", unix.SYS_PROCESS_VM_READV}, {"process_vm_writev", unix.SYS_PROCESS_VM_WRITEV},
	{"kcmp", unix.SYS_KCMP}, {"pidfd_getfd", unix.SYS_PIDFD_GETFD},
}

// seccomp_data offsets (include/uapi/linux/seccomp.h).
const (
	seccompNrOff   = 0
	seccompArchOff = 4
	seccompArgsOff = 16
)

// seccompFilter is the program: seccompDenied fail with EPERM, so do clone
// and unshare when asked for a new user namespace; clone3 fails with
// ENOSYS, as on a kernel too old for it, because its flags lie in memory a
// filter cannot read: glibc and the language runtimes then use clone,
// whose flags it checks. System calls of another ABI than the native one
// (32-bit int 0x80 calls, x32 on amd64) fail with ENOSYS, so they cannot
// go around the list. Everything else is allowed.
//
// Written with x/net/bpf rather than a seccomp library: the one made for
// Go (elastic/go-seccomp-bpf) builds syscall tables for every architecture
// at package init, about 1 ms added to every start of this binary, so of
// every instance's init; and it lets other ABIs' calls through when the
// default is allow.
func seccompFilter() []bpf.Instruction {
	var (
		allow  = bpf.RetConstant{Val: unix.SECCOMP_RET_ALLOW}
		eperm  = bpf.RetConstant{Val: unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)}
		enosys = bpf.RetConstant{Val: unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)}
	)
	p := []bpf.Instruction{
		bpf.LoadAbsolute{Off: seccompArchOff, Size: 4},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: seccompArch, SkipTrue: 1},
		enosys,
		bpf.LoadAbsolute{Off: seccompNrOff, Size: 4},
	}
	if seccompNrMask != 0 {
		p = append(p, bpf.JumpIf{Cond: bpf.JumpBitsSet, Val: seccompNrMask, SkipFalse: 1}, enosys)
	}
	for _, s := range seccompDenied {
		p = append(p, bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: s.nr, SkipTrue: 1}, eperm)
	}
	// The low 32 bits of the first argument: clone's and unshare's flags.
	arg0 := uint32(seccompArgsOff)
	if binary.NativeEndian.Uint16([]byte{0, 1}) == 1 { // big-endian
		arg0 += 4
	}
	return append(p,
		bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: unix.SYS_CLONE3, SkipTrue: 1},
		enosys,
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: unix.SYS_CLONE, SkipTrue: 1},
		bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: unix.SYS_UNSHARE, SkipTrue: 3},
		bpf.LoadAbsolute{Off: arg0, Size: 4},
		bpf.JumpIf{Cond: bpf.JumpBitsSet, Val: unix.CLONE_NEWUSER, SkipFalse: 1},
		eperm,
		allow,
	)
}

// seccompProgram is the assembled filter, built once per process (init
// builds it once, just before it starts the program).
var seccompProgram = sync.OnceValues(func() ([]unix.SockFilter, error) {
	if seccompArch == 0 {
		return nil, errors.New("no seccomp filter is defined for this architecture")
	}
	raw, err := bpf.Assemble(seccompFilter())
	if err != nil {
		return nil, err
	}
	out := make([]unix.SockFilter, len(raw))
	for i, r := range raw {
		out[i] = unix.SockFilter{Code: r.Op, Jt: r.Jt, Jf: r.Jf, K: r.K}
	}
	return out, nil
})

// installSeccomp applies the filter to the calling thread, which must be
// locked to its goroutine and have no_new_privs set; the program forked
// from it inherits the filter, across exec too.
func installSeccomp() error {
	prog, err := seccompProgram()
	if err != nil {
		return fmt.Errorf("seccomp filter: %w", err)
	}
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	if _, _, e := unix.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, 0, uintptr(unsafe.Pointer(&fprog))); e != 0 {
		return fmt.Errorf("install the seccomp filter: %w", e)
	}
	return nil
}
