package sandbox

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// cgroupParent is the folder, in each hierarchy, that holds one cgroup per
// instance. It is created on demand and never removed (other instances, or
// other supervisors on the node, may be using it).
const cgroupParent = "openfgs"

// cgroupLayout is where the memory, pids and cpu controllers live on this
// node. On a v1 or hybrid node each controller has its own hierarchy (its
// mount point is found in /proc/self/mountinfo, so "cpu,cpuacct" co-mounts
// work); on a pure v2 node they share /sys/fs/cgroup.
type cgroupLayout struct {
	v2     bool
	memory string // hierarchy roots; all equal on v2
	pids   string
	cpu    string
}

var (
	layoutOnce sync.Once
	layout     cgroupLayout
	layoutErr  error
)

func detectCgroups() (cgroupLayout, error) {
	layoutOnce.Do(func() { layout, layoutErr = detectCgroupsUncached() })
	return layout, layoutErr
}

func detectCgroupsUncached() (cgroupLayout, error) {
	var st unix.Statfs_t
	if err := unix.Statfs("/sys/fs/cgroup", &st); err != nil {
		return cgroupLayout{}, fmt.Errorf("statfs /sys/fs/cgroup: %w", err)
	}
	if st.Type == unix.CGROUP2_SUPER_MAGIC {
		root := "/sys/fs/cgroup"
		b, err := os.ReadFile(filepath.Join(root, "cgroup.controllers"))
		if err != nil {
			return cgroupLayout{}, fmt.Errorf("cgroup v2: %w", err)
		}
		have := strings.Fields(string(b))
		for _, c := range []string{"memory", "pids", "cpu"} {
			if !contains(have, c) {
				return cgroupLayout{}, fmt.Errorf("cgroup v2: controller %s is not available (have %q)", c, have)
			}
		}
		return cgroupLayout{v2: true, memory: root, pids: root, cpu: root}, nil
	}
	// v1 or hybrid: find each controller's hierarchy in mountinfo.
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return cgroupLayout{}, err
	}
	defer f.Close()
	var l cgroupLayout
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		// 32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		if !ok {
			continue
		}
		pf, qf := strings.Fields(pre), strings.Fields(post)
		if len(pf) < 5 || len(qf) < 3 || qf[0] != "cgroup" || pf[3] != "/" {
			continue
		}
		opts := strings.Split(qf[2], ",")
		mnt := unescapeMountinfo(pf[4])
		for _, c := range []struct {
			name string
			dst  *string
		}{{"memory", &l.memory}, {"pids", &l.pids}, {"cpu", &l.cpu}} {
			if contains(opts, c.name) && *c.dst == "" {
				*c.dst = mnt
			}
		}
	}
	if err := sc.Err(); err != nil {
		return cgroupLayout{}, err
	}
	for _, c := range []struct{ name, dir string }{{"memory", l.memory}, {"pids", l.pids}, {"cpu", l.cpu}} {
		if c.dir == "" {
			return cgroupLayout{}, fmt.Errorf("cgroup v1: controller %s is not mounted", c.name)
		}
	}
	return l, nil
}

func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// cgroup is one instance's set of cgroups.
type cgroup struct {
	v2   bool
	dirs []string // distinct folders, memory first
	mem  string   // the memory cgroup's folder
	pids string
	cpu  string

	// usage stays open: the executor reads it after every invocation, and
	// one pread is far cheaper than open, read and close.
	usageMu sync.Mutex
	usage   *os.File
}

type cgroupLimits struct {
	memory    int64 // bytes; 0 = no limit
	cpuShares int64 // 0 = default
}

// newCgroup creates the instance's cgroups and sets the memory and cpu
// limits. pids.max starts at "max" and is set by setPidsMax once init has
// started its threads (see Start). A leftover cgroup with the same id is
// removed if it is empty.
func newCgroup(l cgroupLayout, id string, lim cgroupLimits) (cg *cgroup, err error) {
	cg = &cgroup{v2: l.v2}
	cg.mem = filepath.Join(l.memory, cgroupParent, id)
	cg.pids = filepath.Join(l.pids, cgroupParent, id)
	cg.cpu = filepath.Join(l.cpu, cgroupParent, id)
	var want []string
	for _, d := range []string{cg.mem, cg.pids, cg.cpu} {
		if !contains(want, d) {
			want = append(want, d)
		}
	}
	if l.v2 {
		if err := enableV2Controllers(l.memory); err != nil {
			return nil, err
		}
	}
	// cg.dirs holds only what this call made, so a failure removes
	// nothing else.
	defer func() {
		if err != nil {
			cg.remove(context.Background())
		}
	}()
	for _, d := range want {
		if err := os.MkdirAll(filepath.Dir(d), 0o755); err != nil {
			return nil, err
		}
		err := os.Mkdir(d, 0o755)
		if errors.Is(err, os.ErrExist) {
			// A stale cgroup from a supervisor that died. rmdir succeeds
			// only if no process is left in it.
			if rerr := syscall.Rmdir(d); rerr != nil {
				return nil, fmt.Errorf("cgroup %s already exists and cannot be removed: %w", d, rerr)
			}
			err = os.Mkdir(d, 0o755)
		}
		if err != nil {
			return nil, err
		}
		cg.dirs = append(cg.dirs, d)
	}
	if l.v2 {
		if lim.memory > 0 {
			if err := writeFile(cg.mem, "memory.max", lim.memory); err != nil {
				return nil, err
			}
			if fileExists(filepath.Join(cg.mem, "memory.swap.max")) {
				if err := writeFile(cg.mem, "memory.swap.max", int64(0)); err != nil {
					return nil, err
				}
			}
		}
		if lim.cpuShares > 0 {
			if err := cg.setCPUShares(lim.cpuShares); err != nil {
				return nil, err
			}
		}
		return cg, nil
	}
	if lim.memory > 0 {
		if err := writeFile(cg.mem, "memory.limit_in_bytes", lim.memory); err != nil {
			return nil, err
		}
		// Present when swap accounting is on: bound memory+swap to the same
		// figure, so an instance cannot spill into swap.
		if fileExists(filepath.Join(cg.mem, "memory.memsw.limit_in_bytes")) {
			if err := writeFile(cg.mem, "memory.memsw.limit_in_bytes", lim.memory); err != nil {
				return nil, err
			}
		}
	}
	if err := writeFile(cg.mem, "memory.swappiness", int64(0)); err != nil {
		return nil, err
	}
	if lim.cpuShares > 0 {
		if err := cg.setCPUShares(lim.cpuShares); err != nil {
			return nil, err
		}
	}
	return cg, nil
}

// setCPUShares sets the CPU weight: cpu.shares on v1; on v2 cpu.weight,
// converted the way runc and systemd do (shares [2, 262144] -> weight
// [1, 10000]).
func (cg *cgroup) setCPUShares(shares int64) error {
	if cg.v2 {
		return writeFile(cg.cpu, "cpu.weight", 1+(shares-2)*9999/262142)
	}
	return writeFile(cg.cpu, "cpu.shares", shares)
}

// enableV2Controllers turns on memory, pids and cpu for children of the
// root and of openfgs/ on a pure v2 node.
func enableV2Controllers(root string) error {
	parent := filepath.Join(root, cgroupParent)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return err
	}
	for _, d := range []string{root, parent} {
		b, err := os.ReadFile(filepath.Join(d, "cgroup.subtree_control"))
		if err != nil {
			return err
		}
		have := strings.Fields(string(b))
		var add []string
		for _, c := range []string{"memory", "pids", "cpu"} {
			if !contains(have, c) {
				add = append(add, "+"+c)
			}
		}
		if len(add) == 0 {
			continue
		}
		if err := os.WriteFile(filepath.Join(d, "cgroup.subtree_control"), []byte(strings.Join(add, " ")), 0); err != nil {
			return fmt.Errorf("enable %v in %s: %w", add, d, err)
		}
	}
	return nil
}

// setMemoryLimit changes the memory limit (0 = none). On v1 the limit may
// never exceed memory+swap, so the two move in the order that keeps that
// true.
func (cg *cgroup) setMemoryLimit(bytes int64) error {
	if cg.v2 {
		if bytes == 0 {
			return os.WriteFile(filepath.Join(cg.mem, "memory.max"), []byte("max"), 0)
		}
		return writeFile(cg.mem, "memory.max", bytes)
	}
	if bytes == 0 {
		bytes = -1 // unlimited
	}
	memsw := fileExists(filepath.Join(cg.mem, "memory.memsw.limit_in_bytes"))
	cur, err := readInt(cg.mem, "memory.limit_in_bytes")
	if err != nil {
		return err
	}
	raise := bytes == -1 || bytes > cur
	if memsw && raise {
		if err := writeFile(cg.mem, "memory.memsw.limit_in_bytes", bytes); err != nil {
			return err
		}
	}
	if err := writeFile(cg.mem, "memory.limit_in_bytes", bytes); err != nil {
		return err
	}
	if memsw && !raise {
		return writeFile(cg.mem, "memory.memsw.limit_in_bytes", bytes)
	}
	return nil
}

// add moves process pid (with all its threads) into the instance's cgroups.
func (cg *cgroup) add(pid int) error {
	for _, d := range cg.dirs {
		if err := writeFile(d, "cgroup.procs", int64(pid)); err != nil {
			return err
		}
	}
	return nil
}

// setPidsMax sets the task limit; n <= 0 means none.
func (cg *cgroup) setPidsMax(n int64) error {
	if n <= 0 {
		return os.WriteFile(filepath.Join(cg.pids, "pids.max"), []byte("max"), 0)
	}
	return writeFile(cg.pids, "pids.max", n)
}

// procs lists the pids in the instance's memory cgroup.
func (cg *cgroup) procs() ([]int, error) {
	b, err := os.ReadFile(filepath.Join(cg.mem, "cgroup.procs"))
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, f := range strings.Fields(string(b)) {
		if p, err := strconv.Atoi(f); err == nil {
			pids = append(pids, p)
		}
	}
	return pids, nil
}

// memoryUsage returns the current charge in bytes.
func (cg *cgroup) memoryUsage() (int64, error) {
	name := "memory.usage_in_bytes"
	if cg.v2 {
		name = "memory.current"
	}
	cg.usageMu.Lock()
	defer cg.usageMu.Unlock()
	if cg.usage == nil {
		f, err := os.Open(filepath.Join(cg.mem, name))
		if err != nil {
			return 0, err
		}
		cg.usage = f
	}
	var buf [32]byte
	n, err := cg.usage.ReadAt(buf[:], 0)
	if n == 0 && err != nil {
		return 0, err
	}
	return strconv.ParseInt(strings.TrimSpace(string(buf[:n])), 10, 64)
}

// closeUsage closes the kept usage file (before the cgroup is removed).
func (cg *cgroup) closeUsage() {
	cg.usageMu.Lock()
	if cg.usage != nil {
		cg.usage.Close()
		cg.usage = nil
	}
	cg.usageMu.Unlock()
}

// memoryPeak returns the high-water mark in bytes (0 if the kernel does not
// keep one).
func (cg *cgroup) memoryPeak() (int64, error) {
	if cg.v2 {
		if !fileExists(filepath.Join(cg.mem, "memory.peak")) {
			return 0, nil
		}
		return readInt(cg.mem, "memory.peak")
	}
	return readInt(cg.mem, "memory.max_usage_in_bytes")
}

// oomKills returns how many processes the OOM killer killed in the cgroup.
func (cg *cgroup) oomKills() (int64, error) {
	name := "memory.oom_control"
	if cg.v2 {
		name = "memory.events"
	}
	b, err := os.ReadFile(filepath.Join(cg.mem, name))
	if err != nil {
		return 0, err
	}
	for line := range bytes.Lines(b) {
		k, v, _ := strings.Cut(strings.TrimSpace(string(line)), " ")
		if k == "oom_kill" {
			return strconv.ParseInt(v, 10, 64)
		}
	}
	return 0, fmt.Errorf("%s has no oom_kill counter", name)
}

// remove deletes the cgroups, retrying while exiting tasks drain, until ctx
// is done or about two seconds have passed.
func (cg *cgroup) remove(ctx context.Context) error {
	cg.closeUsage()
	var errs []error
	deadline := time.Now().Add(2 * time.Second)
	for _, d := range cg.dirs {
		wait := 100 * time.Microsecond
		for {
			err := syscall.Rmdir(d)
			if err == nil || errors.Is(err, syscall.ENOENT) {
				break
			}
			if !errors.Is(err, syscall.EBUSY) || time.Now().After(deadline) || ctx.Err() != nil {
				errs = append(errs, fmt.Errorf("remove cgroup %s: %w", d, err))
				break
			}
			time.Sleep(wait)
			wait = min(2*wait, 50*time.Millisecond)
		}
	}
	return errors.Join(errs...)
}

func writeFile(dir, name string, v int64) error {
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, strconv.AppendInt(nil, v, 10), 0); err != nil {
		return fmt.Errorf("write %d to %s: %w", v, p, err)
	}
	return nil
}

func readInt(dir, name string) (int64, error) {
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
