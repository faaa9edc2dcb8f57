package procs

import (
	"runtime"
	"testing"
)

func TestGovernor(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	runtime.GOMAXPROCS(1)
	g := &Governor{Max: 3}
	g.procs.Store(1)

	// One request at a time: stays at one P.
	for range 2 * quietTicks {
		g.Begin()
		g.End()
		g.step()
	}
	if n := runtime.GOMAXPROCS(0); n != 1 {
		t.Fatalf("GOMAXPROCS = %d after requests one at a time, want 1", n)
	}

	// Two overlap: Max at once, and it stays past the next tick.
	g.Begin()
	g.Begin()
	if n := runtime.GOMAXPROCS(0); n != 3 {
		t.Fatalf("GOMAXPROCS = %d with two requests in flight, want 3", n)
	}
	g.End()
	g.End()
	g.step()
	if n := runtime.GOMAXPROCS(0); n != 3 {
		t.Fatalf("GOMAXPROCS = %d after overlapping requests, want 3", n)
	}

	// Back to one only after quietTicks quiet ticks.
	for i := 1; i <= quietTicks; i++ {
		g.step()
		want := 3
		if i == quietTicks {
			want = 1
		}
		if n := runtime.GOMAXPROCS(0); n != want {
			t.Fatalf("GOMAXPROCS = %d after %d quiet ticks, want %d", n, i, want)
		}
	}

	// A request still running at a tick counts for the next window.
	g.Begin()
	g.Begin()
	g.step()
	g.End()
	g.step()
	if n := runtime.GOMAXPROCS(0); n != 3 {
		t.Fatalf("GOMAXPROCS = %d, want 3 while two requests ran into the window", n)
	}
	g.End()
}
