// Package cache keeps recently read credentials, projects and functions
// in memory in front of any fgs.Store, so the API's hot path (one
// credential and one function per request) does not query the database
// every time.
//
// Writes made through the cache invalidate what they touch at once.
// Writes made by other processes on the same store (an `fgs admin`
// command, another node) are seen once an entry's TTL has passed.
package cache

import (
	"context"
	"sync"
	"time"

	"github.com/openfgs/openfgs/internal/fgs"
)

// DefaultTTL bounds how long a change made by another process may go
// unseen.
const DefaultTTL = time.Second

// Store is a caching fgs.Store.
type Store struct {
	fgs.Store
	ttl time.Duration
	now func() time.Time

	mu       sync.Mutex
	gen      uint64 // bumped by every write; fills from older generations are dropped
	creds    map[string]entry[fgs.Credential]
	projects map[string]entry[fgs.Project]
	funcs    map[fgs.Key]entry[*fgs.Function]
}

type entry[T any] struct {
	v       T
	expires time.Time
}

var _ fgs.Store = (*Store)(nil)

// New returns a cache in front of st. ttl <= 0 means DefaultTTL.
func New(st fgs.Store, ttl time.Duration) *Store {
	if ttl <= 0 {
		ttl = DefaultTTL
	}
	return &Store{Store: st, ttl: ttl, now: time.Now,
		creds:    map[string]entry[fgs.Credential]{},
		projects: map[string]entry[fgs.Project]{},
		funcs:    map[fgs.Key]entry[*fgs.Function]{},
	}
}

// maxEntries bounds each map; past it the map is cleared (cheap, and
// rare: it only happens with more active keys than this within a TTL).
const maxEntries = 10000

// get returns a fresh cached value and the generation to fill with.
func get[K comparable, T any](s *Store, m map[K]entry[T], k K) (T, bool, uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := m[k]
	if ok && s.now().Before(e.expires) {
		return e.v, true, s.gen
	}
	var zero T
	return zero, false, s.gen
}

// put caches v unless a write happened since gen was read.
func put[K comparable, T any](s *Store, m map[K]entry[T], k K, v T, gen uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if gen != s.gen {
		return
	}
	if len(m) >= maxEntries {
		clear(m)
	}
	m[k] = entry[T]{v: v, expires: s.now().Add(s.ttl)}
}

// invalidate drops everything after a write. Writes are rare next to
// reads, and dropping all is simpler to get right than tracking what a
// cascade touched.
func (s *Store) invalidate() {
	s.mu.Lock()
	s.gen++
	// Cleared, never replaced: get and put are handed the maps before
	// they take the lock.
	clear(s.creds)
	clear(s.projects)
	clear(s.funcs)
	s.mu.Unlock()
}

// Credential implements fgs.TenantStore.
func (s *Store) Credential(ctx context.Context, ak string) (fgs.Credential, error) {
	c, ok, gen := get(s, s.creds, ak)
	if ok {
		return c, nil
	}
	c, err := s.Store.Credential(ctx, ak)
	if err == nil {
		put(s, s.creds, ak, c, gen)
	}
	return c, err
}

// Project implements fgs.TenantStore.
func (s *Store) Project(ctx context.Context, id string) (fgs.Project, error) {
	p, ok, gen := get(s, s.projects, id)
	if ok {
		return p, nil
	}
	p, err := s.Store.Project(ctx, id)
	if err == nil {
		put(s, s.projects, id, p, gen)
	}
	return p, err
}

// Function implements fgs.FunctionStore. The caller gets its own copy.
func (s *Store) Function(ctx context.Context, k fgs.Key) (*fgs.Function, error) {
	f, ok, gen := get(s, s.funcs, k)
	if ok {
		return f.Clone(), nil
	}
	f, err := s.Store.Function(ctx, k)
	if err == nil {
		put(s, s.funcs, k, f.Clone(), gen)
	}
	return f, err
}

// FunctionShared is Function without the copy, for callers that only
// read: the function returned is shared and must not be changed.
func (s *Store) FunctionShared(ctx context.Context, k fgs.Key) (*fgs.Function, error) {
	f, ok, gen := get(s, s.funcs, k)
	if ok {
		return f, nil
	}
	f, err := s.Store.Function(ctx, k)
	if err != nil {
		return nil, err
	}
	put(s, s.funcs, k, f, gen)
	return f, nil
}

// The writes: pass through, then invalidate.

func (s *Store) PutDomain(ctx context.Context, d fgs.Domain) error {
	defer s.invalidate()
	return s.Store.PutDomain(ctx, d)
}

func (s *Store) PutProject(ctx context.Context, p fgs.Project) error {
	defer s.invalidate()
	return s.Store.PutProject(ctx, p)
}

func (s *Store) DeleteProject(ctx context.Context, id string) error {
	defer s.invalidate()
	return s.Store.DeleteProject(ctx, id)
}

func (s *Store) PutUser(ctx context.Context, u fgs.User) error {
	defer s.invalidate()
	return s.Store.PutUser(ctx, u)
}

func (s *Store) PutCredential(ctx context.Context, c fgs.Credential) error {
	defer s.invalidate()
	return s.Store.PutCredential(ctx, c)
}

func (s *Store) DeleteCredential(ctx context.Context, ak string) error {
	defer s.invalidate()
	return s.Store.DeleteCredential(ctx, ak)
}

func (s *Store) CreateFunction(ctx context.Context, f *fgs.Function, lim fgs.Limits) error {
	defer s.invalidate()
	return s.Store.CreateFunction(ctx, f, lim)
}

func (s *Store) UpdateFunction(ctx context.Context, f *fgs.Function, lim fgs.Limits) error {
	defer s.invalidate()
	return s.Store.UpdateFunction(ctx, f, lim)
}

func (s *Store) DeleteFunction(ctx context.Context, k fgs.Key) error {
	defer s.invalidate()
	return s.Store.DeleteFunction(ctx, k)
}
