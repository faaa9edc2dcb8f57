// Package fs is the code store on local disk: one file per package under
// <dir>/<first two hex digits>/<sha512 hex>, written to a temporary file,
// synced and renamed into place, so a package is either whole or absent
// after a crash.
package fs

import (
	"context"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/openfgs/openfgs/internal/fgs"
)

// Store is a code store in a folder.
type Store struct {
	dir string
}

var _ fgs.CodeStore = (*Store)(nil)

// Open opens (creating if needed) a code store in dir.
func Open(dir string) (*Store, error) {
	if err := os.MkdirAll(filepath.Join(dir, "tmp"), 0o700); err != nil {
		return nil, fmt.Errorf("codestore: %w", err)
	}
	// Leftovers of writes a crash interrupted.
	tmps, _ := filepath.Glob(filepath.Join(dir, "tmp", "put-*"))
	for _, t := range tmps {
		os.Remove(t)
	}
	return &Store{dir: dir}, nil
}

func (s *Store) path(digest string) (string, error) {
	if len(digest) != 2*sha512.Size {
		return "", fgs.Errorf(fgs.NotFound, fgs.NoReason, "no code package %q", digest)
	}
	if _, err := hex.DecodeString(digest); err != nil {
		return "", fgs.Errorf(fgs.NotFound, fgs.NoReason, "no code package %q", digest)
	}
	return filepath.Join(s.dir, digest[:2], digest), nil
}

// Put implements fgs.CodeStore.
func (s *Store) Put(ctx context.Context, r io.Reader, max int64) (string, int64, error) {
	const op = "codestore.Put"
	tmp, err := os.CreateTemp(filepath.Join(s.dir, "tmp"), "put-*")
	if err != nil {
		return "", 0, fgs.E(op, err)
	}
	defer func() {
		tmp.Close()
		os.Remove(tmp.Name())
	}()
	h := sha512.New()
	lim := r
	if max > 0 {
		lim = io.LimitReader(r, max+1)
	}
	n, err := io.Copy(io.MultiWriter(tmp, h), readerCtx{ctx, lim})
	if err != nil {
		return "", 0, fgs.E(op, err)
	}
	if max > 0 && n > max {
		return "", 0, fgs.E(op, fgs.TooLarge, fgs.Msg(fmt.Sprintf("code package is larger than %d bytes", max)))
	}
	digest := hex.EncodeToString(h.Sum(nil))
	dst, _ := s.path(digest)
	if _, err := os.Stat(dst); err == nil {
		return digest, n, nil
	}
	if err := tmp.Sync(); err != nil {
		return "", 0, fgs.E(op, err)
	}
	if err := tmp.Close(); err != nil {
		return "", 0, fgs.E(op, err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return "", 0, fgs.E(op, err)
	}
	if err := os.Chmod(tmp.Name(), 0o600); err != nil {
		return "", 0, fgs.E(op, err)
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return "", 0, fgs.E(op, err)
	}
	if err := syncDir(filepath.Dir(dst)); err != nil {
		return "", 0, fgs.E(op, err)
	}
	return digest, n, nil
}

// Open implements fgs.CodeStore.
func (s *Store) Open(ctx context.Context, digest string) (io.ReadCloser, error) {
	p, err := s.path(digest)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fgs.Errorf(fgs.NotFound, fgs.NoReason, "no code package %s", digest)
	}
	if err != nil {
		return nil, fgs.E("codestore.Open", err)
	}
	return f, nil
}

// Delete implements fgs.CodeStore.
func (s *Store) Delete(ctx context.Context, digest string) error {
	p, err := s.path(digest)
	if err != nil {
		return nil
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fgs.E("codestore.Delete", err)
	}
	return syncDir(filepath.Dir(p))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// readerCtx stops a copy when ctx is done.
type readerCtx struct {
	ctx context.Context
	r   io.Reader
}

func (r readerCtx) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	return r.r.Read(p)
}
