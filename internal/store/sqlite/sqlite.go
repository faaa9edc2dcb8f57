package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/openfgs/openfgs/internal/fgs"
)

var _ fgs.Store = (*Store)(nil)

// BusyTimeout is how long a connection waits for another process's lock
// (SQLite's busy_timeout) before giving up with SQLITE_BUSY.
const BusyTimeout = 10 * time.Second

// Store is an fgs.Store kept in a SQLite database. It is safe for
// concurrent use, and several processes may open the same file.
type Store struct {
	path string
	log  *slog.Logger
	w    *sql.DB // one connection: every write goes through it
	r    *sql.DB // pooled, query_only: every read

	q readStmts

	closeOnce sync.Once
	closeErr  error
}

// Open opens the store in the SQLite database at path, creating the file
// and bringing its schema up to date as needed. A nil logger discards.
func Open(ctx context.Context, path string, logger *slog.Logger) (*Store, error) {
	const op = "store.Open"
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if path == "" {
		return nil, fgs.E(op, fgs.Invalid, fgs.Msg("empty database path"))
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fgs.E(op, err)
	}
	_, statErr := os.Stat(abs)
	created := errors.Is(statErr, os.ErrNotExist)

	s := &Store{path: abs, log: logger.With("db", abs)}
	if s.w, err = openDB(dsn(abs, false)); err != nil {
		return nil, fgs.E(op, err)
	}
	s.w.SetMaxOpenConns(1)
	s.w.SetMaxIdleConns(1)
	s.w.SetConnMaxLifetime(0)
	s.w.SetConnMaxIdleTime(0)

	fail := func(err error) (*Store, error) {
		s.closeDBs()
		return nil, fgs.E(op, err)
	}
	var mode string
	if err := s.w.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return fail(err)
	}
	if mode != "wal" {
		return fail(fmt.Errorf("journal_mode is %q, want wal (does the file system support WAL?)", mode))
	}
	if err := s.migrate(ctx); err != nil {
		return fail(err)
	}
	if created {
		// SQLite fsyncs the directory when it creates the WAL, not when
		// it creates the database file: make the new file's entry durable.
		if err := syncDir(filepath.Dir(abs)); err != nil {
			return fail(err)
		}
	}

	if s.r, err = openDB(dsn(abs, true)); err != nil {
		return fail(err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	s.r.SetMaxOpenConns(n)
	s.r.SetMaxIdleConns(n)
	s.r.SetConnMaxLifetime(0)
	s.r.SetConnMaxIdleTime(0)
	if err := s.prepare(ctx); err != nil {
		return fail(err)
	}
	s.log.Debug("metadata store open", "created", created, "readers", n)
	return s, nil
}

// openDB returns a pool for dsn. It goes through a connector rather than
// sql.Open's driver registry, which also checks the DSN now, not at the
// first connection.
func openDB(dsn string) (*sql.DB, error) {
	c, err := sqlite.NewConnector(dsn)
	if err != nil {
		return nil, err
	}
	return sql.OpenDB(c), nil
}

// dsn returns the modernc.org/sqlite data source name for the database
// at the absolute path abs. The path is a file: URI, so no character of
// it can be taken for the start of the query. Every pooled connection
// runs the _pragma list when it is opened; the driver runs busy_timeout
// first, so the others wait for locks rather than fail.
func dsn(abs string, readOnly bool) string {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", BusyTimeout.Milliseconds()))
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(FULL)")
	q.Add("_pragma", "foreign_keys(1)")
	if readOnly {
		q.Add("_pragma", "query_only(1)")
	} else {
		// BEGIN IMMEDIATE: a write transaction takes the write lock
		// before its first read, so what it checks stays true until it
		// commits, and it never has to upgrade a read lock (which
		// SQLite may refuse with SQLITE_BUSY without waiting).
		q.Set("_txlock", "immediate")
	}
	u := url.URL{Scheme: "file", Path: abs, RawQuery: q.Encode()}
	return u.String()
}

// Path returns the database file's absolute path.
func (s *Store) Path() string { return s.path }

// Close closes the store's connections. Writes have all been committed
// already; closing the last connection checkpoints the WAL into the
// database file. Close may be called more than once.
func (s *Store) Close(ctx context.Context) error {
	s.closeOnce.Do(func() {
		if err := s.closeDBs(); err != nil {
			s.closeErr = fgs.E("store.Close", err)
		}
	})
	return s.closeErr
}

func (s *Store) closeDBs() error {
	var errs []error
	errs = append(errs, s.q.close())
	if s.r != nil {
		errs = append(errs, s.r.Close())
	}
	if s.w != nil {
		errs = append(errs, s.w.Close())
	}
	return errors.Join(errs...)
}

// write runs fn in a write transaction (BEGIN IMMEDIATE, on the single
// writer connection) and commits it. An *fgs.Error from fn is returned as
// it is; any other error is wrapped with op.
func (s *Store) write(ctx context.Context, op string, fn func(tx *sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fgs.E(op, err)
	}
	if err := fn(tx); err != nil {
		if rerr := tx.Rollback(); rerr != nil && !errors.Is(rerr, sql.ErrTxDone) {
			s.log.Warn("rollback failed", "op", op, "err", rerr)
		}
		var fe *fgs.Error
		if errors.As(err, &fe) {
			return err
		}
		return fgs.E(op, err)
	}
	if err := tx.Commit(); err != nil {
		return fgs.E(op, err)
	}
	return nil
}

// sqliteCode returns the extended SQLite result code of err, or 0.
func sqliteCode(err error) int {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code()
	}
	return 0
}

func isForeignKey(err error) bool {
	return sqliteCode(err) == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
}

func isUnique(err error) bool {
	c := sqliteCode(err)
	return c == sqlite3.SQLITE_CONSTRAINT_UNIQUE || c == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
}

// notFound is the error for a missing tenant record (domain, project,
// user, credential).
func notFound(op, format string, args ...any) error {
	return fgs.E(op, fgs.Errorf(fgs.NotFound, fgs.NoReason, format, args...))
}

// timeLayout is how times are stored: UTC, fixed width, nanoseconds, so
// that stored strings sort as the times compare.
const timeLayout = "2006-01-02T15:04:05.000000000Z"

// formatTime returns t's stored form.
func formatTime(t time.Time) (string, error) {
	t = t.UTC()
	if y := t.Year(); y < 0 || y > 9999 {
		return "", fgs.Errorf(fgs.Invalid, fgs.NoReason, "time %v is out of range", t)
	}
	return t.Format(timeLayout), nil
}

// parseTime parses a stored time; it returns it in UTC.
func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("stored time %q: %w", s, err)
	}
	return t.UTC(), nil
}

// syncDir fsyncs a directory, making the entries created in it durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
