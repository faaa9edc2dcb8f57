package executor

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/openfgs/openfgs/internal/fgs"
)

// Limits on what a code package may unpack to (FunctionGraph: 1.5 GB
// unzipped).
const (
	maxUnpackedBytes = 1500 << 20
	maxUnpackedFiles = 50000
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

func newCodeCache(dir string, code fgs.CodeStore) (*codeCache, error) {
	if err := os.MkdirAll(dir, 0o711); err != nil {
		return nil, err
	}
	if err := os.Chmod(dir, 0o711); err != nil {
		return nil, err
	}
	// Leftovers of unpackings a crash interrupted.
	tmps, _ := filepath.Glob(filepath.Join(dir, "tmp-*"))
	for _, t := range tmps {
		os.RemoveAll(t)
	}
	c := &codeCache{dir: dir, code: code, pending: map[string]*unpacking{}, refs: map[string]int{}, used: map[string]time.Time{}}
	// Packages unpacked by an earlier run start their clock now.
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if e.IsDir() && len(e.Name()) == 128 {
			c.used[e.Name()] = time.Now()
		}
	}
	return c, nil
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
	rc, err := c.code.Open(ctx, f.Digest)
	if err != nil {
		return err
	}
	data, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		return fgs.E("executor.unpack", err)
	}
	tmp, err := os.MkdirTemp(c.dir, "tmp-")
	if err != nil {
		return fgs.E("executor.unpack", err)
	}
	defer os.RemoveAll(tmp)
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	execName := map[string]bool{"bootstrap": true}
	if f.Runtime == "Go1.x" {
		execName[f.Handler] = true
	}
	isZip := bytes.HasPrefix(data, []byte("PK\x03\x04")) || bytes.HasPrefix(data, []byte("PK\x05\x06"))
	switch {
	case f.CodeType == "jar" || !isZip:
		// A jar stays a jar (it goes on the classpath); inline source is
		// one file.
		name := f.CodeFilename
		if name == "" || strings.ContainsAny(name, "/\\") {
			name = "index"
		}
		mode := os.FileMode(0o644)
		if execName[name] {
			mode = 0o755
		}
		if err := os.WriteFile(filepath.Join(tmp, name), data, mode); err != nil {
			return fgs.E("executor.unpack", err)
		}
	default:
		if err := unzipTo(tmp, data, execName); err != nil {
			return err
		}
	}
	if err := os.Rename(tmp, final); err != nil && !errors.Is(err, fs.ErrExist) {
		if _, statErr := os.Stat(final); statErr != nil {
			return fgs.E("executor.unpack", err)
		}
	}
	return nil
}

// unzipTo unpacks a ZIP archive into dir, refusing entries that would
// escape it, links, and archives that unpack past the limits.
func unzipTo(dir string, data []byte, execName map[string]bool) error {
	bad := func(format string, args ...any) error {
		return fgs.Errorf(fgs.Invalid, fgs.BadCodeEncoding, "the code package cannot be unpacked: "+format, args...)
	}
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return bad("%v", err)
	}
	if len(zr.File) > maxUnpackedFiles {
		return bad("it has %d entries; at most %d are allowed", len(zr.File), maxUnpackedFiles)
	}
	var total int64
	for _, zf := range zr.File {
		name := path.Clean(strings.ReplaceAll(zf.Name, "\\", "/"))
		if name == "." || strings.HasPrefix(name, "../") || name == ".." || path.IsAbs(name) {
			return bad("entry %q is outside the package", zf.Name)
		}
		dst := filepath.Join(dir, filepath.FromSlash(name))
		mode := zf.Mode()
		switch {
		case mode.IsDir():
			if err := os.MkdirAll(dst, 0o755); err != nil {
				return err
			}
			continue
		case mode&fs.ModeSymlink != 0:
			return bad("entry %q is a symbolic link; links are not allowed", zf.Name)
		case !mode.IsRegular():
			return bad("entry %q is not a regular file", zf.Name)
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		perm := os.FileMode(0o644)
		if mode.Perm()&0o111 != 0 || execName[name] {
			perm = 0o755
		}
		rc, err := zf.Open()
		if err != nil {
			return bad("entry %q: %v", zf.Name, err)
		}
		out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
		if err != nil {
			rc.Close()
			return bad("entry %q: %v", zf.Name, err)
		}
		n, err := io.Copy(out, io.LimitReader(rc, maxUnpackedBytes-total+1))
		rc.Close()
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return bad("entry %q: %v", zf.Name, err)
		}
		if total += n; total > maxUnpackedBytes {
			return bad("it unpacks to more than %d MB", maxUnpackedBytes>>20)
		}
		// The umask may have narrowed the mode.
		if err := os.Chmod(dst, perm); err != nil {
			return err
		}
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
