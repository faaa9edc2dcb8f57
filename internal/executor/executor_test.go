package executor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openfgs/openfgs/internal/codestore/fs"
	"github.com/openfgs/openfgs/internal/fgs"
	"github.com/openfgs/openfgs/internal/runtime"
	"github.com/openfgs/openfgs/internal/sandbox"
)

// fakeBox is a sandbox that runs nothing.
type fakeBox struct {
	done     chan struct{}
	once     sync.Once
	oom      bool
	memLimit atomic.Int64
	shares   atomic.Int64
	memReads atomic.Int64
	spec     sandbox.Spec
	dropped  atomic.Bool // DropOutbound was called
}

func newFakeBox() *fakeBox { return &fakeBox{done: make(chan struct{})} }

func (b *fakeBox) Done() <-chan struct{} { return b.done }
func (b *fakeBox) Wait() sandbox.Exit    { <-b.done; return sandbox.Exit{OOMKilled: b.oom, Signal: 9} }
func (b *fakeBox) Stop(ctx context.Context, grace time.Duration) sandbox.Exit {
	b.exit()
	return b.Wait()
}
func (b *fakeBox) exit() { b.once.Do(func() { close(b.done) }) }
func (b *fakeBox) MemoryUsage() (int64, error) {
	b.memReads.Add(1)
	return 10 << 20, nil
}
func (b *fakeBox) SetMemoryLimit(n int64) error { b.memLimit.Store(n); return nil }
func (b *fakeBox) SetCPUShares(n int64) error   { b.shares.Store(n); return nil }
func (b *fakeBox) Pid() int                     { return 1 }
func (b *fakeBox) DropOutbound()                { b.dropped.Store(true) }

// fakeKind is a runtime whose instances answer with a handler function.
type fakeKind struct {
	handler func(ctx context.Context, inv *runtime.Invocation) (runtime.Result, error)
	generic bool
	loads   atomic.Int64
	loadErr error
	// availErr is what Available answers.
	availErr error
	mu       sync.Mutex
	conns    []*fakeConn
}

func (k *fakeKind) Available(string) error { return k.availErr }
func (k *fakeKind) Program(fn *runtime.Function) (runtime.Program, error) {
	if fn == nil && !k.generic {
		return runtime.Program{}, errors.New("no generic instances")
	}
	return runtime.Program{Path: "/bin/fake"}, nil
}
func (k *fakeKind) Attach(ctx context.Context, p runtime.Process, fn *runtime.Function) (runtime.Conn, error) {
	c := &fakeConn{k: k}
	k.mu.Lock()
	k.conns = append(k.conns, c)
	k.mu.Unlock()
	return c, nil
}

type fakeConn struct {
	k      *fakeKind
	closed atomic.Bool
}

func (c *fakeConn) Load(ctx context.Context, fn *runtime.Function) error {
	c.k.loads.Add(1)
	return c.k.loadErr
}
func (c *fakeConn) Invoke(ctx context.Context, inv *runtime.Invocation) (runtime.Result, error) {
	return c.k.handler(ctx, inv)
}
func (c *fakeConn) Close() error { c.closed.Store(true); return nil }

type harness struct {
	e     *Executor
	kind  *fakeKind
	boxes []*fakeBox
	mu    sync.Mutex
	f     *fgs.Function
}

func newHarness(t *testing.T, opt Options, handler func(ctx context.Context, inv *runtime.Invocation) (runtime.Result, error)) *harness {
	t.Helper()
	h := &harness{kind: &fakeKind{handler: handler, generic: opt.Prestart > 0}}
	code, err := fs.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	digest, _, err := code.Put(context.Background(), stringsReader("def handler(e, c): return e\n"), 0)
	if err != nil {
		t.Fatal(err)
	}
	opt.RunDir = t.TempDir()
	opt.Code = code
	opt.Kinds = map[string]runtime.Kind{"Python3.9": h.kind}
	if opt.Prestart == 0 {
		opt.Prestart = -1
	}
	if opt.MemoryBudgetMB == 0 {
		opt.MemoryBudgetMB = 1 << 20
	}
	opt.StartInstance = func(ctx context.Context, spec sandbox.Spec) (Box, error) {
		b := newFakeBox()
		b.spec = spec
		h.mu.Lock()
		h.boxes = append(h.boxes, b)
		h.mu.Unlock()
		// Close the child's ends the way a real process would hold them.
		return b, nil
	}
	h.e, err = New(opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.e.Close(context.Background()) })
	h.f = &fgs.Function{Project: "p", Package: "default", Name: "f", Version: "latest", Digest: digest,
		CodeType: "inline", CodeFilename: "index.py", LastModified: time.Unix(1, 0), Revision: 1,
		Config: fgs.Config{Runtime: "Python3.9", Handler: "index.handler", Timeout: 3, MemorySize: 128,
			StrategyConfig: fgs.StrategyConfig{Concurrency: 400, ConcurrentNum: 1}}}
	return h
}

type sr struct {
	s string
	i int
}

func stringsReader(s string) io.Reader { return &sr{s: s} }
func (r *sr) Read(p []byte) (int, error) {
	if r.i >= len(r.s) {
		return 0, io.EOF
	}
	n := copy(p, r.s[r.i:])
	r.i += n
	return n, nil
}

func (h *harness) invoke(t *testing.T, id string) (*fgs.InvocationResult, error) {
	return h.e.Invoke(context.Background(), &fgs.Invocation{Function: h.f, RequestID: id, Event: []byte(`{}`)})
}

func echo(ctx context.Context, inv *runtime.Invocation) (runtime.Result, error) {
	return runtime.Result{Body: []byte(`"ok"`)}, nil
}

func TestExecutor_WarmReuse(t *testing.T) {
	h := newHarness(t, Options{}, echo)
	r1, err := h.invoke(t, "1")
	if err != nil || !r1.Cold || string(r1.Body) != `"ok"` {
		t.Fatalf("first Invoke = %+v, %v; want a cold success", r1, err)
	}
	r2, err := h.invoke(t, "2")
	if err != nil || r2.Cold || r2.InstanceID != r1.InstanceID {
		t.Fatalf("second Invoke = %+v, %v; want warm on %s", r2, err, r1.InstanceID)
	}
	if got := h.e.Instances(h.f.Key(), "latest"); got["idle"] != 1 || len(got) != 1 {
		t.Fatalf("Instances = %v, want one idle", got)
	}
}

// A pre-started generic instance takes the function's memory limit and CPU
// weight when it takes the function.
func TestExecutor_GenericTakesLimits(t *testing.T) {
	h := newHarness(t, Options{Prestart: 1}, echo)
	h.f.MemorySize, h.f.CPU = 512, fgs.CPUFor(512)
	// The generic instance starts in the background.
	for deadline := time.Now().Add(5 * time.Second); ; {
		h.mu.Lock()
		n := len(h.boxes)
		h.mu.Unlock()
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no generic instance started")
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond)
	if _, err := h.invoke(t, "1"); err != nil {
		t.Fatal(err)
	}
	h.mu.Lock()
	b := h.boxes[0]
	h.mu.Unlock()
	if got, want := b.memLimit.Load(), int64(512<<20); got != want {
		t.Errorf("memory limit %d, want %d", got, want)
	}
	if got, want := b.shares.Load(), sandbox.SharesFromMillicores(int64(fgs.CPUFor(512))); got != want {
		t.Errorf("CPU shares %d, want %d", got, want)
	}
}

// Every instance has its own network namespace; the way out goes to
// functions with public network access when the node has it, and a
// pre-started instance (which has it) loses it when it takes a function
// without.
func TestExecutor_NetworkModes(t *testing.T) {
	off := true
	for _, tc := range []struct {
		name     string
		outbound bool
		prestart int
		closed   bool // disable_public_network
		want     sandbox.NetworkMode
		dropped  bool
	}{
		{"public", true, -1, false, sandbox.NetworkOutbound, false},
		{"closed", true, -1, true, sandbox.NetworkNone, false},
		{"public, no outbound on the node", false, -1, false, sandbox.NetworkNone, false},
		{"public, pre-started", true, 1, false, sandbox.NetworkOutbound, false},
		{"closed, pre-started", true, 1, true, sandbox.NetworkOutbound, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, Options{Outbound: tc.outbound, Prestart: tc.prestart}, echo)
			if tc.closed {
				h.f.NetworkController = &fgs.NetworkControl{DisablePublicNetwork: &off}
			}
			if tc.prestart > 0 {
				for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
					h.mu.Lock()
					n := len(h.boxes)
					h.mu.Unlock()
					if n > 0 {
						break
					}
					if time.Now().After(deadline) {
						t.Fatal("no generic instance started")
					}
				}
			}
			if _, err := h.invoke(t, "1"); err != nil {
				t.Fatal(err)
			}
			h.mu.Lock()
			b := h.boxes[0]
			h.mu.Unlock()
			if b.spec.Network != tc.want || b.dropped.Load() != tc.dropped {
				t.Errorf("instance network %v, dropped %v; want %v, %v", b.spec.Network, b.dropped.Load(), tc.want, tc.dropped)
			}
		})
	}
}

// countingWork counts what Options.Work is told.
type countingWork struct{ now, max, total atomic.Int32 }

func (w *countingWork) Begin() {
	n := w.now.Add(1)
	w.total.Add(1)
	if n > w.max.Load() {
		w.max.Store(n)
	}
}
func (w *countingWork) End() { w.now.Add(-1) }

// Starting and stopping instances is reported as work.
func TestExecutor_Work(t *testing.T) {
	var w countingWork
	h := newHarness(t, Options{Work: &w, IdleTimeout: 100 * time.Millisecond}, echo)
	if _, err := h.invoke(t, "1"); err != nil {
		t.Fatal(err)
	}
	if w.total.Load() != 1 || w.now.Load() != 0 {
		t.Fatalf("after a cold start: %d begun, %d running; want 1, 0", w.total.Load(), w.now.Load())
	}
	for deadline := time.Now().Add(5 * time.Second); w.total.Load() < 2; {
		if time.Now().After(deadline) {
			t.Fatal("the idle instance's stop was not reported")
		}
		time.Sleep(10 * time.Millisecond)
	}
	for deadline := time.Now().Add(5 * time.Second); w.now.Load() != 0; {
		if time.Now().After(deadline) {
			t.Fatal("the stop never ended")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Short invocations in a row share a memory reading; a longer one reads
// again.
func TestExecutor_MemoryReadings(t *testing.T) {
	var sleep atomic.Int64
	h := newHarness(t, Options{}, func(ctx context.Context, inv *runtime.Invocation) (runtime.Result, error) {
		time.Sleep(time.Duration(sleep.Load()))
		return runtime.Result{Body: []byte(`1`)}, nil
	})
	for i := range 5 {
		r, err := h.invoke(t, fmt.Sprint(i))
		if err != nil || r.MemoryMB != 10 {
			t.Fatalf("Invoke = %+v, %v; want 10 MB used", r, err)
		}
	}
	h.mu.Lock()
	b := h.boxes[0]
	h.mu.Unlock()
	if n := b.memReads.Load(); n >= 5 {
		t.Errorf("%d cgroup reads for 5 quick invocations, want fewer", n)
	}
	before := b.memReads.Load()
	sleep.Store(int64(2 * memFresh))
	if _, err := h.invoke(t, "slow"); err != nil {
		t.Fatal(err)
	}
	if b.memReads.Load() != before+1 {
		t.Errorf("a %v invocation did not read memory use afresh", 2*memFresh)
	}
}

// Parallel calls scale out up to the maximum; past it they wait and then
// are throttled.
func TestExecutor_ScaleOutAndThrottle(t *testing.T) {
	release := make(chan struct{})
	h := newHarness(t, Options{QueueTimeout: 100 * time.Millisecond}, func(ctx context.Context, inv *runtime.Invocation) (runtime.Result, error) {
		<-release
		return runtime.Result{Body: []byte(`1`)}, nil
	})
	h.f.StrategyConfig.Concurrency = 3
	var wg sync.WaitGroup
	ids := make(chan string, 3)
	for i := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := h.invoke(t, fmt.Sprint(i))
			if err != nil {
				t.Errorf("Invoke = %v", err)
				return
			}
			ids <- r.InstanceID
		}()
	}
	waitFor(t, func() bool { return h.e.Instances(h.f.Key(), "latest")["busy"] == 3 })
	_, err := h.invoke(t, "4")
	if fgs.ReasonOf(err) != fgs.Throttled {
		t.Fatalf("Invoke past the maximum = %v, want Throttled", err)
	}
	if h.e.Stats().Throttled.Load() != 1 {
		t.Fatalf("Throttled = %d, want 1", h.e.Stats().Throttled.Load())
	}
	close(release)
	wg.Wait()
	close(ids)
	seen := map[string]bool{}
	for id := range ids {
		seen[id] = true
	}
	if len(seen) != 3 {
		t.Fatalf("instances used = %v, want 3 distinct", seen)
	}
}

// A waiting invocation gets a slot as soon as one frees.
func TestExecutor_QueueThenRun(t *testing.T) {
	release := make(chan struct{})
	var calls atomic.Int64
	h := newHarness(t, Options{QueueTimeout: 5 * time.Second}, func(ctx context.Context, inv *runtime.Invocation) (runtime.Result, error) {
		if calls.Add(1) == 1 {
			<-release
		}
		return runtime.Result{Body: []byte(`1`)}, nil
	})
	h.f.StrategyConfig.Concurrency = 1
	go h.invoke(t, "1")
	waitFor(t, func() bool { return h.e.Instances(h.f.Key(), "latest")["busy"] == 1 })
	done := make(chan error, 1)
	go func() { _, err := h.invoke(t, "2"); done <- err }()
	time.Sleep(50 * time.Millisecond)
	close(release)
	if err := <-done; err != nil {
		t.Fatalf("queued Invoke = %v", err)
	}
}

func TestExecutor_Disabled(t *testing.T) {
	h := newHarness(t, Options{}, echo)
	h.f.StrategyConfig.Concurrency = 0
	if _, err := h.invoke(t, "1"); !fgs.Is(err, fgs.Forbidden) {
		t.Fatalf("Invoke(disabled) = %v, want Forbidden", err)
	}
}

// A crashed instance is replaced; the failed call is the function's error.
func TestExecutor_CrashThenRecover(t *testing.T) {
	var calls atomic.Int64
	var h *harness
	h = newHarness(t, Options{}, func(ctx context.Context, inv *runtime.Invocation) (runtime.Result, error) {
		if calls.Add(1) == 1 {
			h.mu.Lock()
			b := h.boxes[len(h.boxes)-1]
			h.mu.Unlock()
			b.oom = true
			b.exit()
			return runtime.Result{}, errors.New("pipe closed")
		}
		return runtime.Result{Body: []byte(`"fine"`)}, nil
	})
	r, err := h.invoke(t, "1")
	if err != nil || r.Error == nil || r.Error.Code != runtime.ErrOOM {
		t.Fatalf("Invoke(crash) = %+v, %v; want an OOM function error", r, err)
	}
	r2, err := h.invoke(t, "2")
	if err != nil || r2.Error != nil || !r2.Cold || r2.InstanceID == r.InstanceID {
		t.Fatalf("Invoke after crash = %+v, %v; want a success on a new instance", r2, err)
	}
}

func TestExecutor_Timeout(t *testing.T) {
	h := newHarness(t, Options{}, func(ctx context.Context, inv *runtime.Invocation) (runtime.Result, error) {
		<-ctx.Done()
		return runtime.Result{}, ctx.Err()
	})
	h.f.Timeout = 0 // a 0 s timeout makes the deadline immediate
	r, err := h.invoke(t, "1")
	if err != nil || r.Error == nil || r.Error.Code != runtime.ErrTimeout {
		t.Fatalf("Invoke = %+v, %v; want a timeout function error", r, err)
	}
	if h.e.Stats().Timeouts.Load() != 1 {
		t.Fatalf("Timeouts = %d", h.e.Stats().Timeouts.Load())
	}
}

// An initializer failure is retried three times, then reported as the
// function's error.
func TestExecutor_InitFailure(t *testing.T) {
	h := newHarness(t, Options{}, echo)
	h.kind.loadErr = &runtime.FuncError{Code: runtime.ErrInit, Type: "Exception", Message: "function initialization exception: boom"}
	r, err := h.invoke(t, "1")
	if err != nil || r.Error == nil || r.Error.Code != runtime.ErrInit {
		t.Fatalf("Invoke = %+v, %v; want an init function error", r, err)
	}
	if n := h.kind.loads.Load(); n != 3 {
		t.Fatalf("loads = %d, want 3 attempts", n)
	}
	if n := len(h.e.Instances(h.f.Key(), "latest")); n != 0 {
		t.Fatalf("instances left after failed starts: %d", n)
	}
}

// New code or configuration retires the old instances.
func TestExecutor_NewRevisionRetiresOld(t *testing.T) {
	h := newHarness(t, Options{}, echo)
	r1, _ := h.invoke(t, "1")
	h.f.Revision = 2
	r2, err := h.invoke(t, "2")
	if err != nil || !r2.Cold || r2.InstanceID == r1.InstanceID {
		t.Fatalf("Invoke after update = %+v, %v; want a new instance", r2, err)
	}
	waitFor(t, func() bool {
		h.mu.Lock()
		defer h.mu.Unlock()
		select {
		case <-h.boxes[0].done:
			return true
		default:
			return false
		}
	})
}

func TestExecutor_IdleReaping(t *testing.T) {
	h := newHarness(t, Options{IdleTimeout: 50 * time.Millisecond}, echo)
	r1, _ := h.invoke(t, "1")
	waitFor(t, func() bool { return len(h.e.Instances(h.f.Key(), "latest")) == 0 })
	r2, _ := h.invoke(t, "2")
	if !r2.Cold || r2.InstanceID == r1.InstanceID {
		t.Fatalf("Invoke after idle = %+v, want cold on a new instance", r2)
	}
}

// When the node's memory budget is used up, idle instances of other
// functions make room; busy ones do not, and the call is throttled.
func TestExecutor_MemoryBudget(t *testing.T) {
	release := make(chan struct{})
	h := newHarness(t, Options{MemoryBudgetMB: 256, QueueTimeout: 50 * time.Millisecond}, func(ctx context.Context, inv *runtime.Invocation) (runtime.Result, error) {
		if string(inv.Event) == `"block"` {
			<-release
		}
		return runtime.Result{Body: []byte(`1`)}, nil
	})
	h.f.MemorySize = 256
	if _, err := h.invoke(t, "1"); err != nil {
		t.Fatal(err)
	}
	g := *h.f
	g.Name = "g"
	invokeG := func(event string) (*fgs.InvocationResult, error) {
		return h.e.Invoke(context.Background(), &fgs.Invocation{Function: &g, RequestID: "g", Event: []byte(event)})
	}
	// g needs 256 MB: f's idle instance is evicted for it.
	if r, err := invokeG(`{}`); err != nil || !r.Cold {
		t.Fatalf("Invoke(g) = %+v, %v; want a cold start", r, err)
	}
	if n := len(h.e.Instances(h.f.Key(), "latest")); n != 0 {
		t.Fatalf("f still has %d instances; want it evicted", n)
	}
	// g busy: f cannot get memory and is throttled.
	done := make(chan error, 1)
	go func() { _, err := invokeG(`"block"`); done <- err }()
	waitFor(t, func() bool { return h.e.Instances(g.Key(), "latest")["busy"] == 1 })
	if _, err := h.invoke(t, "2"); fgs.ReasonOf(err) != fgs.Throttled {
		t.Fatalf("Invoke(f) with the budget used = %v, want Throttled", err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// With every host uid range in use, a cold start waits like a full node
// and is then throttled, and the budget it reserved goes back.
func TestExecutor_NoHostIDs(t *testing.T) {
	h := newHarness(t, Options{MemoryBudgetMB: 256, QueueTimeout: 50 * time.Millisecond}, echo)
	starts := 0
	h.e.opt.StartInstance = func(ctx context.Context, spec sandbox.Spec) (Box, error) {
		starts++
		return nil, &sandbox.Error{Op: "sandbox.Start", Fault: sandbox.FaultPlatform, Err: fmt.Errorf("%w: all 1 ranges are in use", sandbox.ErrNoIDs)}
	}
	_, err := h.invoke(t, "1")
	if fgs.ReasonOf(err) != fgs.Throttled {
		t.Fatalf("Invoke with no free host uid range = %v, want Throttled", err)
	}
	t.Logf("Invoke = %v after %d start attempts", err, starts)
	h.e.mu.Lock()
	used := h.e.usedMB
	h.e.mu.Unlock()
	if used != 0 {
		t.Errorf("memory budget used after failed starts = %d MB, want 0", used)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Unpacked code that no instance uses and nothing asked for lately is
// removed; code in use stays.
func TestCodeCache_Sweep(t *testing.T) {
	h := newHarness(t, Options{}, echo)
	if _, err := h.invoke(t, "1"); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(h.e.opt.RunDir, "code", h.f.Digest)
	h.e.code.sweep(time.Now().Add(time.Hour))
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("code of a running instance was swept: %v", err)
	}
	h.e.Forget(h.f.Key())
	waitFor(t, func() bool {
		h.e.code.sweep(time.Now().Add(time.Hour))
		_, err := os.Stat(dir)
		return errors.Is(err, os.ErrNotExist)
	})
}

// What an instance writes to stdout just before it answers belongs to
// that invocation's log, although it travels on another pipe.
func TestInstance_DrainOutput(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	in := &instance{proc: &process{output: r}, stdoutIsLog: true}
	go in.pumpOutput()
	for i := range 200 {
		log := &boundedLog{max: 1 << 20}
		in.setOutput(log)
		line := fmt.Sprintf("line %d\n", i)
		w.Write([]byte(line))
		in.drainOutput()
		in.setOutput(nil)
		if got := string(log.bytes()); got != line {
			t.Fatalf("round %d: log %q, want %q", i, got, line)
		}
	}
	r.Close()
}

func TestAppendLogTime(t *testing.T) {
	for _, tm := range []time.Time{
		time.Date(2026, 11, 28, 13, 58, 8, 999999999, time.UTC),
		time.Date(2026, 11, 28, 13, 58, 8, 0, time.FixedZone("X", 3600)),
		time.Date(2026, 11, 28, 13, 58, 9, 1, time.UTC),
		time.Date(2026, 11, 28, 13, 58, 9, 5, time.UTC),
		time.Date(12026, 1, 1, 0, 0, 0, 0, time.UTC),
	} {
		if got, want := string(appendLogTime(nil, tm)), tm.UTC().Format(logTime); got != want {
			t.Errorf("appendLogTime(%v) = %q, want %q", tm, got, want)
		}
	}
}
