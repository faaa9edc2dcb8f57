package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// migration is one schema step. Migration N (1-based) takes the schema
// from user_version N-1 to N.
type migration struct {
	name string
	sql  string
}

// migrations returns the embedded migrations in order. Their file names
// must be numbered 0001, 0002, ... without gaps: the number is the
// user_version the migration leads to.
func migrations() ([]migration, error) {
	names, err := fs.Glob(migrationFS, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	ms := make([]migration, 0, len(names))
	for i, name := range names {
		base := strings.TrimPrefix(name, "migrations/")
		num, _, _ := strings.Cut(base, "_")
		if n, err := strconv.Atoi(num); err != nil || n != i+1 {
			return nil, fmt.Errorf("migration %s: want number %04d", base, i+1)
		}
		b, err := migrationFS.ReadFile(name)
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{name: base, sql: string(b)})
	}
	return ms, nil
}

// SchemaVersion is the schema version (PRAGMA user_version) this build
// migrates databases to.
func SchemaVersion() int {
	ms, err := migrations()
	if err != nil {
		panic(err) // the embedded files are fixed at build time
	}
	return len(ms)
}

// migrate brings the schema up to date. It runs in one write transaction,
// so concurrent Opens of a new file migrate it once, and a failed
// migration leaves the database as it was.
func (s *Store) migrate(ctx context.Context) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	return s.write(ctx, "store.migrate", func(tx *sql.Tx) error {
		var v int
		if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
			return err
		}
		if v > len(ms) {
			return fmt.Errorf("database schema version %d is newer than this build's (%d): upgrade openfgs", v, len(ms))
		}
		if v == len(ms) {
			return nil
		}
		for _, m := range ms[v:] {
			if _, err := tx.ExecContext(ctx, m.sql); err != nil {
				return fmt.Errorf("migration %s: %w", m.name, err)
			}
		}
		// PRAGMA takes no parameters; len(ms) is an int.
		if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", len(ms))); err != nil {
			return err
		}
		s.log.Info("migrated metadata schema", "from", v, "to", len(ms))
		return nil
	})
}
