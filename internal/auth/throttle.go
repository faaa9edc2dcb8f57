package auth

import (
	"net/netip"
	"sync"
	"time"
)

// Throttle limits password guessing on the token endpoint with two sets
// of token buckets, each refilled evenly over a minute:
//
//   - one per source address, charged for every request (an IPv6
//     source is its /64, which one client usually holds whole);
//   - one per user (whatever name was asked for, whether or not it
//     exists, so that the answer does not tell), charged for every
//     password check and refunded when the password was right, so that
//     only failures count.
//
// Its zero value is not usable; make one with [NewThrottle]. It is safe
// for concurrent use. Buckets that have filled up again are forgotten, so
// memory follows the recent traffic; when more than maxThrottleKeys keys
// are recent, new keys are refused until old ones fill up.
type Throttle struct {
	mu      sync.Mutex
	sources bucketSet
	users   bucketSet
}

// Defaults of NewThrottle's limits.
const (
	DefaultTokenSourceLimit = 30 // token requests per source address per minute
	DefaultTokenUserLimit   = 5  // failed password checks per user per minute
)

// maxThrottleKeys bounds each bucket set (a bucket is ~100 bytes).
const maxThrottleKeys = 1 << 17

// NewThrottle returns a Throttle that lets each source make perSource
// requests a minute and each user fail perUser password checks a minute,
// both as bursts. A limit below 1 is taken as 1.
func NewThrottle(perSource, perUser int) *Throttle {
	return &Throttle{sources: newBucketSet(perSource), users: newBucketSet(perUser)}
}

// Source charges one request from addr, a "host:port" as in
// http.Request.RemoteAddr. It returns zero when the request may go
// ahead, else how long until it could.
func (t *Throttle) Source(now time.Time, addr string) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.sources.take(now, sourceKey(addr))
}

// User charges one password check for user (any string naming the user
// and its domain). When it returns a zero wait the check may go ahead and
// the caller calls refund if the password was right; otherwise refund is
// nil and the wait says how long until a check could go ahead.
func (t *Throttle) User(now time.Time, user string) (refund func(), wait time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if wait := t.users.take(now, user); wait > 0 {
		return nil, wait
	}
	return func() {
		t.mu.Lock()
		defer t.mu.Unlock()
		t.users.give(user)
	}, 0
}

// sourceKey is the address part of addr; for IPv6 its /64 prefix.
func sourceKey(addr string) string {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return addr // not an IP (a unix socket, a test): the string itself
	}
	ip := ap.Addr().Unmap()
	if ip.Is6() {
		p, _ := ip.WithZone("").Prefix(64)
		return p.String()
	}
	return ip.String()
}

// bucket is a token bucket: tokens as of last.
type bucket struct {
	tokens float64
	last   time.Time
}

// bucketSet is the buckets of one limit, by key.
type bucketSet struct {
	burst   float64       // capacity, and refill per minute
	every   time.Duration // time to refill one token
	m       map[string]*bucket
	sweepAt int // sweep full buckets when the map reaches this size
}

func newBucketSet(perMinute int) bucketSet {
	if perMinute < 1 {
		perMinute = 1
	}
	return bucketSet{
		burst:   float64(perMinute),
		every:   time.Minute / time.Duration(perMinute),
		m:       make(map[string]*bucket),
		sweepAt: 1024,
	}
}

// level is b's token count at now.
func (s *bucketSet) level(b *bucket, now time.Time) float64 {
	tokens := b.tokens
	if d := now.Sub(b.last); d > 0 {
		tokens += float64(d) / float64(s.every)
	}
	return min(tokens, s.burst)
}

// take removes one token from key's bucket, or says how long until there
// is one.
func (s *bucketSet) take(now time.Time, key string) time.Duration {
	b := s.m[key]
	if b == nil {
		if len(s.m) >= s.sweepAt {
			s.sweep(now)
		}
		if len(s.m) >= maxThrottleKeys {
			return time.Minute
		}
		b = &bucket{tokens: s.burst, last: now}
		s.m[key] = b
	}
	tokens := s.level(b, now)
	if tokens < 1 {
		return time.Duration((1 - tokens) * float64(s.every))
	}
	b.tokens, b.last = tokens-1, now
	return 0
}

// give puts a token back into key's bucket.
func (s *bucketSet) give(key string) {
	if b := s.m[key]; b != nil {
		b.tokens = min(b.tokens+1, s.burst)
	}
}

// sweep forgets full buckets: a new bucket would be the same.
func (s *bucketSet) sweep(now time.Time) {
	for k, b := range s.m {
		if s.level(b, now) >= s.burst {
			delete(s.m, k)
		}
	}
	s.sweepAt = max(1024, 2*len(s.m))
}
