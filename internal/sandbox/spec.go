package sandbox

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"syscall"
	"time"
)

// Paths and ids inside every sandbox.
const (
	// CodePath is where Spec.CodeDir appears, read-only.
	CodePath = "/opt/function/code"
	// FunctionUID and FunctionGID are the ids the program runs as inside the
	// sandbox. On the host they are the instance's id range's first id
	// plus 1000 (see IDRanges).
	FunctionUID = 1000
	FunctionGID = 1000

	minMemory          = 4 << 20
	defaultTmpSize     = 512 << 20
	defaultHostname    = "sandbox"
	defaultPath        = "/usr/local/bin:/usr/bin:/bin"
	maxIDLen           = 64
	maxHostnameLen     = 63
	defaultStartBudget = 30 * time.Second
)

// NetworkMode says what an instance's network namespace holds. Every
// instance has a network namespace of its own: it never sees the host's
// interfaces, sockets or loopback services.
type NetworkMode int

const (
	// NetworkNone: only the loopback interface, up.
	NetworkNone NetworkMode = iota
	// NetworkOutbound: loopback, and a device through which the instance
	// reaches addresses outside this host, but never the host's own
	// addresses, link-local ones or other instances (package outbound).
	// Start fails if the host cannot provide it (see OutboundSupported).
	NetworkOutbound
)

func (m NetworkMode) String() string {
	switch m {
	case NetworkNone:
		return "none"
	case NetworkOutbound:
		return "outbound"
	}
	return fmt.Sprintf("NetworkMode(%d)", int(m))
}

// Mount is a host path bind-mounted read-only into the sandbox.
type Mount struct {
	Source string // host path, a folder or a file
	Target string // absolute path inside the sandbox
}

// Spec describes one instance.
type Spec struct {
	ID string // instance id: names the cgroups; letters, digits, '.', '_', '-'

	Path string   // program to run: an absolute path valid inside the sandbox
	Args []string // arguments after argv[0] (which is Path)
	Env  []string // the program's whole environment; nil means PATH and HOME=/tmp only
	Dir  string   // working folder inside; default CodePath if CodeDir is set, else "/"

	// CodeDir is bind-mounted read-only at CodePath (may be empty). The
	// supervisor opens it, so its parent folders may be closed to others;
	// the program runs as a host uid of the instance's range, so the
	// folder's own files must be readable by others.
	CodeDir string
	// ExtraRO are more read-only binds, made after everything else (parents
	// first); a target may not be /, under /proc or /dev, or CodePath. A
	// target inside a read-only folder (/usr, /etc, another bind) needs
	// its mount point to exist there already.
	ExtraRO []Mount

	Hostname    string // the instance's hostname; default "sandbox"
	TmpSize     int64  // bytes for the private tmpfs /tmp (its pages count as the instance's memory); default 512 MiB
	MemoryBytes int64  // memory limit (memory+swap where swap is accounted); 0 = none
	// Pids caps the tasks (processes and threads) of the program's tree;
	// 0 = none. The kernel limit is Pids plus init's own threads plus 2
	// spare tasks kept so init's runtime can always start a thread; the
	// program may use those 2 as well.
	Pids      int64
	CPUShares int64       // cpu.shares weight (1024 = one CPU's share); 0 = default. See SharesFromMillicores.
	Network   NetworkMode // NetworkNone (the zero value) or NetworkOutbound
	// IDs hands the instance its host uid/gid range; nil means a range
	// of DefaultIDRanges from DefaultIDBase.
	IDs *IDRanges

	// Standard streams. An *os.File is passed directly (best for the
	// runtime protocol); any other reader or writer is copied through a
	// pipe by os/exec, so a writer must bound what it keeps (see
	// BoundedBuffer). nil means /dev/null.
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// ExtraFiles are passed to the program as fds 3, 4, ...
	ExtraFiles []*os.File
}

// SharesFromMillicores converts a CPU allowance in millicores (1000 = one
// CPU) to a cpu.shares weight.
func SharesFromMillicores(m int64) int64 {
	s := m * 1024 / 1000
	return min(max(s, 2), 262144)
}

// withDefaults returns s with defaults filled in, or an error if s is
// unusable. Spec errors are the platform's: the executor built the spec.
func (s Spec) withDefaults() (Spec, error) {
	bad := func(format string, args ...any) (Spec, error) {
		return s, &Error{Op: "sandbox.Start", Fault: FaultPlatform, Err: fmt.Errorf("invalid spec: "+format, args...)}
	}
	if s.ID == "" || len(s.ID) > maxIDLen || strings.Trim(s.ID, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") != "" || s.ID[0] == '.' {
		return bad("ID %q: want 1-%d of [A-Za-z0-9._-], not starting with '.'", s.ID, maxIDLen)
	}
	if !path.IsAbs(s.Path) {
		return bad("Path %q is not absolute", s.Path)
	}
	if s.Dir == "" {
		s.Dir = "/"
		if s.CodeDir != "" {
			s.Dir = CodePath
		}
	}
	if !path.IsAbs(s.Dir) {
		return bad("Dir %q is not absolute", s.Dir)
	}
	if s.Env == nil {
		s.Env = []string{"PATH=" + defaultPath, "HOME=/tmp"}
	}
	for _, kv := range append(append([]string{s.Path, s.Dir}, s.Args...), s.Env...) {
		if strings.IndexByte(kv, 0) >= 0 {
			return bad("NUL byte in Path, Dir, Args or Env")
		}
	}
	if s.Hostname == "" {
		s.Hostname = defaultHostname
	}
	if len(s.Hostname) > maxHostnameLen || strings.Trim(s.Hostname, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") != "" {
		return bad("Hostname %q", s.Hostname)
	}
	if s.TmpSize == 0 {
		s.TmpSize = defaultTmpSize
	}
	if s.TmpSize < 0 || s.MemoryBytes < 0 || s.Pids < 0 || s.CPUShares < 0 {
		return bad("negative TmpSize, MemoryBytes, Pids or CPUShares")
	}
	if s.MemoryBytes != 0 && s.MemoryBytes < minMemory {
		return bad("MemoryBytes %d is below %d", s.MemoryBytes, minMemory)
	}
	if s.CPUShares != 0 {
		s.CPUShares = min(max(s.CPUShares, 2), 262144)
	}
	if s.Network != NetworkNone && s.Network != NetworkOutbound {
		return bad("Network %v", s.Network)
	}
	if s.CodeDir != "" && !path.IsAbs(s.CodeDir) {
		return bad("CodeDir %q is not absolute", s.CodeDir)
	}
	seen := map[string]bool{CodePath: s.CodeDir != ""}
	for _, m := range s.ExtraRO {
		if !path.IsAbs(m.Source) {
			return bad("ExtraRO source %q is not absolute", m.Source)
		}
		t := m.Target
		if !path.IsAbs(t) || path.Clean(t) != t || t == "/" {
			return bad("ExtraRO target %q: want a clean absolute path other than /", t)
		}
		for _, reserved := range []string{"/proc", "/dev"} {
			if t == reserved || strings.HasPrefix(t, reserved+"/") {
				return bad("ExtraRO target %q is under the reserved %s", t, reserved)
			}
		}
		if seen[t] {
			return bad("ExtraRO target %q is used twice", t)
		}
		seen[t] = true
	}
	return s, nil
}

// Fault says who caused a failure.
type Fault string

const (
	// FaultPlatform: openfgs or the host (a bad spec, a cgroup or mount
	// that could not be made, an init helper that crashed).
	FaultPlatform Fault = "platform"
	// FaultFunction: the function's code or configuration (a program that
	// does not exist or cannot be executed, a bad working folder).
	FaultFunction Fault = "function"
)

// Error is a sandbox failure with the party at fault.
type Error struct {
	Op    string // e.g. "sandbox.Start"
	Fault Fault
	Err   error
}

func (e *Error) Error() string {
	return e.Op + ": " + string(e.Fault) + ": " + e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

// FaultOf returns the Fault of the first *Error in err's chain, or
// FaultPlatform.
func FaultOf(err error) Fault {
	if e, ok := errors.AsType[*Error](err); ok {
		return e.Fault
	}
	return FaultPlatform
}

func platformErr(op string, format string, args ...any) error {
	return &Error{Op: op, Fault: FaultPlatform, Err: fmt.Errorf(format, args...)}
}

// Exit is how an instance ended.
type Exit struct {
	Code       int            // the program's exit status; -1 if it was killed by a signal or never ran
	Signal     syscall.Signal // the signal that killed the program; 0 if it exited
	OOMKilled  bool           // the memory cgroup killed a process of the instance
	Forced     bool           // Stop's grace period ran out and the instance was SIGKILLed
	MemoryPeak int64          // the memory cgroup's high-water mark in bytes, 0 if unknown
	CPUTime    time.Duration  // user+system CPU of init and every process it reaped
	Err        error          // set when the platform failed to run or watch the instance
}

// Success reports whether the program exited with status 0.
func (e Exit) Success() bool {
	return e.Err == nil && e.Signal == 0 && e.Code == 0 && !e.OOMKilled
}

func (e Exit) String() string {
	var s string
	switch {
	case e.Signal != 0:
		s = fmt.Sprintf("killed by signal %d (%v)", int(e.Signal), e.Signal)
	case e.Code >= 0:
		s = fmt.Sprintf("exited with code %d", e.Code)
	default:
		s = "did not run"
	}
	if e.OOMKilled {
		s = "out of memory: " + s
	}
	if e.Forced {
		s += " after the stop grace period"
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// BoundedBuffer is an io.Writer that keeps the first Max bytes written to it
// and counts the rest. It is safe for one writer and readers that look only
// after the writes are over (after Wait).
type BoundedBuffer struct {
	Max       int
	buf       []byte
	truncated int64
}

// NewBoundedBuffer returns a buffer that keeps up to max bytes.
func NewBoundedBuffer(max int) *BoundedBuffer { return &BoundedBuffer{Max: max} }

// Write keeps what fits and always reports success, so the writing process
// is never blocked or failed by a full buffer.
func (b *BoundedBuffer) Write(p []byte) (int, error) {
	room := b.Max - len(b.buf)
	if room > len(p) {
		room = len(p)
	}
	if room > 0 {
		b.buf = append(b.buf, p[:room]...)
	}
	b.truncated += int64(len(p) - max(room, 0))
	return len(p), nil
}

// Bytes returns what was kept.
func (b *BoundedBuffer) Bytes() []byte { return b.buf }

// String returns what was kept.
func (b *BoundedBuffer) String() string { return string(b.buf) }

// Truncated returns how many bytes were dropped.
func (b *BoundedBuffer) Truncated() int64 { return b.truncated }
