package executor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/openfgs/openfgs/internal/fgs"
	"github.com/openfgs/openfgs/internal/logs"
	"github.com/openfgs/openfgs/internal/runtime"
	"github.com/openfgs/openfgs/internal/sandbox"
)

// pool holds the instances of one function version at one revision.
type pool struct {
	e    *Executor
	key  poolKey
	rev  int64 // the store revision of fn
	fn   *fgs.Function
	rf   *runtime.Function
	kind runtime.Kind

	maxInstances int // 0 = no limit beyond the node's budget
	perInstance  int

	mu        sync.Mutex
	instances []*instance
	starting  int
	isRetired bool
	last      time.Time
	wake      chan struct{} // closed and replaced whenever a slot may have freed
}

func newPool(e *Executor, k poolKey, f *fgs.Function, rf *runtime.Function, kind runtime.Kind) *pool {
	p := &pool{e: e, key: k, rev: f.Revision, fn: f.Clone(), rf: rf, kind: kind, perInstance: rf.Concurrency,
		wake: make(chan struct{}), last: time.Now()}
	if c := f.StrategyConfig.Concurrency; c > 0 {
		p.maxInstances = int(c)
	}
	return p
}

func (p *pool) broadcastLocked() {
	close(p.wake)
	p.wake = make(chan struct{})
}

// acquire returns an instance with a free slot, taking the slot: a warm
// one if there is one, else a new one if the function's maximum and the
// node's budget allow, else it waits up to the queue timeout and then
// fails with a throttle error.
func (p *pool) acquire(ctx context.Context) (in *instance, cold bool, err error) {
	deadline := time.Now().Add(p.e.opt.QueueTimeout)
	for {
		p.mu.Lock()
		if p.isRetired {
			p.mu.Unlock()
			return nil, false, errRetired
		}
		// Pack: the busiest instance that still has room, so that the
		// others go idle and are stopped.
		var pick *instance
		for _, c := range p.instances {
			if (c.st == idle || c.st == busy) && c.inflight < p.perInstance &&
				(pick == nil || c.inflight > pick.inflight || c.inflight == pick.inflight && c.lastUsed.After(pick.lastUsed)) {
				pick = c
			}
		}
		if pick != nil {
			p.takeLocked(pick)
			p.mu.Unlock()
			return pick, false, nil
		}
		if p.maxInstances == 0 || len(p.instances)+p.starting < p.maxInstances {
			p.starting++
			p.mu.Unlock()
			in, err := p.start(ctx)
			p.mu.Lock()
			p.starting--
			if err != nil {
				p.broadcastLocked()
				p.mu.Unlock()
				full := ""
				switch {
				case errors.Is(err, errNoBudget):
					full = "the node's memory budget is used up"
				case errors.Is(err, sandbox.ErrNoIDs):
					full = "every host uid range of the node (--uid-ranges) is in use"
				}
				if full != "" {
					// The node is full: wait like a busy pool would.
					if !p.wait(ctx, deadline) {
						return nil, false, p.throttled(ctx, full)
					}
					continue
				}
				return nil, false, err
			}
			if p.isRetired {
				p.mu.Unlock()
				go in.stop(p.e, stopRetired)
				return nil, false, errRetired
			}
			p.instances = append(p.instances, in)
			p.takeLocked(in)
			p.mu.Unlock()
			return in, true, nil
		}
		wake := p.wake
		p.mu.Unlock()
		if !p.waitOn(ctx, wake, deadline) {
			return nil, false, p.throttled(ctx, fmt.Sprintf("all %d instances are busy", p.maxInstances))
		}
	}
}

var (
	errRetired  = errors.New("pool retired")
	errNoBudget = errors.New("no memory budget")
)

func (p *pool) throttled(ctx context.Context, why string) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	p.e.stats.Throttled.Add(1)
	return fgs.Errorf(fgs.Unavailable, fgs.Throttled, "function %s is throttled: %s (waited %v)", p.fn.Name, why, p.e.opt.QueueTimeout)
}

func (p *pool) wait(ctx context.Context, deadline time.Time) bool {
	p.mu.Lock()
	wake := p.wake
	p.mu.Unlock()
	return p.waitOn(ctx, wake, deadline)
}

func (p *pool) waitOn(ctx context.Context, wake chan struct{}, deadline time.Time) bool {
	d := time.Until(deadline)
	if d <= 0 {
		return false
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-wake:
		return true
	case <-t.C:
		return false
	case <-ctx.Done():
		return false
	}
}

func (p *pool) takeLocked(in *instance) {
	if err := in.st.to(busy); err != nil {
		panic(err) // guarded by the caller's state check
	}
	in.inflight++
	p.last = time.Now()
}

// releaseSlot gives back a slot; a broken instance leaves the pool.
func (p *pool) releaseSlot(in *instance, broken bool) {
	p.mu.Lock()
	in.inflight--
	in.lastUsed = time.Now()
	var stopIt stopReason
	switch {
	case broken:
		p.removeLocked(in)
		stopIt = stopBroken
	case in.st == draining:
		if in.inflight == 0 {
			in.st.to(stopped)
			stopIt = stopRetired
		}
	case in.inflight == 0:
		in.st.to(idle)
	}
	p.broadcastLocked()
	p.mu.Unlock()
	if stopIt != "" {
		go in.stop(p.e, stopIt)
	}
}

func (p *pool) removeLocked(in *instance) {
	for i, c := range p.instances {
		if c == in {
			p.instances = append(p.instances[:i], p.instances[i+1:]...)
			break
		}
	}
	if in.st != stopped {
		in.st = stopped
	}
}

// start makes a new instance for the pool: from a pre-started generic
// instance of the runtime when there is one, else from scratch. Failures
// to load or initialize are retried up to three times, as FunctionGraph
// does, and then returned as the function's error.
func (p *pool) start(ctx context.Context) (*instance, error) {
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		in, err := p.startOnce(ctx)
		if err == nil {
			return in, nil
		}
		lastErr = err
		var fe *runtime.FuncError
		if !errors.As(err, &fe) || fe.Code != runtime.ErrInit || ctx.Err() != nil {
			break
		}
	}
	return nil, lastErr
}

func (p *pool) startOnce(ctx context.Context) (*instance, error) {
	e := p.e
	f := p.fn
	codeDir, err := e.code.Dir(ctx, f)
	if err != nil {
		return nil, err
	}
	ownNet := f.NetworkController != nil && f.NetworkController.DisablePublicNetwork != nil && *f.NetworkController.DisablePublicNetwork
	mem := int(f.MemorySize)
	e.stats.ColdStarts.Add(1)

	// A pre-started generic instance, when the runtime has them.
	if in := e.takeGeneric(p.kind, mem); in != nil {
		e.stats.Prestarted.Add(1)
		if err := p.adopt(ctx, in, codeDir, ownNet); err != nil {
			in.stop(e, stopFailed)
			return nil, err
		}
		go e.refillGeneric()
		return in, nil
	}
	if !e.reserve(mem) {
		return nil, errNoBudget
	}
	prog, err := p.kind.Program(p.rf)
	if err != nil {
		e.unreserve(mem)
		return nil, err
	}
	e.code.acquire(f.Digest)
	in, err := e.startInstance(ctx, p.kind, instanceSpec{codeDir: codeDir, memMB: mem, cpu: int(f.CPU),
		tmpMB: int(max(f.EphemeralStorage, 512)), ownNet: ownNet, prog: prog, fn: p.rf})
	if err != nil {
		e.code.release(f.Digest)
		e.unreserve(mem)
		return nil, err
	}
	in.digest = f.Digest
	e.mu.Lock()
	in.reservedMB, in.pool = mem, p
	e.mu.Unlock()
	if err := p.load(ctx, in); err != nil {
		in.stop(e, stopFailed)
		return nil, err
	}
	return in, nil
}

// adopt turns a generic instance into one of p's: its code folder gets
// the function's files, its memory limit and CPU weight the function's,
// its network loses the way out if the function has no public network
// access (ownNet; before any of the function's code runs), and it loads
// the function.
func (p *pool) adopt(ctx context.Context, in *instance, codeDir string, ownNet bool) error {
	p.e.mu.Lock()
	in.pool = p
	p.e.mu.Unlock()
	if ownNet {
		in.box.DropOutbound()
	}
	if err := linkTree(codeDir, in.codeDir); err != nil {
		return fgs.E("executor.adopt", err)
	}
	if err := in.box.SetMemoryLimit(int64(p.fn.MemorySize) << 20); err != nil {
		return fgs.E("executor.adopt", err)
	}
	if p.fn.CPU > 0 {
		if err := in.box.SetCPUShares(sandbox.SharesFromMillicores(int64(p.fn.CPU))); err != nil {
			return fgs.E("executor.adopt", err)
		}
	}
	return p.load(ctx, in)
}

// load tells the instance its function and runs the initializer, within
// the initializer timeout (or the function timeout without one).
func (p *pool) load(ctx context.Context, in *instance) error {
	limit := p.rf.Timeout
	if p.rf.InitializerHandler != "" && p.rf.InitializerTimeout > 0 {
		limit = p.rf.InitializerTimeout
	}
	lctx, cancel := context.WithTimeout(ctx, limit+time.Second)
	defer cancel()
	err := in.conn.Load(lctx, p.rf)
	if err == nil {
		return nil
	}
	var fe *runtime.FuncError
	switch {
	case errors.As(err, &fe):
		return fe
	case lctx.Err() != nil && ctx.Err() == nil:
		return &runtime.FuncError{Code: runtime.ErrInitTime, Type: "InitializerTimeout", Message: "runtime initialization timed out after " + limit.String()}
	case ctx.Err() != nil:
		return ctx.Err()
	}
	if x := in.exitFault(); x != nil {
		return x
	}
	return err
}

// invoke runs one invocation on the pool.
func (p *pool) invoke(ctx context.Context, req *fgs.Invocation) (*fgs.InvocationResult, error) {
	in, cold, err := p.acquire(ctx)
	if errors.Is(err, errRetired) {
		// The function changed under us: run on the current revision.
		np, perr := p.e.poolFor(req.Function, p.kind)
		if perr != nil {
			return nil, perr
		}
		if np == p {
			return nil, fgs.Errorf(fgs.Unavailable, fgs.NoReason, "function %s is being replaced; retry", p.fn.Name)
		}
		return np.invoke(ctx, req)
	}
	start := time.Now()
	log := &boundedLog{max: logs.MaxLog}
	log.startLine(start, req.RequestID, p.fn.Version)
	if err != nil {
		var fe *runtime.FuncError
		if !errors.As(err, &fe) {
			return nil, err
		}
		// The function could not start: its fault, reported as its error.
		return p.finish(req, start, time.Now(), log, nil, true, runtime.Result{Err: fe, Body: errorBody(fe)}, 0), nil
	}
	in.setOutput(log)
	inv := &runtime.Invocation{RequestID: req.RequestID, Event: req.Event, Deadline: start.Add(p.rf.Timeout), Headers: req.Headers, Log: log}
	ictx, cancel := ctx, context.CancelFunc(nil)
	_, enforces := in.conn.(runtime.DeadlineEnforcer)
	if !enforces {
		ictx, cancel = context.WithDeadline(ctx, inv.Deadline)
	}
	res, err := in.conn.Invoke(ictx, inv)
	if cancel != nil {
		cancel()
	}
	broken := false
	if err != nil {
		broken = true
		timedOut := ictx.Err() == context.DeadlineExceeded || enforces && err == context.DeadlineExceeded
		switch {
		case timedOut && ctx.Err() == nil:
			p.e.stats.Timeouts.Add(1)
			res = runtime.Result{Err: &runtime.FuncError{Code: runtime.ErrTimeout, Type: "FunctionTimeout",
				Message: fmt.Sprintf("call invoke timeout %ds", int(p.rf.Timeout/time.Second))}}
		case ctx.Err() != nil:
			// The caller went away; the instance may be mid-handler.
			p.releaseSlot(in, true)
			return nil, ctx.Err()
		default:
			p.e.stats.Crashes.Add(1)
			res = runtime.Result{Err: in.exitFault()}
		}
		res.Body = errorBody(res.Err)
	}
	in.drainOutput()
	in.setOutput(nil)
	end := time.Now()
	memMB := in.memoryUsedMB(end, end.Sub(start))
	p.releaseSlot(in, broken)
	return p.finish(req, start, end, log, in, cold, res, memMB), nil
}

// finish writes the Finish line, keeps the log and builds the Response.
func (p *pool) finish(req *fgs.Invocation, start, end time.Time, log *boundedLog, in *instance, cold bool, res runtime.Result, memMB float64) *fgs.InvocationResult {
	d := end.Sub(start)
	r := &fgs.InvocationResult{Body: res.Body, Duration: d, Cold: cold}
	if fe := res.Err; fe != nil {
		r.Error = &fgs.FunctionError{Code: fe.Code, Type: fe.Type, Message: fe.Message}
	}
	r.MemoryMB = memMB
	if in != nil {
		r.InstanceID = in.id
	}
	log.finishLine(end, req.RequestID, d, r.MemoryMB, int(p.fn.MemorySize))
	r.Log = log.bytes()
	if p.e.opt.Logs != nil {
		rec := logs.Record{RequestID: req.RequestID, Project: p.fn.Project, Package: p.fn.Package, Function: p.fn.Name,
			Version: p.fn.Version, Instance: r.InstanceID, Start: start.UTC(), Duration: d, MemoryMB: r.MemoryMB,
			OK: res.Err == nil, Log: string(r.Log)}
		if res.Err != nil {
			rec.ErrorCode = res.Err.Code
		}
		p.e.opt.Logs.Append(rec)
	}
	return r
}

// BillingMillis rounds a duration up to whole milliseconds.
func BillingMillis(d time.Duration) int64 {
	return int64((d + time.Millisecond - 1) / time.Millisecond)
}

// errorBody is a function error as the caller sees it.
func errorBody(fe *runtime.FuncError) []byte {
	type body struct {
		ErrorMessage string   `json:"errorMessage"`
		ErrorType    string   `json:"errorType"`
		StackTrace   []string `json:"stackTrace,omitempty"`
	}
	b, _ := jsonMarshal(body{fe.Message, fe.Type, fe.Stack})
	return b
}

// retire stops taking invocations: idle instances stop now, busy ones
// when their invocations end.
func (p *pool) retire() {
	p.mu.Lock()
	if p.isRetired {
		p.mu.Unlock()
		return
	}
	p.isRetired = true
	var now []*instance
	for _, in := range p.instances {
		switch in.st {
		case idle:
			in.st.to(draining)
			in.st.to(stopped)
			now = append(now, in)
		case busy:
			in.st.to(draining)
		}
	}
	p.instances = nil
	p.broadcastLocked()
	p.mu.Unlock()
	for _, in := range now {
		go in.stop(p.e, stopRetired)
	}
}

func (p *pool) retireAndWait(ctx context.Context) {
	p.mu.Lock()
	all := append([]*instance(nil), p.instances...)
	p.mu.Unlock()
	p.retire()
	for _, in := range all {
		select {
		case <-in.box.Done():
		case <-ctx.Done():
			return
		}
	}
}

func (p *pool) retired() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.isRetired
}

func (p *pool) empty() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.instances) == 0 && p.starting == 0
}

func (p *pool) lastUsed() time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.last
}

// reap stops instances idle since before cutoff.
func (p *pool) reap(cutoff time.Time) {
	p.mu.Lock()
	var gone []*instance
	for _, in := range p.instances {
		if in.st == idle && in.lastUsed.Before(cutoff) {
			gone = append(gone, in)
		}
	}
	for _, in := range gone {
		p.removeLocked(in)
	}
	p.mu.Unlock()
	for _, in := range gone {
		go in.stop(p.e, stopIdle)
	}
}

// evict removes an idle instance for the memory budget; it reports
// whether the instance was still idle.
func (p *pool) evict(in *instance) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if in.st != idle {
		return false
	}
	p.removeLocked(in)
	return true
}

// Instances reports how many instances a function version has, by state.
func (e *Executor) Instances(k fgs.Key, version string) map[string]int {
	e.mu.Lock()
	p := e.pools[poolKey{k, version}]
	e.mu.Unlock()
	out := map[string]int{}
	if p == nil {
		return out
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, in := range p.instances {
		out[in.st.String()]++
	}
	return out
}

// Generic instances.

// takeGeneric pops a pre-started instance of kind whose memory limit can
// be raised to memMB within the budget.
func (e *Executor) takeGeneric(kind runtime.Kind, memMB int) *instance {
	e.mu.Lock()
	in := e.popGenericLocked(kind)
	if in == nil {
		e.mu.Unlock()
		return nil
	}
	// Resize its reservation to the function's memory.
	if e.usedMB-in.reservedMB+memMB > e.opt.MemoryBudgetMB {
		e.generic[kind] = append(e.generic[kind], in)
		e.mu.Unlock()
		return nil
	}
	e.usedMB += memMB - in.reservedMB
	in.reservedMB, in.memMB = memMB, memMB
	e.mu.Unlock()
	return in
}

// popGenericLocked removes a generic instance of kind (any kind if nil).
func (e *Executor) popGenericLocked(kind runtime.Kind) *instance {
	for k, list := range e.generic {
		if (kind == nil || k == kind) && len(list) > 0 {
			in := list[len(list)-1]
			e.generic[k] = list[:len(list)-1]
			return in
		}
	}
	return nil
}

// genericMB is the memory limit a generic instance waits with.
const genericMB = 128

// refillGeneric tops up every pre-startable runtime's generic instances.
func (e *Executor) refillGeneric() {
	if e.opt.Prestart < 0 {
		return
	}
	seen := map[runtime.Kind]bool{}
	for rt, kind := range e.opt.Kinds {
		if seen[kind] || kind.Available(rt) != nil {
			continue
		}
		seen[kind] = true
		prog, err := kind.Program(nil)
		if err != nil {
			continue // not pre-startable
		}
		for {
			e.mu.Lock()
			n := len(e.generic[kind])
			closed := e.closed
			e.mu.Unlock()
			if closed || n >= e.opt.Prestart {
				break
			}
			if err := e.startGeneric(kind, prog); err != nil {
				e.logger.Warn("could not pre-start a generic instance", "runtime", rt, "err", err)
				break
			}
		}
	}
}

func (e *Executor) startGeneric(kind runtime.Kind, prog runtime.Program) error {
	if !e.reserve(genericMB) {
		return errNoBudget
	}
	dir, err := os.MkdirTemp(filepath.Join(e.opt.RunDir, "instances"), "g-")
	if err == nil {
		err = os.Chmod(dir, 0o755)
	}
	if err != nil {
		e.unreserve(genericMB)
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	in, err := e.startInstance(ctx, kind, instanceSpec{codeDir: dir, memMB: genericMB, cpu: 300, tmpMB: 512, prog: prog})
	if err != nil {
		os.RemoveAll(dir)
		e.unreserve(genericMB)
		return err
	}
	in.codeDir = dir
	in.st = idle
	e.mu.Lock()
	in.reservedMB = genericMB
	if e.closed {
		e.mu.Unlock()
		in.stop(e, stopShutdown)
		return nil
	}
	e.generic[kind] = append(e.generic[kind], in)
	e.mu.Unlock()
	return nil
}
