package runtimetest

import (
	goruntime "runtime"
	"testing"
	"time"
)

// WaitFor polls cond every 5 ms until it holds or d has passed, and
// reports whether it held.
func WaitFor(d time.Duration, cond func() bool) bool {
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		if cond() {
			return true
		}
		time.Sleep(5 * time.Millisecond)
	}
	return cond()
}

// CheckGoroutines fails the test, listing every goroutine, unless the
// number of goroutines comes back down to before within 3 s: for checking
// that a Conn's Close (and the end of its process) leaves none behind.
func CheckGoroutines(t testing.TB, before int) {
	t.Helper()
	if !WaitFor(3*time.Second, func() bool { return goruntime.NumGoroutine() <= before }) {
		buf := make([]byte, 1<<20)
		t.Errorf("%d goroutines before, %d after:\n%s", before, goruntime.NumGoroutine(), buf[:goruntime.Stack(buf, true)])
	}
}
