package executor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/openfgs/openfgs/internal/codepkg"
	"github.com/openfgs/openfgs/internal/fgs"
)

// codeCache unpacks each code package once into <dir>/<digest>, a folder
// sandboxes bind read-only. Folders are 0755 and files 0644 (0755 when
// the archive marks them executable, and for `bootstrap` and a Go
// function's binary), owned by root: instances can read, not write.
type codeCache struct {
	dir  string
	code fgs.CodeStore

	mu      sync.Mutex
	pending map[string]*unpacking
	refs    map[string]int       // digest -> instances whose code folder it is
	used    map[string]time.Time // digest -> last time Dir returned it
}

type unpacking struct {
	done chan struct{}
	err  error
}

// newCodeCache opens the cache in dir. Whatever an earlier run left
// there (unpacked packages, interrupted unpackings) is moved aside at
// once and returned as trash, for the caller to remove in the background:
// it may hold packages unpacked under other limits or by functions that
// no longer exist, and unpacking again costs only a cold start.
func newCodeCache(dir string, code fgs.CodeStore) (c *codeCache, trash []string, err error) {
	const op = "executor.newCodeCache"
	if _, err := os.Stat(dir); err == nil {
		old := fmt.Sprintf("%s.old-%d", dir, time.Now().UnixNano())
		if err := os.Rename(dir, old); err != nil {
			return nil, nil, fgs.E(op, err)
		}
	}
	trash, _ = filepath.Glob(dir + ".old-*")
	if err := os.MkdirAll(dir, 0o711); err != nil {
		return nil, nil, fgs.E(op, err)
	}
	if err := os.Chmod(dir, 0o711); err != nil {
		return nil, nil, fgs.E(op, err)
	}
	c = &codeCache{dir: dir, code: code, pending: map[string]*unpacking{}, refs: map[string]int{}, used: map[string]time.Time{}}
	return c, trash, nil
}

// acquire and release count the instances that bind a package's folder,
// so sweep never removes one in use.
func (c *codeCache) acquire(digest string) {
	c.mu.Lock()
	c.refs[digest]++
	c.mu.Unlock()
}

func (c *codeCache) release(digest string) {
	c.mu.Lock()
	if c.refs[digest]--; c.refs[digest] <= 0 {
		delete(c.refs, digest)
		c.used[digest] = time.Now()
	}
	c.mu.Unlock()
}

// sweep removes unpacked packages no instance uses that nothing asked for
// since before cutoff (deleted functions, replaced code).
func (c *codeCache) sweep(cutoff time.Time) {
	c.mu.Lock()
	var gone []string
	for d, t := range c.used {
		if c.refs[d] == 0 && c.pending[d] == nil && t.Before(cutoff) {
			gone = append(gone, d)
			delete(c.used, d)
		}
	}
	c.mu.Unlock()
	for _, d := range gone {
		os.RemoveAll(filepath.Join(c.dir, d))
	}
}

// Dir returns the folder holding f's unpacked code, unpacking it first if
// needed. Concurrent calls for the same package unpack it once.
func (c *codeCache) Dir(ctx context.Context, f *fgs.Function) (string, error) {
	if f.Digest == "" {
		return "", fgs.Errorf(fgs.Invalid, fgs.CodeMissing, "function %s has no code", f.Name)
	}
	final := filepath.Join(c.dir, f.Digest)
	c.mu.Lock()
	c.used[f.Digest] = time.Now()
	if _, err := os.Stat(final); err == nil {
		c.mu.Unlock()
		return final, nil
	}
	u, ok := c.pending[f.Digest]
	if !ok {
		u = &unpacking{done: make(chan struct{})}
		c.pending[f.Digest] = u
		go func() {
			u.err = c.unpack(context.WithoutCancel(ctx), f, final)
			c.mu.Lock()
			delete(c.pending, f.Digest)
			c.mu.Unlock()
			close(u.done)
		}()
	}
	c.mu.Unlock()
	select {
	case <-u.done:
		return final, u.err
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

func (c *codeCache) unpack(ctx context.Context, f *fgs.Function, final string) error {
	const op = "executor.unpack"
	rc, err := c.code.Open(ctx, f.Digest)
	if err != nil {
		return err
	}
	data, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		return fgs.E(op, err)
	}
	tmp, err := os.MkdirTemp(c.dir, "tmp-")
	if err != nil {
		return fgs.E(op, err)
	}
	defer os.RemoveAll(tmp)
	if err := os.Chmod(tmp, 0o755); err != nil {
		return fgs.E(op, err)
	}
	execName := map[string]bool{"bootstrap": true}
	if f.Runtime == "Go1.x" {
		execName[f.Handler] = true
	}
	isZip := bytes.HasPrefix(data, []byte("PK\x03\x04")) || bytes.HasPrefix(data, []byte("PK\x05\x06"))
	switch {
	case f.CodeType == "zip" || f.CodeType != "jar" && isZip:
		// The limits the API checked when it accepted the package, again
		// while writing: a package accepted before they existed, or one
		// whose headers lie, stops at them.
		if _, err := codepkg.Extract(ctx, tmp, data, codepkg.DefaultLimits, func(name string) bool { return execName[name] }); err != nil {
			return err
		}
	default:
		// A jar stays a jar (it goes on the classpath); inline source is
		// one file.
		name := f.CodeFilename
		if name == "" || strings.ContainsAny(name, "/\\\x00") || name == "." || name == ".." {
			name = "index"
		}
		mode := os.FileMode(0o644)
		if execName[name] {
			mode = 0o755
		}
		if err := os.WriteFile(filepath.Join(tmp, name), data, mode); err != nil {
			return fgs.E(op, err)
		}
		if err := os.Chmod(filepath.Join(tmp, name), mode); err != nil {
			return fgs.E(op, err)
		}
	}
	if err := os.Rename(tmp, final); err != nil && !errors.Is(err, fs.ErrExist) {
		if _, statErr := os.Stat(final); statErr != nil {
			return fgs.E(op, err)
		}
	}
	return nil
}

// removeTree removes dir and everything under it, like os.RemoveAll,
// but gives up (leaving the rest for the next start) once stop is closed,
// so that removing a large tree never holds up a shutdown.
func removeTree(dir string, stop <-chan struct{}) error {
	select {
	case <-stop:
		return nil
	default:
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	for _, e := range ents {
		select {
		case <-stop:
			return nil
		default:
		}
		p := filepath.Join(dir, e.Name())
		if e.IsDir() {
			if err := removeTree(p, stop); err != nil {
				return err
			}
			continue
		}
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	select {
	case <-stop:
		return nil
	default:
	}
	if err := os.Remove(dir); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// linkTree fills dst (an empty folder) with hard links to src's files,
// so a pre-started instance whose code folder is dst sees src's code.
// Hard links keep it cheap for packages of any size.
func linkTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil || rel == "." {
			return err
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.Mkdir(target, 0o755)
		}
		if err := os.Link(p, target); err != nil {
			return fmt.Errorf("link %s: %w", rel, err)
		}
		return nil
	})
}
