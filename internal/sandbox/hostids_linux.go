package sandbox

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// idLease is one range held by one instance.
type idLease struct {
	r     *IDRanges
	k     int
	first int // the range's first host id: init's uid and gid, the user namespace's owner
}

// acquire takes a free range: free in this process and not locked by
// another process on the host. Ranges freed recently are taken last.
func (r *IDRanges) acquire() (*idLease, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.lockFD < 0 {
		if err := os.MkdirAll(filepath.Dir(IDLockFile), 0o700); err != nil {
			return nil, fmt.Errorf("host id lock file: %w", err)
		}
		fd, err := unix.Open(IDLockFile, unix.O_RDWR|unix.O_CREAT|unix.O_CLOEXEC, 0o600)
		if err != nil {
			return nil, fmt.Errorf("host id lock file: %w", err)
		}
		r.lockFD = fd
	}
	for i := range r.count {
		k := (r.next + i) % r.count
		if r.used[k] {
			continue
		}
		first := r.base + int64(k)*IDRangeSize
		err := r.lock(first, unix.F_WRLCK)
		if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EACCES) {
			continue // another process on this host holds it
		}
		if err != nil {
			return nil, fmt.Errorf("lock host ids %d-%d in %s: %w", first, first+IDRangeSize-1, IDLockFile, err)
		}
		r.used[k] = true
		r.next = (k + 1) % r.count
		return &idLease{r: r, k: k, first: int(first)}, nil
	}
	return nil, fmt.Errorf("%w: all %d ranges from %d are in use (by this server's instances or another process's on this host)", ErrNoIDs, r.count, r.base)
}

// lock sets (F_WRLCK) or clears (F_UNLCK) the open-file-description lock
// on the bytes [first, first+IDRangeSize) of the lock file. Such locks
// conflict with those of every other open of the file, also in this
// process, and go away when the file is closed or the process dies.
func (r *IDRanges) lock(first int64, typ int16) error {
	return unix.FcntlFlock(uintptr(r.lockFD), unix.F_OFD_SETLK, &unix.Flock_t{Type: typ, Whence: io.SeekStart, Start: first, Len: IDRangeSize})
}

// release gives the range back. The instance must be gone: nothing may
// run under its ids any more.
func (l *idLease) release() {
	r := l.r
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.used[l.k] {
		return
	}
	r.used[l.k] = false
	// Unlocking a range this description holds cannot fail; if it ever
	// did, the range would only stay out of other processes' reach.
	r.lock(int64(l.first), unix.F_UNLCK)
}

// startAsOwner starts cmd, which creates a user namespace, with the
// calling thread's effective uid set to owner, so that owner (not root)
// owns the new namespace. The kernel charges what processes inside
// create (inotify instances, message queue bytes, ...) to their uid in
// that namespace and also to the owner's in the host's: with each
// instance owning its namespace, one that uses up such a limit uses up
// only its own.
//
// Credentials are per thread in Linux, and only this thread changes: it
// must be locked to its goroutine, and Go then starts new threads from a
// clean template thread, never from this one. The effective capability
// set, which the kernel clears when the effective uid leaves 0, is raised
// again from the permitted set so that the uid and gid maps can still be
// written; returning to euid 0 restores it. Changing the effective uid
// also clears the process's dumpable flag, which is set back.
func startAsOwner(cmd *exec.Cmd, owner int) (err error) {
	if owner <= 0 {
		return errors.New("user namespace owner must not be root")
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var caps [2]unix.CapUserData
	if err := unix.Capget(&hdr, &caps[0]); err != nil {
		return fmt.Errorf("capget: %w", err)
	}
	dumpable, err := unix.PrctlRetInt(unix.PR_GET_DUMPABLE, 0, 0, 0, 0)
	if err != nil {
		return fmt.Errorf("get dumpable: %w", err)
	}
	// A raw setresuid: Go's Setresuid changes every thread of the process.
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESUID, ^uintptr(0), uintptr(owner), ^uintptr(0)); e != 0 {
		return fmt.Errorf("set effective uid %d: %w", owner, e)
	}
	defer func() {
		// Back to euid 0 (always allowed: the real and saved uids are 0).
		if _, _, e := unix.RawSyscall(unix.SYS_SETRESUID, ^uintptr(0), 0, ^uintptr(0)); e != 0 && err == nil {
			err = fmt.Errorf("restore effective uid 0: %w", e)
		}
		if dumpable != 0 {
			unix.Prctl(unix.PR_SET_DUMPABLE, uintptr(dumpable), 0, 0, 0)
		}
	}()
	hdr.Pid = 0
	if err := unix.Capset(&hdr, &caps[0]); err != nil {
		return fmt.Errorf("capset: %w", err)
	}
	return cmd.Start()
}
