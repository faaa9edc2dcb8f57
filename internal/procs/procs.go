// Package procs decides how many cores the server's own Go code runs on
// (GOMAXPROCS) from how busy it is: one while it serves at most one request
// at a time, all of its share when requests overlap.
//
// Why: with two or more Ps, every hand-off between goroutines wakes a
// spare thread to look for work, and on a small machine that thread takes
// the core the function instance or the client was about to run on. On a
// 2-core VM a warm call at one client was 10-30% faster with one P. Under
// load the other way round holds: one P caps the server at one core, and
// Python no-op throughput at 32 clients fell from 10-14k/s to 8-11k/s. So
// the Governor switches between the two.
package procs

import (
	"context"
	"runtime"
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
// request; Run makes the decisions.
type Governor struct {
	Max int // GOMAXPROCS under load

	inflight atomic.Int32
	peak     atomic.Int32 // the most requests in flight since the last tick
	procs    int          // what GOMAXPROCS is now; Run's
	quiet    int          // ticks in a row without overlap; Run's
}

// Begin notes that a request started.
func (g *Governor) Begin() {
	n := g.inflight.Add(1)
	for {
		p := g.peak.Load()
		if n <= p || g.peak.CompareAndSwap(p, n) {
			return
		}
	}
}

// End notes that a request ended.
func (g *Governor) End() { g.inflight.Add(-1) }

// Run adjusts GOMAXPROCS every Tick until ctx is done, and then leaves it
// at Max.
func (g *Governor) Run(ctx context.Context) {
	t := time.NewTicker(Tick)
	defer t.Stop()
	g.procs = runtime.GOMAXPROCS(0)
	defer g.set(g.Max)
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

func (g *Governor) set(n int) {
	n = max(n, 1)
	if n != g.procs {
		runtime.GOMAXPROCS(n) // stops the world for a moment
		g.procs = n
	}
}
