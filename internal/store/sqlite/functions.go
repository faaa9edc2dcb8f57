package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/openfgs/openfgs/internal/fgs"
)

// A function is one row: the key, digest, code size and revision as
// columns (for the unique key, CodeInUse, Usage and compare-and-set) and
// the whole fgs.Function as JSON in doc, so that adding a field to
// fgs.Function needs no migration. A package's references are the rows
// that name its digest: counted in the same transaction that changes
// them, they cannot drift from the functions that hold them.

// nextRevision takes the next value of the revision counter.
func nextRevision(ctx context.Context, tx *sql.Tx) (int64, error) {
	var rev int64
	err := tx.QueryRowContext(ctx, `UPDATE counters SET value = value + 1 WHERE name = 'revision' RETURNING value`).Scan(&rev)
	return rev, err
}

// CreateFunction stores a new function and sets f.Seq and f.Revision. In one write
// transaction it checks that the project exists (NotFound),
// that the key is free (Exists, FunctionExists) and the project's limits
// (Quota: TooManyFunctions, CodeQuotaExceeded).
func (s *Store) CreateFunction(ctx context.Context, f *fgs.Function, lim fgs.Limits) error {
	const op = "store.CreateFunction"
	if f == nil {
		return fgs.E(op, fgs.Invalid, fgs.Msg("no function"))
	}
	doc, err := encodeFunction(f)
	if err != nil {
		return fgs.E(op, err)
	}
	k := f.Key()
	var seq, rev int64
	err = s.write(ctx, op, func(tx *sql.Tx) error {
		var one int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM projects WHERE id = ?`, k.Project).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return notFound(op, "project %q not found", k.Project)
		}
		if err != nil {
			return err
		}
		err = tx.QueryRowContext(ctx, `SELECT 1 FROM functions WHERE project = ? AND package = ? AND name = ?`,
			k.Project, k.Package, k.Name).Scan(&one)
		if err == nil {
			return exists(op, k)
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if lim.MaxFunctions > 0 || lim.MaxCodeBytes > 0 {
			u, err := usage(ctx, tx, k.Project)
			if err != nil {
				return err
			}
			if lim.MaxFunctions > 0 && u.Functions >= lim.MaxFunctions {
				return fgs.E(op, fgs.Errorf(fgs.Quota, fgs.TooManyFunctions,
					"cannot create function %q: the project already has %d functions, the maximum is %d",
					k.Name, u.Functions, lim.MaxFunctions))
			}
			if lim.MaxCodeBytes > 0 && u.CodeBytes+f.StorageBytes() > lim.MaxCodeBytes {
				return codeQuota(op, k, u.CodeBytes+f.StorageBytes(), lim.MaxCodeBytes)
			}
		}
		if rev, err = nextRevision(ctx, tx); err != nil {
			return err
		}
		err = tx.QueryRowContext(ctx, `INSERT INTO functions (project, package, name, digest, code_size, unpacked_bytes, revision, doc)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING seq`,
			k.Project, k.Package, k.Name, f.Digest, f.CodeSize, f.UnpackedBytes, rev, string(doc)).Scan(&seq)
		switch {
		case isUnique(err):
			return exists(op, k) // unreachable while the check above holds the write lock
		case isForeignKey(err):
			return notFound(op, "project %q not found", k.Project)
		}
		return err
	})
	if err != nil {
		return err
	}
	f.Seq, f.Revision = seq, rev
	return nil
}

// Function returns the function with key k (NotFound, FunctionNotFound).
func (s *Store) Function(ctx context.Context, k fgs.Key) (*fgs.Function, error) {
	const op = "store.Function"
	var (
		seq, rev, unpacked int64
		doc                []byte
	)
	err := s.q.function.QueryRowContext(ctx, k.Project, k.Package, k.Name).Scan(&seq, &rev, &unpacked, &doc)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, functionNotFound(op, k)
	}
	if err != nil {
		return nil, fgs.E(op, err)
	}
	f, err := decodeFunction(seq, rev, unpacked, doc)
	if err != nil {
		return nil, fgs.E(op, err)
	}
	return f, nil
}

// UpdateFunction replaces the function with f's key by f if its stored
// revision is still f.Revision (Conflict, RevisionConflict otherwise),
// keeping its Seq, and sets f.Seq and f.Revision to the stored values.
// NotFound: FunctionNotFound. If f's code is larger than the stored
// function's, the project's code bytes are checked against lim (Quota,
// CodeQuotaExceeded); an update that does not grow the code always
// passes, even in a project over its limit.
func (s *Store) UpdateFunction(ctx context.Context, f *fgs.Function, lim fgs.Limits) error {
	const op = "store.UpdateFunction"
	if f == nil {
		return fgs.E(op, fgs.Invalid, fgs.Msg("no function"))
	}
	doc, err := encodeFunction(f)
	if err != nil {
		return fgs.E(op, err)
	}
	k := f.Key()
	var seq, rev int64
	err = s.write(ctx, op, func(tx *sql.Tx) error {
		var oldSize, oldRev int64
		err := tx.QueryRowContext(ctx, `SELECT seq, revision, code_size + unpacked_bytes FROM functions WHERE project = ? AND package = ? AND name = ?`,
			k.Project, k.Package, k.Name).Scan(&seq, &oldRev, &oldSize)
		if errors.Is(err, sql.ErrNoRows) {
			return functionNotFound(op, k)
		}
		if err != nil {
			return err
		}
		if oldRev != f.Revision {
			return fgs.E(op, fgs.Errorf(fgs.Conflict, fgs.RevisionConflict,
				"function %q was changed by another request; retry", k.Name))
		}
		if lim.MaxCodeBytes > 0 && f.StorageBytes() > oldSize {
			u, err := usage(ctx, tx, k.Project)
			if err != nil {
				return err
			}
			if total := u.CodeBytes - oldSize + f.StorageBytes(); total > lim.MaxCodeBytes {
				return codeQuota(op, k, total, lim.MaxCodeBytes)
			}
		}
		if rev, err = nextRevision(ctx, tx); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE functions SET digest = ?, code_size = ?, unpacked_bytes = ?, revision = ?, doc = ? WHERE seq = ?`,
			f.Digest, f.CodeSize, f.UnpackedBytes, rev, string(doc), seq)
		return err
	})
	if err != nil {
		return err
	}
	f.Seq, f.Revision = seq, rev
	return nil
}

// DeleteFunction deletes the function with key k (NotFound, FunctionNotFound).
func (s *Store) DeleteFunction(ctx context.Context, k fgs.Key) error {
	const op = "store.DeleteFunction"
	res, err := s.w.ExecContext(ctx, `DELETE FROM functions WHERE project = ? AND package = ? AND name = ?`,
		k.Project, k.Package, k.Name)
	if err != nil {
		return fgs.E(op, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fgs.E(op, err)
	} else if n == 0 {
		return functionNotFound(op, k)
	}
	return nil
}

// ListFunctions returns up to q.Limit functions of q.Project with Seq
// greater than q.After, in Seq order, and whether more follow. q.Package
// must match exactly; q.Name is a case-sensitive substring of the name.
// A q.Limit of zero or less means no limit. Seq values are never reused,
// so paging with After = the last Seq seen neither repeats nor skips a
// function that exists throughout, whatever is created or deleted
// between pages.
func (s *Store) ListFunctions(ctx context.Context, q fgs.ListQuery) ([]*fgs.Function, bool, error) {
	const op = "store.ListFunctions"
	limit := int64(-1) // SQLite: no limit
	if q.Limit > 0 {
		limit = int64(q.Limit) + 1 // one more, to tell whether more follow
	}
	rows, err := s.q.listFunctions.QueryContext(ctx, q.Project, q.After, q.Package, q.Name, limit)
	if err != nil {
		return nil, false, fgs.E(op, err)
	}
	defer rows.Close()
	fns := []*fgs.Function{}
	more := false
	for rows.Next() {
		if q.Limit > 0 && len(fns) == q.Limit {
			more = true
			break
		}
		var (
			seq, rev, unpacked int64
			doc                []byte
		)
		if err := rows.Scan(&seq, &rev, &unpacked, &doc); err != nil {
			return nil, false, fgs.E(op, err)
		}
		f, err := decodeFunction(seq, rev, unpacked, doc)
		if err != nil {
			return nil, false, fgs.E(op, err)
		}
		fns = append(fns, f)
	}
	if err := rows.Err(); err != nil {
		return nil, false, fgs.E(op, err)
	}
	return fns, more, nil
}

// Usage reports a project's function count and total code bytes: the
// packages and what they take unpacked. A
// project without functions, or an unknown one, uses nothing.
func (s *Store) Usage(ctx context.Context, project string) (fgs.Usage, error) {
	var u fgs.Usage
	if err := s.q.usage.QueryRowContext(ctx, project).Scan(&u.Functions, &u.CodeBytes); err != nil {
		return fgs.Usage{}, fgs.E("store.Usage", err)
	}
	return u, nil
}

// usage is Usage inside a write transaction.
func usage(ctx context.Context, tx *sql.Tx, project string) (fgs.Usage, error) {
	var u fgs.Usage
	err := tx.QueryRowContext(ctx, `SELECT count(*), coalesce(sum(code_size + unpacked_bytes), 0) FROM functions WHERE project = ?`,
		project).Scan(&u.Functions, &u.CodeBytes)
	return u, err
}

// CodeInUse reports whether any function, in any project, has a code
// package with this digest.
func (s *Store) CodeInUse(ctx context.Context, digest string) (bool, error) {
	var in bool
	if err := s.q.codeInUse.QueryRowContext(ctx, digest).Scan(&in); err != nil {
		return false, fgs.E("store.CodeInUse", err)
	}
	return in, nil
}

// encodeFunction returns f's stored JSON, its times in UTC. (Bind it as
// a string: doc is a TEXT column of a STRICT table, which refuses BLOBs.)
func encodeFunction(f *fgs.Function) ([]byte, error) {
	c := *f
	c.LastModified = c.LastModified.UTC()
	if y := c.LastModified.Year(); y < 0 || y > 9999 {
		return nil, fgs.Errorf(fgs.Invalid, fgs.NoReason, "last_modified %v is out of range", c.LastModified)
	}
	b, err := json.Marshal(&c)
	if err != nil {
		return nil, fmt.Errorf("encoding function: %w", err)
	}
	return b, nil
}

func decodeFunction(seq, rev, unpacked int64, doc []byte) (*fgs.Function, error) {
	f := new(fgs.Function)
	if err := json.Unmarshal(doc, f); err != nil {
		return nil, fmt.Errorf("decoding function %d: %w", seq, err)
	}
	f.Seq, f.Revision, f.UnpackedBytes = seq, rev, unpacked
	f.LastModified = f.LastModified.UTC()
	return f, nil
}

func exists(op string, k fgs.Key) error {
	return fgs.E(op, fgs.Errorf(fgs.Exists, fgs.FunctionExists,
		"function %q already exists in package %q", k.Name, k.Package))
}

func functionNotFound(op string, k fgs.Key) error {
	return fgs.E(op, fgs.Errorf(fgs.NotFound, fgs.FunctionNotFound,
		"function %q not found in package %q", k.Name, k.Package))
}

func codeQuota(op string, k fgs.Key, total, limit int64) error {
	return fgs.E(op, fgs.Errorf(fgs.Quota, fgs.CodeQuotaExceeded,
		"cannot store function %q: the project's code would take %d bytes, the maximum is %d",
		k.Name, total, limit))
}
