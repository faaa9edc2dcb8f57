package auth

import (
	"fmt"
	"testing"
	"time"
)

func TestThrottle_Source(t *testing.T) {
	th := NewThrottle(3, 100)
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for i := range 3 {
		if w := th.Source(t0, "192.0.2.1:4000"); w != 0 {
			t.Fatalf("request %d from one source: wait %v, want 0 (burst 3)", i+1, w)
		}
	}
	// The port does not matter; the fourth waits for a third of a minute.
	if w := th.Source(t0, "192.0.2.1:4001"); w != 20*time.Second {
		t.Errorf("4th request: wait %v, want 20s", w)
	}
	if w := th.Source(t0, "192.0.2.2:4000"); w != 0 {
		t.Errorf("another source: wait %v, want 0", w)
	}
	// An IPv4-mapped IPv6 address is the IPv4 address.
	if w := th.Source(t0, "[::ffff:192.0.2.1]:4000"); w == 0 {
		t.Errorf("IPv4-mapped form of a throttled source went through")
	}
	// An IPv6 /64 is one source.
	for i := range 3 {
		th.Source(t0, fmt.Sprintf("[2001:db8:1:2::%x]:80", i+1))
	}
	if w := th.Source(t0, "[2001:db8:1:2:ffff::1]:80"); w == 0 {
		t.Errorf("4th request from one IPv6 /64 went through")
	}
	if w := th.Source(t0, "[2001:db8:1:3::1]:80"); w != 0 {
		t.Errorf("another /64: wait %v, want 0", w)
	}
	// Refill: one request every 20 s.
	if w := th.Source(t0.Add(20*time.Second), "192.0.2.1:1"); w != 0 {
		t.Errorf("after 20s: wait %v, want 0", w)
	}
	if w := th.Source(t0.Add(20*time.Second), "192.0.2.1:1"); w == 0 {
		t.Errorf("second request after 20s went through")
	}
}

func TestThrottle_UserCountsFailuresOnly(t *testing.T) {
	th := NewThrottle(100, 2)
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	// Successes are refunded: any number of them.
	for i := range 10 {
		refund, w := th.User(t0, "d/alice")
		if w != 0 {
			t.Fatalf("success %d: wait %v, want 0", i+1, w)
		}
		refund()
	}
	// Two failures, then the user is throttled, right password or not.
	for i := range 2 {
		if _, w := th.User(t0, "d/alice"); w != 0 {
			t.Fatalf("failure %d: wait %v, want 0", i+1, w)
		}
	}
	if refund, w := th.User(t0, "d/alice"); w != 30*time.Second || refund != nil {
		t.Errorf("3rd check: wait %v (refund %v), want 30s and no check", w, refund != nil)
	}
	if _, w := th.User(t0, "d/bob"); w != 0 {
		t.Errorf("another user: wait %v, want 0", w)
	}
	if _, w := th.User(t0.Add(30*time.Second), "d/alice"); w != 0 {
		t.Errorf("after 30s: wait %v, want 0", w)
	}
}

func TestThrottle_ForgetsFullBuckets(t *testing.T) {
	th := NewThrottle(1, 1)
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	// Sweeps run when the set doubles from 1024: after 4096 keys the
	// next new key sweeps.
	for i := range 4096 {
		th.Source(t0, fmt.Sprintf("10.0.%d.%d:1", i/256, i%256))
	}
	// A minute later every bucket is full again, as good as new.
	th.Source(t0.Add(time.Minute), "10.1.0.0:1")
	th.mu.Lock()
	n := len(th.sources.m)
	th.mu.Unlock()
	if n != 1 {
		t.Errorf("%d source buckets after all refilled, want 1", n)
	}
}
