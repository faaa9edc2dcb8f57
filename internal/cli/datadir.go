package cli

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/openfgs/openfgs/internal/store/sqlite"
)

// The data dir's layout.
const (
	metaFile        = "meta.db"          // SQLite metadata
	codeDir         = "code"             // content-addressed packages
	tokenKeyFile    = "token.key"        // HMAC key of X-Auth-Token tokens
	credentialsFile = "credentials.json" // the generated bootstrap credential
)

// openMeta opens the metadata store of a data dir, creating the dir.
func openMeta(ctx context.Context, dir string, logger *slog.Logger) (*sqlite.Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	// The database holds secret keys: create it private before SQLite does
	// (its -wal and -shm files take the database file's mode).
	path := filepath.Join(dir, metaFile)
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	f.Close()
	return sqlite.Open(ctx, path, logger)
}

// tokenKey reads the data dir's token key, creating it on first use.
func tokenKey(dir string) ([]byte, error) {
	p := filepath.Join(dir, tokenKeyFile)
	key, err := os.ReadFile(p)
	if err == nil && len(key) == 32 {
		return key, nil
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if err == nil {
		return nil, fmt.Errorf("%s: want 32 bytes, found %d", p, len(key))
	}
	key = make([]byte, 32)
	rand.Read(key)
	if err := writeFileSync(p, key, 0o600); err != nil {
		return nil, err
	}
	return key, nil
}

// writeFileSync writes a file durably: temp file, fsync, rename, fsync dir.
func writeFileSync(path string, data []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
