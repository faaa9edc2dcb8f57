// Package procs decides how many cores the server's own Go code runs on
// (GOMAXPROCS) from how busy it is: one while it serves at most one request
// at a time, all of its share when requests overlap.
//
// Why: with two or more Ps, every hand-off between goroutines wakes a
// spare thread to look for work, and on a small machine that thread takes
// the core the function instance or the client was about to run on. On a
// 2-core VM a warm call at one client was 10-30% faster with one P. Under
// load the other way round holds: one P caps the server at one core, and
// Python no-op throughput at 32 clients fell from 10-14k/s to 8-11k/s; and
// a cold start, whose instance start or refill ran behind the request on
// the one P, took 6-13 ms instead of 4-5. So the Governor switches between
// the two.
package procs

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Tick is how often a Governor looks at the load.
const Tick = 20 * time.Millisecond

// quietTicks is how many ticks in a row with no overlapping requests it
// takes to go back to one P: a burst that pauses for a moment keeps its
// cores.
const quietTicks = 5

// Governor sets GOMAXPROCS to 1 or to Max. Begin and End bracket each
// request, and each piece of background work that should not wait behind
// one (starting or stopping an instance): a single P runs one goroutine
// for up to 10 ms before another gets a turn. The switch to Max happens
// at once, in the Begin that makes two; the way back waits for Run.
type Governor struct {
	Max int // GOMAXPROCS under load

	inflight atomic.Int32
	peak     atomic.Int32 // the most requests in flight since the last tick
	procs    atomic.Int32 // what GOMAXPROCS is now

	mu    sync.Mutex // serializes changes
	quiet int        // ticks in a row without overlap; Run's
}

// Begin notes that a request (or background work) started.
func (g *Governor) Begin() {
	n := g.inflight.Add(1)
	for {
		p := g.peak.Load()
		if n <= p || g.peak.CompareAndSwap(p, n) {
			break
		}
	}
	if n >= 2 && g.procs.Load() == 1 {
		g.mu.Lock()
		g.quiet = 0
		g.set(g.Max)
		g.mu.Unlock()
	}
}

// End notes that a request ended.
func (g *Governor) End() { g.inflight.Add(-1) }

// Run adjusts GOMAXPROCS every Tick until ctx is done, and then leaves it
// at Max.
func (g *Governor) Run(ctx context.Context) {
	t := time.NewTicker(Tick)
	defer t.Stop()
	g.procs.Store(int32(runtime.GOMAXPROCS(0)))
	defer func() {
		g.mu.Lock()
		g.set(g.Max)
		g.mu.Unlock()
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			g.step()
		}
	}
}

// step is one decision: Max if requests overlapped since the last tick,
// 1 after quietTicks ticks in a row without.
func (g *Governor) step() {
	g.mu.Lock()
	defer g.mu.Unlock()
	peak := g.peak.Swap(g.inflight.Load())
	if peak >= 2 {
		g.quiet = 0
		g.set(g.Max)
		return
	}
	if g.quiet++; g.quiet >= quietTicks {
		g.set(1)
	}
}

// set sets GOMAXPROCS; g.mu is held.
func (g *Governor) set(n int) {
	n = max(n, 1)
	if int32(n) != g.procs.Load() {
		runtime.GOMAXPROCS(n) // stops the world for a moment
		g.procs.Store(int32(n))
	}
}
