// Package codepkg checks and unpacks function code packages (ZIP
// archives) within limits on what they unpack to: total bytes, files and
// folders, path depth and length. Inspect decides, without writing
// anything, whether a package may be accepted; Extract unpacks one and
// enforces the same limits again while it writes, so a package whose
// headers lie, or one accepted under other limits, still stops at them.
//
// Every refusal is an *fgs.Error with reason BadCodeEncoding (the API
// answers 400 FSS.1011, "Invalid function code") and a message that names
// the offending entry as the archive spells it, never a path of this host.
package codepkg

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/openfgs/openfgs/internal/fgs"
)

// Limits bound what a package may unpack to.
type Limits struct {
	MaxUnpackedBytes int64 // total size of its files once unpacked
	MaxFiles         int   // files and folders, counting folders only implied by a path
	MaxDepth         int   // names in one entry's path ("a/b/c" is 3)
	MaxPathBytes     int   // bytes of one entry's path, after cleaning
}

// DefaultLimits are the documented limits: FunctionGraph's 1.5 GB
// unpacked, 50,000 files and folders, 64 levels, 1,024-byte paths (and,
// always, 255-byte names).
var DefaultLimits = Limits{
	MaxUnpackedBytes: 1500 << 20,
	MaxFiles:         50000,
	MaxDepth:         64,
	MaxPathBytes:     1024,
}

// maxNameBytes is the longest single name a Linux file system takes.
const maxNameBytes = 255

// BlockBytes is what each file and folder is charged on top of its
// bytes when a package's disk use is counted (see Stats.DiskBytes): one
// file system block.
const BlockBytes = 4096

// Stats describe what a package unpacks to.
type Stats struct {
	UnpackedBytes int64 // bytes of its files, as really decompressed
	Files         int   // files and folders it creates, implied folders included
}

// DiskBytes is the disk an unpacked package is charged for: its bytes
// plus one block per file and folder, so that a package of many empty
// files costs what its inodes cost.
func (s Stats) DiskBytes() int64 { return s.UnpackedBytes + int64(s.Files)*BlockBytes }

// invalid is a refusal of the package: the client's fault.
func invalid(format string, args ...any) error {
	return fgs.Errorf(fgs.Invalid, fgs.BadCodeEncoding, "invalid code package: "+format, args...)
}

// shown is an entry name as an error message quotes it: bounded, since
// names come from the client and may be long.
func shown(name string) string {
	if len(name) > 120 {
		name = name[:120] + "..."
	}
	return fmt.Sprintf("%q", name)
}

// entry is one archive member that passed the checks.
type entry struct {
	f    *zip.File
	name string // clean, slash-separated, relative
	dir  bool
}

// plan is what a package will create, from its central directory only.
type plan struct {
	entries  []entry
	files    int   // files and folders, implied ones included
	declared int64 // sum of the files' declared sizes
}

// Inspect checks a ZIP package against lim without writing anything: it
// reads the central directory (entry names, types, declared sizes, the
// file/folder tree) and then decompresses every file into io.Discard,
// counting the real bytes with a hard cap, so headers that understate a
// size are caught too. It returns what the package unpacks to.
func Inspect(data []byte, lim Limits) (Stats, error) {
	zr, err := open(data, lim)
	if err != nil {
		return Stats{}, err
	}
	p, err := makePlan(zr, lim)
	if err != nil {
		return Stats{}, err
	}
	st := Stats{Files: p.files}
	for _, e := range p.entries {
		if e.dir {
			continue
		}
		n, err := drain(io.Discard, e, lim.MaxUnpackedBytes-st.UnpackedBytes, lim.MaxUnpackedBytes)
		st.UnpackedBytes += n
		if err != nil {
			return Stats{}, err
		}
	}
	return st, nil
}

// Extract unpacks a ZIP package into dir, an empty folder, after the
// checks Inspect makes on the central directory. Folders are 0755, files
// 0644, or 0755 when the archive marks them executable or executable(name)
// says so (name is the clean slash-separated path). It counts the bytes it
// writes and stops at lim.MaxUnpackedBytes whatever the headers say. On an
// error dir holds a partial tree; the caller removes it.
//
// A refused package is a BadCodeEncoding error; a failure of this host (disk
// full, permissions) is an *fgs.Error without a client message, its cause
// (which names host paths) kept for the log.
func Extract(ctx context.Context, dir string, data []byte, lim Limits, executable func(name string) bool) (Stats, error) {
	zr, err := open(data, lim)
	if err != nil {
		return Stats{}, err
	}
	p, err := makePlan(zr, lim)
	if err != nil {
		return Stats{}, err
	}
	return extract(ctx, dir, p, lim, executable)
}

// extract writes a plan's entries under dir, capping the bytes written at
// lim.MaxUnpackedBytes (the plan's own checks may have used other limits).
func extract(ctx context.Context, dir string, p *plan, lim Limits, executable func(name string) bool) (Stats, error) {
	const op = "codepkg.Extract"
	st := Stats{Files: p.files}
	made := map[string]bool{"": true}
	mkdirs := func(name string) error {
		if made[name] {
			return nil
		}
		parts := strings.Split(name, "/")
		for i := range parts {
			sub := strings.Join(parts[:i+1], "/")
			if made[sub] {
				continue
			}
			d := filepath.Join(dir, filepath.FromSlash(sub))
			if err := os.Mkdir(d, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
				return fgs.E(op, err)
			}
			// The umask may have narrowed the mode.
			if err := os.Chmod(d, 0o755); err != nil {
				return fgs.E(op, err)
			}
			made[sub] = true
		}
		return nil
	}
	for _, e := range p.entries {
		if err := ctx.Err(); err != nil {
			return st, fgs.E(op, err)
		}
		if e.dir {
			if err := mkdirs(e.name); err != nil {
				return st, err
			}
			continue
		}
		if i := strings.LastIndexByte(e.name, '/'); i > 0 {
			if err := mkdirs(e.name[:i]); err != nil {
				return st, err
			}
		}
		perm := os.FileMode(0o644)
		if e.f.Mode().Perm()&0o111 != 0 || (executable != nil && executable(e.name)) {
			perm = 0o755
		}
		dst := filepath.Join(dir, filepath.FromSlash(e.name))
		out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm) // O_EXCL: never through a link
		if err != nil {
			return st, fgs.E(op, err)
		}
		n, err := drain(ctxWriter{ctx, out}, e, lim.MaxUnpackedBytes-st.UnpackedBytes, lim.MaxUnpackedBytes)
		st.UnpackedBytes += n
		if cerr := out.Close(); err == nil && cerr != nil {
			err = fgs.E(op, cerr)
		}
		if err != nil {
			return st, err
		}
		if err := os.Chmod(dst, perm); err != nil {
			return st, fgs.E(op, err)
		}
	}
	return st, nil
}

// ctxWriter stops a copy when ctx ends.
type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (w ctxWriter) Write(p []byte) (int, error) {
	if err := w.ctx.Err(); err != nil {
		return 0, err
	}
	return w.w.Write(p)
}

// writeError marks a failure of the destination, not of the archive.
type writeError struct{ err error }

func (e writeError) Error() string { return e.err.Error() }
func (e writeError) Unwrap() error { return e.err }

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	if err != nil {
		err = writeError{err}
	}
	return n, err
}

// drain decompresses one file into w, writing at most room bytes (what
// is left of limit); more is a refusal. It returns the bytes written.
func drain(w io.Writer, e entry, room, limit int64) (int64, error) {
	rc, err := e.f.Open()
	if err != nil {
		return 0, invalid("entry %s cannot be read: %v", shown(e.f.Name), err)
	}
	defer rc.Close()
	cw := &countingWriter{w: w}
	_, err = io.Copy(cw, io.LimitReader(rc, max(room, 0)+1))
	if we, ok := errors.AsType[writeError](err); ok {
		return cw.n, fgs.E("codepkg.Extract", we.err)
	}
	switch {
	case errors.Is(err, zip.ErrFormat): // archive/zip's check against the declared size
		return cw.n, invalid("entry %s holds more data than its header declares (%d bytes)", shown(e.f.Name), e.f.UncompressedSize64)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return cw.n, invalid("entry %s is truncated or holds less data than its header declares", shown(e.f.Name))
	case errors.Is(err, zip.ErrChecksum):
		return cw.n, invalid("entry %s fails its checksum", shown(e.f.Name))
	case err != nil:
		return cw.n, invalid("entry %s is corrupt: %v", shown(e.f.Name), err)
	}
	if cw.n > room {
		return cw.n, invalid("it unpacks to more than the %s allowed", mb(limit))
	}
	return cw.n, nil
}

// open parses the archive. The entry count in its end record is checked
// before the central directory is parsed, since parsing allocates for
// every entry.
func open(data []byte, lim Limits) (*zip.Reader, error) {
	if n, ok := declaredEntries(data); ok && n > uint64(lim.MaxFiles) {
		return nil, invalid("it has %d entries; at most %d files and folders are allowed", n, lim.MaxFiles)
	}
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) { // names are checked below, with clearer messages
		return nil, invalid("not a valid ZIP archive: %v", err)
	}
	if len(zr.File) > lim.MaxFiles {
		return nil, invalid("it has %d entries; at most %d files and folders are allowed", len(zr.File), lim.MaxFiles)
	}
	return zr, nil
}

// declaredEntries reads the total entry count from the archive's
// end-of-central-directory record (or its ZIP64 counterpart). ok is false
// when there is no such record where one is expected; zip.NewReader then
// reports the archive invalid.
func declaredEntries(data []byte) (n uint64, ok bool) {
	const eocdLen, maxComment = 22, 65535
	start := max(0, len(data)-eocdLen-maxComment)
	i := bytes.LastIndex(data[start:], []byte("PK\x05\x06"))
	if i < 0 || start+i+eocdLen > len(data) {
		return 0, false
	}
	at := start + i
	n = uint64(binary.LittleEndian.Uint16(data[at+10:]))
	if n != 0xffff {
		return n, true
	}
	// ZIP64: a 20-byte locator right before the record points at the
	// ZIP64 end record, whose count is 8 bytes at offset 32.
	loc := at - 20
	if loc < 0 || !bytes.HasPrefix(data[loc:], []byte("PK\x06\x07")) {
		return n, true
	}
	off := binary.LittleEndian.Uint64(data[loc+8:])
	if off > uint64(len(data)) || uint64(len(data))-off < 56 || !bytes.HasPrefix(data[off:], []byte("PK\x06\x06")) {
		return n, true
	}
	return binary.LittleEndian.Uint64(data[off+32:]), true
}

// makePlan checks every entry of the central directory: its name, its
// type, its place in the tree (no name both a file and a folder, none
// twice), the count of files and folders and the declared sizes.
func makePlan(zr *zip.Reader, lim Limits) (*plan, error) {
	p := &plan{entries: make([]entry, 0, len(zr.File))}
	isDir := map[string]bool{} // every name the package creates: true for a folder
	for _, f := range zr.File {
		name, err := cleanName(f.Name, lim)
		if err != nil {
			return nil, err
		}
		mode := f.Mode()
		dir := strings.HasSuffix(strings.ReplaceAll(f.Name, "\\", "/"), "/") || mode.IsDir()
		switch {
		case mode&os.ModeSymlink != 0:
			return nil, invalid("entry %s is a symbolic link; links are not allowed", shown(f.Name))
		case !dir && !mode.IsRegular():
			return nil, invalid("entry %s is not a regular file or folder", shown(f.Name))
		}
		if name == "" {
			if dir {
				continue // the package's own root
			}
			return nil, invalid("entry %s has no file name", shown(f.Name))
		}
		if !dir {
			if f.Flags&0x1 != 0 {
				return nil, invalid("entry %s is encrypted; encrypted packages are not supported", shown(f.Name))
			}
			if f.Method != zip.Store && f.Method != zip.Deflate {
				return nil, invalid("entry %s uses compression method %d; only stored and deflated entries are supported", shown(f.Name), f.Method)
			}
		}
		for i := 0; i < len(name); i++ {
			if name[i] != '/' {
				continue
			}
			parent := name[:i]
			folder, seen := isDir[parent]
			if seen && !folder {
				return nil, invalid("entry %s is inside %s, which is a file", shown(f.Name), shown(parent))
			}
			if !seen {
				isDir[parent] = true
			}
		}
		folder, seen := isDir[name]
		switch {
		case seen && folder != dir:
			return nil, invalid("%s is both a file and a folder", shown(name))
		case seen && !dir:
			return nil, invalid("file %s appears twice", shown(name))
		}
		isDir[name] = dir
		if len(isDir) > lim.MaxFiles {
			return nil, invalid("it makes more than %d files and folders (implied folders included)", lim.MaxFiles)
		}
		if !dir {
			if f.UncompressedSize64 > uint64(lim.MaxUnpackedBytes-p.declared) {
				return nil, invalid("its files add up to more than the %s allowed unpacked", mb(lim.MaxUnpackedBytes))
			}
			p.declared += int64(f.UncompressedSize64)
		}
		p.entries = append(p.entries, entry{f: f, name: name, dir: dir})
	}
	p.files = len(isDir)
	return p, nil
}

// cleanName turns an entry name into a clean relative slash path ("" for
// the root), refusing what could leave the package or that the file system
// cannot hold: NUL bytes, absolute paths, ".." names, names over 255
// bytes, paths past the limits. Backslashes count as separators (archives
// made on Windows).
func cleanName(raw string, lim Limits) (string, error) {
	if strings.IndexByte(raw, 0) >= 0 {
		return "", invalid("entry %s has a NUL byte in its name", shown(raw))
	}
	s := strings.ReplaceAll(raw, "\\", "/")
	if strings.HasPrefix(s, "/") {
		return "", invalid("entry %s has an absolute path; paths must be relative to the package", shown(raw))
	}
	var parts []string
	for _, part := range strings.Split(s, "/") {
		switch part {
		case "", ".":
			continue
		case "..":
			return "", invalid("entry %s has a \"..\" in its path; paths must stay inside the package", shown(raw))
		}
		if len(part) > maxNameBytes {
			return "", invalid("entry %s has a name longer than %d bytes", shown(raw), maxNameBytes)
		}
		parts = append(parts, part)
	}
	if len(parts) > lim.MaxDepth {
		return "", invalid("entry %s is %d levels deep; at most %d are allowed", shown(raw), len(parts), lim.MaxDepth)
	}
	name := strings.Join(parts, "/")
	if len(name) > lim.MaxPathBytes {
		return "", invalid("entry %s has a path of %d bytes; at most %d are allowed", shown(raw), len(name), lim.MaxPathBytes)
	}
	return name, nil
}

// mb formats a byte count in whole MB.
func mb(n int64) string { return fmt.Sprintf("%d MB", n>>20) }
