// Package executor runs functions: per function version it keeps a pool
// of sandboxed instances, starts them on demand (from pre-started generic
// instances when the runtime allows), reuses warm ones, scales out up to
// the function's maximum instances, queues briefly and then throttles when
// all are busy, stops idle ones, keeps the node within a memory budget,
// and turns what happened into an invocation result with its log.
package executor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/openfgs/openfgs/internal/fgs"
	"github.com/openfgs/openfgs/internal/logs"
	"github.com/openfgs/openfgs/internal/runtime"
	"github.com/openfgs/openfgs/internal/sandbox"
)

var _ fgs.Invoker = (*Executor)(nil)

// Options configure an Executor.
type Options struct {
	// RunDir holds unpacked code and instance folders, which sandboxes
	// bind read-only (the supervisor opens them, so RunDir's parents may
	// be closed to others).
	RunDir string
	Code   fgs.CodeStore
	Logs   *logs.Store
	// Kinds maps each runtime enum this node can run to its Kind.
	Kinds  map[string]runtime.Kind
	Region string
	Logger *slog.Logger

	IdleTimeout    time.Duration // an idle instance is stopped after this; default 2m
	QueueTimeout   time.Duration // how long an invocation waits for a busy pool; default 1s
	MemoryBudgetMB int           // sum of instance memory sizes on this node; default half of RAM
	Prestart       int           // generic instances kept per pre-startable runtime; default 1, <0 none
	// Outbound gives instances of functions with public network access
	// (no network_controller.disable_public_network), and pre-started
	// ones, a way out to addresses outside this host, never to the host
	// itself (sandbox.NetworkOutbound); set it when
	// sandbox.OutboundSupported says the node can. Otherwise every
	// instance has loopback only.
	Outbound bool
	// StartInstance starts an instance; nil means in a sandbox.
	StartInstance StartFunc
	// HostIDs hands each instance its own host uid/gid range; nil means
	// the sandbox package's defaults.
	HostIDs *sandbox.IDRanges
	// Unavailable, when set, is why this node runs no functions at all
	// (for example: no namespaces or cgroups); every Invoke fails with it.
	Unavailable error
	// Work, when set, is told when an instance starts or stops being
	// started or stopped, work that may run beside an invocation (see
	// package procs).
	Work interface {
		Begin()
		End()
	}
}

// Executor runs invocations. It is safe for concurrent use.
type Executor struct {
	opt    Options
	code   *codeCache
	logger *slog.Logger

	mu      sync.Mutex
	pools   map[poolKey]*pool
	generic map[runtime.Kind][]*instance // pre-started, no function yet
	usedMB  int
	closed  bool

	stats Stats

	stop chan struct{}
	wg   sync.WaitGroup
}

// Stats are node-wide counters.
type Stats struct {
	Invocations atomic.Int64
	ColdStarts  atomic.Int64
	Prestarted  atomic.Int64 // cold starts served by a pre-started instance
	Throttled   atomic.Int64
	Timeouts    atomic.Int64
	Crashes     atomic.Int64
}

// New returns an Executor.
func New(opt Options) (*Executor, error) {
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	if opt.IdleTimeout <= 0 {
		opt.IdleTimeout = 2 * time.Minute
	}
	if opt.QueueTimeout <= 0 {
		opt.QueueTimeout = time.Second
	}
	if opt.MemoryBudgetMB <= 0 {
		opt.MemoryBudgetMB = defaultBudgetMB()
	}
	if opt.Prestart == 0 {
		opt.Prestart = 1
	}
	if opt.StartInstance == nil {
		opt.StartInstance = startSandboxed
	}
	for _, d := range []string{opt.RunDir, filepath.Join(opt.RunDir, "instances")} {
		if err := os.MkdirAll(d, 0o711); err != nil {
			return nil, err
		}
		os.Chmod(d, 0o711)
	}
	// Instance folders of a previous run.
	old, _ := filepath.Glob(filepath.Join(opt.RunDir, "instances", "*"))
	for _, d := range old {
		os.RemoveAll(d)
	}
	cc, trash, err := newCodeCache(filepath.Join(opt.RunDir, "code"), opt.Code)
	if err != nil {
		return nil, err
	}
	e := &Executor{opt: opt, code: cc, logger: opt.Logger, pools: map[poolKey]*pool{},
		generic: map[runtime.Kind][]*instance{}, stop: make(chan struct{})}
	e.wg.Add(2)
	go e.reaper()
	go func() {
		defer e.wg.Done()
		for _, d := range trash {
			if err := removeTree(d, e.stop); err != nil {
				e.logger.Warn("could not remove code unpacked by an earlier run", "err", err)
			}
		}
	}()
	e.refillGeneric()
	return e, nil
}

func defaultBudgetMB() int {
	data, err := os.ReadFile("/proc/meminfo")
	if err == nil {
		var kb int
		if _, err := fmt.Sscanf(string(data), "MemTotal: %d kB", &kb); err == nil && kb > 0 {
			return kb / 1024 / 2
		}
	}
	return 4096
}

// Stats returns the node's counters.
func (e *Executor) Stats() *Stats { return &e.stats }

// Runtimes lists the runtime enums this node runs, sorted.
func (e *Executor) Runtimes() []string {
	var out []string
	if e.opt.Unavailable != nil {
		return out
	}
	for r, k := range e.opt.Kinds {
		if k.Available(r) == nil {
			out = append(out, r)
		}
	}
	sort.Strings(out)
	return out
}

// Invoke runs req. A platform failure (no such runtime, throttled,
// disabled, sandbox failure) is an error; a failure of the function is a
// Response with Err set.
func (e *Executor) Invoke(ctx context.Context, req *fgs.Invocation) (*fgs.InvocationResult, error) {
	f := req.Function
	if e.opt.Unavailable != nil {
		// The cause names host folders: it is logged, not sent.
		return nil, fgs.E("executor.Invoke", fgs.Unavailable,
			fgs.Msg("this node cannot run functions; the server's log says why"), e.opt.Unavailable)
	}
	kind := e.opt.Kinds[f.Runtime]
	if kind == nil {
		return nil, e.unavailable(f.Runtime)
	}
	if err := kind.Available(f.Runtime); err != nil {
		// Why may name the run dir (a JDK that could not compile the
		// bootstrap there): clients see it as <run dir>.
		why := strings.ReplaceAll(err.Error(), e.opt.RunDir, "<run dir>")
		return nil, fgs.E("executor.Invoke", fgs.Unavailable,
			fgs.Msg(fmt.Sprintf("runtime %s is not available on this node: %s", f.Runtime, why)), err)
	}
	if f.StrategyConfig.Concurrency == 0 {
		return nil, fgs.Errorf(fgs.Forbidden, fgs.NoReason, "function %s is disabled: its maximum instances is 0", f.Name)
	}
	e.stats.Invocations.Add(1)
	p, err := e.poolFor(f, kind)
	if err != nil {
		return nil, err
	}
	return p.invoke(ctx, req)
}

func (e *Executor) unavailable(rt string) error {
	missing := map[string]string{
		"Python2.7": "a python2.7 interpreter", "Custom Image": "a container engine",
		"Cangjie1.0": "the Cangjie runtime",
	}
	what := missing[rt]
	switch {
	case what != "":
	case strings.HasPrefix(rt, "C#"):
		what = "a .NET runtime"
	case strings.HasPrefix(rt, "PHP"):
		what = "a php interpreter"
	case strings.HasPrefix(rt, "Java"):
		what = "a Java runtime"
	default:
		what = "support for it"
	}
	return fgs.Errorf(fgs.Unavailable, fgs.NoReason, "runtime %s is not available on this node: it needs %s. This node runs: %s", rt, what, strings.Join(e.Runtimes(), ", "))
}

// poolKey identifies a pool: a function version at one revision of its
// code and configuration.
type poolKey struct {
	fgs.Key
	Version string
}

// poolFor returns the pool of f's current revision, retiring the pool of
// an older one.
func (e *Executor) poolFor(f *fgs.Function, kind runtime.Kind) (*pool, error) {
	k := poolKey{f.Key(), f.Version}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil, fgs.Errorf(fgs.Unavailable, fgs.NoReason, "the node is shutting down")
	}
	if p := e.pools[k]; p != nil {
		if f.Revision <= p.rev {
			// The pool runs f, or a later state of it than f (a read
			// that raced an update): keep it. Revisions come from one
			// store counter, so a re-created function is later too.
			return p, nil
		}
		p.retire()
	}
	rf, err := e.runtimeFunction(f)
	if err != nil {
		return nil, err
	}
	p := newPool(e, k, f, rf, kind)
	e.pools[k] = p
	return p, nil
}

// runtimeFunction builds what an instance is told about f.
func (e *Executor) runtimeFunction(f *fgs.Function) (*runtime.Function, error) {
	rf := &runtime.Function{
		URN:                fgs.URN{Region: e.opt.Region, Project: f.Project, Package: f.Package, Function: f.Name}.Unqualified(),
		Name:               f.Name,
		Package:            f.Package,
		Project:            f.Project,
		Region:             e.opt.Region,
		Version:            f.Version,
		Runtime:            f.Runtime,
		Handler:            f.Handler,
		Timeout:            time.Duration(f.Timeout) * time.Second,
		MemoryMB:           int(f.MemorySize),
		CPU:                int(f.CPU),
		InitializerHandler: f.InitializerHandler,
		InitializerTimeout: time.Duration(f.InitializerTimeout) * time.Second,
		MaxRequestBytes:    MaxPayload,
		MaxResponseBytes:   MaxPayload,
		Concurrency:        1,
		CodeDir:            runtime.CodeDir,
	}
	if f.UserData != "" {
		if err := json.Unmarshal([]byte(f.UserData), &rf.UserData); err != nil {
			return nil, fgs.Errorf(fgs.Invalid, fgs.BadUserData, "user_data is not a JSON object of strings")
		}
	}
	if f.EncryptedUserData != "" {
		if err := json.Unmarshal([]byte(f.EncryptedUserData), &rf.EncryptedUserData); err != nil {
			return nil, fgs.Errorf(fgs.Invalid, fgs.BadUserData, "encrypted_user_data is not a JSON object of strings")
		}
	}
	if n := f.StrategyConfig.ConcurrentNum; n > 1 && concurrentRuntime(f.Runtime) {
		rf.Concurrency = int(n)
	} else if n == -1 && concurrentRuntime(f.Runtime) {
		rf.Concurrency = 1000
	}
	return rf, nil
}

// concurrentRuntime says whether one instance of the runtime may serve
// several invocations at once.
func concurrentRuntime(rt string) bool {
	return strings.HasPrefix(rt, "Node.js") || strings.HasPrefix(rt, "Python") || strings.HasPrefix(rt, "Java") || rt == "http" || rt == "Go1.x"
}

// MaxPayload is the largest request or response body of a synchronous
// invocation (6 MB).
const MaxPayload = 6 << 20

// reserve takes mb of the node's memory budget, stopping idle instances
// (pre-started generic ones first, then the least recently used) to make
// room. It reports whether it got it.
func (e *Executor) reserve(mb int) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	for e.usedMB+mb > e.opt.MemoryBudgetMB {
		if g := e.popGenericLocked(nil); g != nil {
			e.releaseLocked(g)
			go g.stop(e, stopEvicted)
			continue
		}
		victim := e.lruIdleLocked()
		if victim == nil {
			return false
		}
		if victim.pool.evict(victim) {
			e.releaseLocked(victim)
			go victim.stop(e, stopEvicted)
		}
	}
	e.usedMB += mb
	return true
}

func (e *Executor) unreserve(mb int) {
	e.mu.Lock()
	e.usedMB -= mb
	e.mu.Unlock()
}

// release gives back an instance's share of the budget, once.
func (e *Executor) release(in *instance) {
	e.mu.Lock()
	e.releaseLocked(in)
	e.mu.Unlock()
}

func (e *Executor) releaseLocked(in *instance) {
	e.usedMB -= in.reservedMB
	in.reservedMB = 0
}

// lruIdleLocked returns the pool instance that has been idle longest.
// e.mu is held; it takes each pool's lock in turn.
func (e *Executor) lruIdleLocked() *instance {
	var best *instance
	for _, p := range e.pools {
		p.mu.Lock()
		for _, in := range p.instances {
			if in.st == idle && (best == nil || in.lastUsed.Before(best.lastUsed)) {
				best = in
			}
		}
		p.mu.Unlock()
	}
	return best
}

// codeKeep is how long an unpacked package nothing uses is kept: long
// enough that a function invoked now and then does not unpack again.
func codeKeep(idle time.Duration) time.Duration { return max(10*idle, 10*time.Minute) }

// reaper stops idle instances, forgets empty retired pools and removes
// unpacked packages nothing uses.
func (e *Executor) reaper() {
	defer e.wg.Done()
	tick := min(e.opt.IdleTimeout/4, time.Second)
	t := time.NewTicker(max(tick, 10*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-e.stop:
			return
		case now := <-t.C:
			e.mu.Lock()
			pools := make([]*pool, 0, len(e.pools))
			for k, p := range e.pools {
				if p.empty() && (p.retired() || now.Sub(p.lastUsed()) > e.opt.IdleTimeout) {
					delete(e.pools, k)
					continue
				}
				pools = append(pools, p)
			}
			e.mu.Unlock()
			for _, p := range pools {
				p.reap(now.Add(-e.opt.IdleTimeout))
			}
			e.code.sweep(now.Add(-codeKeep(e.opt.IdleTimeout)))
		}
	}
}

// Forget stops the instances of a function's versions (it was deleted).
func (e *Executor) Forget(k fgs.Key) {
	e.mu.Lock()
	var ps []*pool
	for pk, p := range e.pools {
		if pk.Key == k {
			ps = append(ps, p)
			delete(e.pools, pk)
		}
	}
	e.mu.Unlock()
	for _, p := range ps {
		p.retire()
	}
}

// Close stops every instance.
func (e *Executor) Close(ctx context.Context) error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	close(e.stop)
	pools := e.pools
	e.pools = map[poolKey]*pool{}
	var gens []*instance
	for _, gs := range e.generic {
		gens = append(gens, gs...)
	}
	e.generic = map[runtime.Kind][]*instance{}
	e.mu.Unlock()
	e.wg.Wait()
	var wg sync.WaitGroup
	for _, p := range pools {
		wg.Add(1)
		go func() { defer wg.Done(); p.retireAndWait(ctx) }()
	}
	for _, g := range gens {
		wg.Add(1)
		go func() { defer wg.Done(); g.stop(e, stopShutdown) }()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return errors.New("executor: instances still stopping")
	}
}

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }
