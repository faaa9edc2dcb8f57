// Package logs keeps the log of every invocation, per function, with
// bounded retention, so log queries, log triggers and metrics read them
// from one place.
//
// Each function has a file of JSON lines under
// <dir>/<project>/<package>/<name>.log; when it grows past half the
// per-function budget it is rotated to .log.1 (the previous .1 is
// dropped), so a function never keeps more than its budget. Records are
// written by one goroutine, off the invocation path; Close flushes them.
// Records are not fsynced: a machine crash may lose the last ones.
package logs

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/openfgs/openfgs/internal/fgs"
)

// Record is one invocation's log.
type Record struct {
	RequestID string        `json:"request_id"`
	Project   string        `json:"project"`
	Package   string        `json:"package"`
	Function  string        `json:"function"`
	Version   string        `json:"version"`
	Instance  string        `json:"instance_id,omitempty"`
	Start     time.Time     `json:"start"`
	Duration  time.Duration `json:"duration_ns"`
	MemoryMB  float64       `json:"memory_used_mb"`
	OK        bool          `json:"ok"`
	ErrorCode int           `json:"error_code,omitempty"` // X-Func-Err-Code when not OK
	Log       string        `json:"log"`                  // at most MaxLog bytes (the tail is kept)
	Truncated bool          `json:"truncated,omitempty"`
}

// MaxLog is the most log text one record keeps.
const MaxLog = 64 << 10

// Key returns the function the record belongs to.
func (r *Record) Key() fgs.Key {
	return fgs.Key{Project: r.Project, Package: r.Package, Name: r.Function}
}

// Store is the log store.
type Store struct {
	dir    string
	budget int64 // bytes per function, both files together
	logger *slog.Logger

	queue   chan Record
	pending atomic.Int64 // appended, not yet written
	done    chan struct{}

	mu    sync.Mutex // guards files and the file system layout
	files map[fgs.Key]*os.File
	sizes map[fgs.Key]int64
}

// Open opens a log store in dir keeping at most budget bytes per
// function.
func Open(dir string, budget int64, logger *slog.Logger) (*Store, error) {
	if budget < 2*MaxLog {
		budget = 2 * MaxLog
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	s := &Store{dir: dir, budget: budget, logger: logger, queue: make(chan Record, 4096), done: make(chan struct{}),
		files: map[fgs.Key]*os.File{}, sizes: map[fgs.Key]int64{}}
	go s.run()
	return s, nil
}

// Append queues r. It blocks only when the writer is thousands of records
// behind.
func (s *Store) Append(r Record) {
	if len(r.Log) > MaxLog {
		r.Log, r.Truncated = r.Log[len(r.Log)-MaxLog:], true
	}
	s.pending.Add(1)
	s.queue <- r
}

func (s *Store) run() {
	defer close(s.done)
	for r := range s.queue {
		if err := s.write(&r); err != nil {
			s.logger.Warn("could not keep an invocation log", "request_id", r.RequestID, "err", err)
		}
		s.pending.Add(-1)
	}
	s.mu.Lock()
	for k, f := range s.files {
		f.Close()
		delete(s.files, k)
	}
	s.mu.Unlock()
}

func (s *Store) path(k fgs.Key) string {
	return filepath.Join(s.dir, k.Project, k.Package, k.Name+".log")
}

func (s *Store) write(r *Record) error {
	line, err := json.Marshal(r)
	if err != nil {
		return err
	}
	line = append(line, '\n')
	k := r.Key()
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.files[k]
	if f == nil {
		p := s.path(k)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			return err
		}
		if f, err = os.OpenFile(p, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600); err != nil {
			return err
		}
		st, err := f.Stat()
		if err != nil {
			f.Close()
			return err
		}
		if len(s.files) > 256 { // bound open files
			for k2, f2 := range s.files {
				f2.Close()
				delete(s.files, k2)
				delete(s.sizes, k2)
			}
		}
		s.files[k], s.sizes[k] = f, st.Size()
	}
	if s.sizes[k]+int64(len(line)) > s.budget/2 {
		f.Close()
		delete(s.files, k)
		p := s.path(k)
		if err := os.Rename(p, p+".1"); err != nil {
			return err
		}
		if f, err = os.OpenFile(p, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600); err != nil {
			return err
		}
		s.files[k], s.sizes[k] = f, 0
	}
	n, err := f.Write(line)
	s.sizes[k] += int64(n)
	return err
}

// Query selects records.
type Query struct {
	RequestID string    // only this request
	Since     time.Time // records that started at or after
	Until     time.Time // records that started before (zero: no bound)
	Limit     int       // the newest Limit records (0: all)
}

// Records returns a function's kept records matching q, oldest first.
// Records still queued are included.
func (s *Store) Records(ctx context.Context, k fgs.Key, q Query) ([]Record, error) {
	s.Flush(ctx)
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Record
	for _, p := range []string{s.path(k) + ".1", s.path(k)} {
		data, err := os.ReadFile(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		sc := bufio.NewScanner(bytes.NewReader(data))
		sc.Buffer(nil, 4*MaxLog)
		for sc.Scan() {
			var r Record
			if json.Unmarshal(sc.Bytes(), &r) != nil {
				continue // a line cut by a crash
			}
			if q.RequestID != "" && r.RequestID != q.RequestID ||
				r.Start.Before(q.Since) || !q.Until.IsZero() && !r.Start.Before(q.Until) {
				continue
			}
			out = append(out, r)
		}
	}
	if q.Limit > 0 && len(out) > q.Limit {
		out = slices.Clone(out[len(out)-q.Limit:])
	}
	return out, nil
}

// Flush waits until every record queued before the call is written.
func (s *Store) Flush(ctx context.Context) {
	for s.pending.Load() > 0 {
		select {
		case <-ctx.Done():
			return
		case <-time.After(200 * time.Microsecond):
		}
	}
}

// Delete removes a function's logs.
func (s *Store) Delete(ctx context.Context, k fgs.Key) error {
	s.Flush(ctx)
	s.mu.Lock()
	defer s.mu.Unlock()
	if f := s.files[k]; f != nil {
		f.Close()
		delete(s.files, k)
		delete(s.sizes, k)
	}
	for _, p := range []string{s.path(k), s.path(k) + ".1"} {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

// Close writes what is queued and closes the store. Append must not be
// called after Close.
func (s *Store) Close(ctx context.Context) error {
	close(s.queue)
	select {
	case <-s.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
