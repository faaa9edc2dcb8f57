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
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/openfgs/openfgs/internal/fgs"
	"github.com/openfgs/openfgs/internal/jsonstr"
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

// appendJSON appends r as a JSON object, as encoding/json would encode it
// (field for field, though not byte for byte). Built by hand: the store
// writes one per invocation, and encoding/json was 4% of a warm server's
// CPU.
func (r *Record) appendJSON(b []byte) []byte {
	b = append(b, `{"request_id":`...)
	b = jsonstr.Append(b, r.RequestID)
	b = append(b, `,"project":`...)
	b = jsonstr.Append(b, r.Project)
	b = append(b, `,"package":`...)
	b = jsonstr.Append(b, r.Package)
	b = append(b, `,"function":`...)
	b = jsonstr.Append(b, r.Function)
	b = append(b, `,"version":`...)
	b = jsonstr.Append(b, r.Version)
	if r.Instance != "" {
		b = append(b, `,"instance_id":`...)
		b = jsonstr.Append(b, r.Instance)
	}
	b = append(b, `,"start":"`...)
	b = r.Start.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","duration_ns":`...)
	b = strconv.AppendInt(b, int64(r.Duration), 10)
	b = append(b, `,"memory_used_mb":`...)
	mem := r.MemoryMB
	if math.IsNaN(mem) || math.IsInf(mem, 0) {
		mem = 0
	}
	b = strconv.AppendFloat(b, mem, 'g', -1, 64)
	b = append(b, `,"ok":`...)
	b = strconv.AppendBool(b, r.OK)
	if r.ErrorCode != 0 {
		b = append(b, `,"error_code":`...)
		b = strconv.AppendInt(b, int64(r.ErrorCode), 10)
	}
	b = append(b, `,"log":`...)
	b = jsonstr.Append(b, r.Log)
	if r.Truncated {
		b = append(b, `,"truncated":true`...)
	}
	return append(b, '}')
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

	qmu     sync.Mutex
	batch   []Record // appended, waiting for the writer
	armed   bool     // a kick is scheduled
	closed  bool
	kick    chan struct{}
	pending atomic.Int64 // appended, not yet written
	done    chan struct{}

	line []byte // the writer's buffer

	mu    sync.Mutex // guards files and the file system layout
	files map[fgs.Key]*logFile
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
	s := &Store{dir: dir, budget: budget, logger: logger, kick: make(chan struct{}, 1), done: make(chan struct{}),
		files: map[fgs.Key]*logFile{}, sizes: map[fgs.Key]int64{}}
	go s.run()
	return s, nil
}

// batchDelay is how long a record may wait for the writer.
const batchDelay = 5 * time.Millisecond

// maxBatch is how far the writer may fall behind before Append waits.
const maxBatch = 8192

// Append queues r. It waits only when the writer is thousands of records
// behind. Records appended after Close are dropped.
func (s *Store) Append(r Record) {
	if len(r.Log) > MaxLog {
		r.Log, r.Truncated = r.Log[len(r.Log)-MaxLog:], true
	}
	for {
		s.qmu.Lock()
		if s.closed {
			s.qmu.Unlock()
			return
		}
		if len(s.batch) < maxBatch {
			break
		}
		s.qmu.Unlock()
		s.wake()
		time.Sleep(time.Millisecond)
	}
	s.batch = append(s.batch, r)
	s.pending.Add(1)
	if !s.armed {
		s.armed = true
		time.AfterFunc(batchDelay, s.wake)
	}
	s.qmu.Unlock()
}

func (s *Store) wake() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// logFile is an open log file with a write buffer, flushed whenever the
// queue runs empty (so a burst costs few write calls).
type logFile struct {
	f *os.File
	w *bufio.Writer
}

func (lf *logFile) close() error {
	err := lf.w.Flush()
	if cerr := lf.f.Close(); err == nil {
		err = cerr
	}
	return err
}

func (s *Store) run() {
	defer close(s.done)
	for range s.kick {
		s.qmu.Lock()
		batch, closed := s.batch, s.closed
		s.batch, s.armed = nil, false
		s.qmu.Unlock()
		for i := range batch {
			if err := s.write(&batch[i]); err != nil {
				s.logger.Warn("could not keep an invocation log", "request_id", batch[i].RequestID, "err", err)
			}
		}
		s.flush()
		s.pending.Add(-int64(len(batch)))
		if closed {
			break
		}
	}
	s.mu.Lock()
	for k, f := range s.files {
		f.close()
		delete(s.files, k)
	}
	s.mu.Unlock()
}

func (s *Store) flush() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, lf := range s.files {
		if err := lf.w.Flush(); err != nil {
			s.logger.Warn("could not write invocation logs", "err", err)
		}
	}
}

func (s *Store) path(k fgs.Key) string {
	return filepath.Join(s.dir, k.Project, k.Package, k.Name+".log")
}

func (s *Store) write(r *Record) error {
	s.line = append(r.appendJSON(s.line[:0]), '\n')
	line := s.line
	if cap(s.line) > 2*MaxLog {
		s.line = nil
	}
	k := r.Key()
	s.mu.Lock()
	defer s.mu.Unlock()
	var err error
	lf := s.files[k]
	if lf == nil {
		if len(s.files) >= 256 { // bound open files
			for k2, f2 := range s.files {
				f2.close()
				delete(s.files, k2)
				delete(s.sizes, k2)
			}
		}
		p := s.path(k)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			return err
		}
		if lf, err = s.open(p); err != nil {
			return err
		}
		st, err := lf.f.Stat()
		if err != nil {
			lf.close()
			return err
		}
		s.files[k], s.sizes[k] = lf, st.Size()
	}
	if s.sizes[k]+int64(len(line)) > s.budget/2 {
		lf.close()
		delete(s.files, k)
		p := s.path(k)
		if err := os.Rename(p, p+".1"); err != nil {
			return err
		}
		if lf, err = s.open(p); err != nil {
			return err
		}
		s.files[k], s.sizes[k] = lf, 0
	}
	n, err := lf.w.Write(line)
	s.sizes[k] += int64(n)
	return err
}

func (s *Store) open(p string) (*logFile, error) {
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	return &logFile{f: f, w: bufio.NewWriterSize(f, 64<<10)}, nil
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
		s.wake()
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
		f.close()
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
	s.qmu.Lock()
	already := s.closed
	s.closed = true
	s.qmu.Unlock()
	if !already {
		// The writer may be about to take a kick; keep kicking until it
		// has seen the close.
		go func() {
			for {
				select {
				case <-s.done:
					return
				case s.kick <- struct{}{}:
				}
			}
		}()
	}
	select {
	case <-s.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
