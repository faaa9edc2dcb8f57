package sandbox

import (
	"errors"
	"fmt"
	"sync"
)

// Host ids. Every instance gets a range of IDRangeSize host uids and gids
// of its own, from an IDRanges, for as long as it lives: container id 0
// (init) is the range's first id, FunctionUID is that plus 1000. Its user
// namespace is also owned by the range's first uid, so that the kernel's
// per-user limits (inotify instances, message queue bytes, pending
// signals, user namespaces, pipe buffers, epoll watches) are counted per
// instance, not against host root or shared between tenants.
const (
	// IDRangeSize is how many host ids one instance maps (container ids
	// 0..65535).
	IDRangeSize = 65536
	// DefaultIDBase is the first host id of the first range.
	DefaultIDBase = 1_000_000
	// DefaultIDRanges is how many ranges (so live instances) a node has.
	DefaultIDRanges = 4096
	// maxHostID bounds every range: ids above 2^31-1 confuse tools that
	// keep uids in signed 32-bit integers.
	maxHostID = 1<<31 - 1
)

// IDLockFile is where every openfgs process on a host records the host id
// ranges it has handed out, as locks on byte ranges of this file at the
// ranges' offsets (offset = first uid). Two servers on one host so never
// give the same ids to two live instances, even with overlapping
// --uid-base settings, and a crashed server's locks vanish with it.
const IDLockFile = "/run/openfgs/host-ids.lock"

// ErrNoIDs is in the chain of Start's error when every host id range is
// taken: the node runs as many instances as it has ranges.
var ErrNoIDs = errors.New("no free host uid range")

// IDRanges hands out host id ranges, one per live instance: ranges k =
// 0..count-1 start at base + k*IDRangeSize. It is safe for concurrent use.
type IDRanges struct {
	base  int64
	count int

	mu     sync.Mutex
	lockFD int // IDLockFile, opened on first use; -1 until then
	used   []bool
	next   int // where the next search starts: freed ranges are reused last
}

// NewIDRanges returns an allocator of count ranges from host id base. It
// checks the numbers only; the lock file is opened when the first range
// is taken.
func NewIDRanges(base int64, count int) (*IDRanges, error) {
	if base < IDRangeSize {
		return nil, fmt.Errorf("sandbox: uid base %d: want at least %d, above the host's own users", base, IDRangeSize)
	}
	if count < 1 {
		return nil, fmt.Errorf("sandbox: %d uid ranges: want at least 1", count)
	}
	if end := base + int64(count)*IDRangeSize - 1; end > maxHostID {
		return nil, fmt.Errorf("sandbox: %d uid ranges of %d from %d end at %d, past %d", count, IDRangeSize, base, end, maxHostID)
	}
	return &IDRanges{base: base, count: count, lockFD: -1, used: make([]bool, count)}, nil
}

// Base and Count describe the allocator.
func (r *IDRanges) Base() int64 { return r.base }

// Count is how many ranges there are.
func (r *IDRanges) Count() int { return r.count }

// defaultIDRanges serves specs that name no allocator
// (a test checks that NewIDRanges accepts the defaults).
var defaultIDRanges = sync.OnceValue(func() *IDRanges {
	return &IDRanges{base: DefaultIDBase, count: DefaultIDRanges, lockFD: -1, used: make([]bool, DefaultIDRanges)}
})
