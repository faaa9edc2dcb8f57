package codepkg

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"context"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openfgs/openfgs/internal/fgs"
)

// member is one entry of a test archive.
type member struct {
	name string
	body string
	mode fs.FileMode // 0: a regular 0644 file (a folder when name ends in /)
}

func zipOf(t testing.TB, ms ...member) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, m := range ms {
		h := &zip.FileHeader{Name: m.name, Method: zip.Deflate}
		if m.mode != 0 {
			h.SetMode(m.mode)
		}
		w, err := zw.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte(m.body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// zeros is a raw deflate stream of n zero bytes (n a multiple of 1 MiB)
// and its CRC-32, made without compressing n bytes: one compressed MiB,
// sync-flushed so that it ends on a byte boundary, repeated, then an
// empty final block.
func zeros(t testing.TB, n int64) ([]byte, uint32) {
	t.Helper()
	const chunk = 1 << 20
	if n%chunk != 0 {
		t.Fatalf("zeros(%d): not a multiple of %d", n, chunk)
	}
	var c bytes.Buffer
	fw, _ := flate.NewWriter(&c, flate.BestCompression)
	fw.Write(make([]byte, chunk))
	fw.Flush()
	stream := bytes.Repeat(c.Bytes(), int(n/chunk))
	stream = append(stream, 0x01, 0x00, 0x00, 0xff, 0xff)
	crc := uint32(0)
	z := make([]byte, chunk)
	for i := int64(0); i < n/chunk; i++ {
		crc = crc32.Update(crc, crc32.IEEETable, z)
	}
	return stream, crc
}

// bomb is an archive of files of size zero bytes each, whose headers
// declare declared bytes each (honest when declared == size).
func bomb(t testing.TB, files int, size, declared int64) []byte {
	t.Helper()
	stream, crc := zeros(t, size)
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for i := range files {
		w, err := zw.CreateRaw(&zip.FileHeader{Name: fmt.Sprintf("blob%d.bin", i), Method: zip.Deflate, CRC32: crc,
			CompressedSize64: uint64(len(stream)), UncompressedSize64: uint64(declared)})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(stream)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func wantRefused(t *testing.T, what string, err error, inMsg string) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: accepted, want BadCodeEncoding", what)
	}
	if fgs.ReasonOf(err) != fgs.BadCodeEncoding || fgs.KindOf(err) != fgs.Invalid {
		t.Fatalf("%s: %v (reason %v, kind %v), want BadCodeEncoding, Invalid", what, err, fgs.ReasonOf(err), fgs.KindOf(err))
	}
	if msg := fgs.MessageOf(err); !strings.Contains(msg, inMsg) {
		t.Errorf("%s: message %q does not say %q", what, msg, inMsg)
	}
}

func TestInspect_Accepts(t *testing.T) {
	data := zipOf(t,
		member{name: "index.py", body: "def handler(e, c): return e\n"},
		member{name: "lib/"},
		member{name: "lib/a.py", body: "A = 1\n"},
		member{name: "lib\\sub\\b.py", body: "B = 2\n"}, // made on Windows
		member{name: "./c.txt", body: "c"},
		member{name: "bin/tool", body: "#!/bin/sh\n", mode: 0o755},
	)
	st, err := Inspect(data, DefaultLimits)
	if err != nil {
		t.Fatalf("Inspect = %v", err)
	}
	// index.py lib lib/a.py lib/sub lib/sub/b.py c.txt bin bin/tool
	want := Stats{UnpackedBytes: int64(len("def handler(e, c): return e\n") + 6 + 6 + 1 + 10), Files: 8}
	if st != want {
		t.Errorf("Inspect = %+v, want %+v", st, want)
	}
	if got := st.DiskBytes(); got != want.UnpackedBytes+8*BlockBytes {
		t.Errorf("DiskBytes = %d", got)
	}
	// An empty archive is a valid (if useless) package.
	if st, err := Inspect(zipOf(t), DefaultLimits); err != nil || st != (Stats{}) {
		t.Errorf("Inspect(empty) = %+v, %v", st, err)
	}
}

func TestInspect_Bombs(t *testing.T) {
	small := DefaultLimits
	small.MaxUnpackedBytes = 8 << 20
	for _, tc := range []struct {
		name  string
		data  func(t *testing.T) []byte
		lim   Limits
		inMsg string
	}{
		// 2 GiB of zeros in about 2 MB: refused from its headers alone.
		{"high ratio", func(t *testing.T) []byte { return bomb(t, 1, 2<<30, 2<<30) }, DefaultLimits, "more than the 1500 MB allowed"},
		// Each file is within the limit; together they are not.
		{"many big files", func(t *testing.T) []byte { return bomb(t, 16, 100<<20, 100<<20) }, DefaultLimits, "more than the 1500 MB allowed"},
		{"over a small limit", func(t *testing.T) []byte { return bomb(t, 1, 16<<20, 16<<20) }, small, "more than the 8 MB allowed"},
		// Headers that say 1 KB for 64 MB: caught while decompressing.
		{"lying header", func(t *testing.T) []byte { return bomb(t, 1, 64<<20, 1024) }, DefaultLimits, "more data than its header declares (1024 bytes)"},
		// Headers that say 2^60 bytes for 1 MB.
		{"huge declared size", func(t *testing.T) []byte { return bomb(t, 1, 1<<20, 1<<60) }, DefaultLimits, "more than the 1500 MB allowed"},
		{"many files", func(t *testing.T) []byte {
			ms := make([]member, 50001)
			for i := range ms {
				ms[i] = member{name: fmt.Sprint(i)}
			}
			return zipOf(t, ms...)
		}, DefaultLimits, "at most 50000 files and folders"},
		{"many implied folders", func(t *testing.T) []byte {
			ms := make([]member, 30000)
			for i := range ms {
				ms[i] = member{name: fmt.Sprintf("d%d/f", i)}
			}
			return zipOf(t, ms...)
		}, DefaultLimits, "more than 50000 files and folders"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := tc.data(t)
			t0 := time.Now()
			_, err := Inspect(data, tc.lim)
			t.Logf("%d-byte package refused in %v: %v", len(data), time.Since(t0), err)
			wantRefused(t, "Inspect", err, tc.inMsg)
		})
	}
}

// A package just within the limit is accepted and its real size counted.
func TestInspect_AtTheLimit(t *testing.T) {
	lim := DefaultLimits
	lim.MaxUnpackedBytes = 32 << 20
	st, err := Inspect(bomb(t, 2, 16<<20, 16<<20), lim)
	if err != nil || st.UnpackedBytes != 32<<20 || st.Files != 2 {
		t.Fatalf("Inspect = %+v, %v; want 32 MiB in 2 files", st, err)
	}
}

func TestInspect_Refuses(t *testing.T) {
	deep := strings.Repeat("d/", 64) + "f"
	long := strings.Repeat("abcdefgh/", 114) + "f" // 1027 bytes, 115 levels
	longOK := strings.Repeat("abcdefgh/", 60) + "f"
	for _, tc := range []struct {
		name  string
		ms    []member
		inMsg string
	}{
		{"file then folder", []member{{name: "a", body: "x"}, {name: "a/b", body: "y"}}, `inside "a", which is a file`},
		{"folder then file", []member{{name: "a/b", body: "y"}, {name: "a", body: "x"}}, `"a" is both a file and a folder`},
		{"folder entry then file", []member{{name: "a/"}, {name: "a", body: "x"}}, "both a file and a folder"},
		{"file twice", []member{{name: "a", body: "x"}, {name: "a", body: "y"}}, "appears twice"},
		{"file twice by another spelling", []member{{name: "a/b", body: "x"}, {name: "a\\b", body: "y"}}, "appears twice"},
		{"dot dot", []member{{name: "../evil.py", body: "x"}}, `".."`},
		{"dot dot inside", []member{{name: "a/../b.py", body: "x"}}, `".."`},
		{"absolute", []member{{name: "/etc/evil", body: "x"}}, "absolute path"},
		{"absolute backslash", []member{{name: "\\etc\\evil", body: "x"}}, "absolute path"},
		{"NUL", []member{{name: "a\x00b", body: "x"}}, "NUL"},
		{"too deep", []member{{name: deep, body: "x"}}, "65 levels deep; at most 64"},
		{"path too long", []member{{name: long, body: "x"}}, "115 levels deep"},
		{"name too long", []member{{name: strings.Repeat("n", 256), body: "x"}}, "longer than 255 bytes"},
		{"symlink", []member{{name: "link", body: "/etc/passwd", mode: fs.ModeSymlink | 0o777}}, "symbolic link"},
		{"device", []member{{name: "dev", mode: fs.ModeDevice | 0o644}}, "not a regular file"},
		{"no name", []member{{name: "./", body: ""}, {name: ".", body: "x"}}, "no file name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Inspect(zipOf(t, tc.ms...), DefaultLimits)
			wantRefused(t, "Inspect", err, tc.inMsg)
		})
	}
	lim := DefaultLimits
	lim.MaxDepth = 1000
	_, err := Inspect(zipOf(t, member{name: long, body: "x"}), lim)
	wantRefused(t, "Inspect(long path)", err, "path of 1027 bytes; at most 1024")
	if _, err := Inspect(zipOf(t, member{name: longOK, body: "x"}), DefaultLimits); err != nil {
		t.Errorf("Inspect(61 levels, 541 bytes) = %v, want it accepted", err)
	}

	if _, err := Inspect([]byte("not a zip at all"), DefaultLimits); err == nil {
		t.Error("Inspect(not a zip) accepted")
	} else {
		wantRefused(t, "Inspect(not a zip)", err, "not a valid ZIP archive")
	}

	// Encrypted entries, compression methods Go cannot read, entries whose
	// data does not match their header.
	for _, tc := range []struct {
		name  string
		edit  func(h *zip.FileHeader)
		inMsg string
	}{
		{"encrypted", func(h *zip.FileHeader) { h.Flags |= 0x1 }, "encrypted"},
		{"bzip2", func(h *zip.FileHeader) { h.Method = 12 }, "compression method 12"},
		{"bad checksum", func(h *zip.FileHeader) { h.CRC32 = 1234 }, "fails its checksum"},
		{"short", func(h *zip.FileHeader) { h.CRC32 = crc32.ChecksumIEEE([]byte("x")); h.UncompressedSize64 = 2 }, "holds less data than its header declares"},
	} {
		var buf bytes.Buffer
		zw := zip.NewWriter(&buf)
		h := &zip.FileHeader{Name: "x", Method: zip.Store, CompressedSize64: 1, UncompressedSize64: 1}
		tc.edit(h)
		w, _ := zw.CreateRaw(h)
		w.Write([]byte("x"))
		zw.Close()
		_, err := Inspect(buf.Bytes(), DefaultLimits)
		wantRefused(t, tc.name, err, tc.inMsg)
	}
}

// The entry count is read from the end record before the central
// directory is parsed, for plain and ZIP64 archives.
func TestDeclaredEntries(t *testing.T) {
	for _, n := range []int{0, 3, 70000} {
		ms := make([]member, n)
		for i := range ms {
			ms[i] = member{name: fmt.Sprint(i)}
		}
		data := zipOf(t, ms...)
		got, ok := declaredEntries(data)
		if !ok || got != uint64(n) {
			t.Errorf("declaredEntries(%d entries) = %d, %v", n, got, ok)
		}
	}
	if _, ok := declaredEntries([]byte("PK\x05\x06 short")); ok {
		t.Error("declaredEntries(truncated record) ok")
	}
}

func TestExtract(t *testing.T) {
	dir := t.TempDir()
	data := zipOf(t,
		member{name: "index.py", body: "print(1)\n"},
		member{name: "lib\\sub\\b.py", body: "B = 2\n"},
		member{name: "tool", body: "#!/bin/sh\n", mode: 0o700},
		member{name: "bootstrap", body: "#!/bin/sh\n"},
		member{name: "empty/"},
	)
	st, err := Extract(context.Background(), dir, data, DefaultLimits, func(name string) bool { return name == "bootstrap" })
	if err != nil {
		t.Fatalf("Extract = %v", err)
	}
	if st.Files != 7 || st.UnpackedBytes != 9+6+10+10 {
		t.Errorf("Extract = %+v", st)
	}
	for name, want := range map[string]fs.FileMode{
		"index.py": 0o644, "lib": fs.ModeDir | 0o755, "lib/sub": fs.ModeDir | 0o755, "lib/sub/b.py": 0o644,
		"tool": 0o755, "bootstrap": 0o755, "empty": fs.ModeDir | 0o755,
	} {
		fi, err := os.Lstat(filepath.Join(dir, name))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if fi.Mode() != want {
			t.Errorf("%s: mode %v, want %v", name, fi.Mode(), want)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "lib/sub/b.py")); string(b) != "B = 2\n" {
		t.Errorf("lib/sub/b.py = %q", b)
	}
}

// Extract refuses what Inspect refuses, before it writes anything.
func TestExtract_RefusesFirst(t *testing.T) {
	dir := t.TempDir()
	data := zipOf(t, member{name: "ok.py", body: "x"}, member{name: "a", body: "x"}, member{name: "a/b", body: "y"})
	_, err := Extract(context.Background(), dir, data, DefaultLimits, nil)
	wantRefused(t, "Extract", err, "which is a file")
	if strings.Contains(fgs.MessageOf(err), dir) {
		t.Errorf("message %q names the host folder", fgs.MessageOf(err))
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("Extract wrote %d entries before refusing", len(ents))
	}
}

// The writer stops at the byte limit even when the checks before it let
// the package through (a package accepted under other limits, or headers
// that lie in a way the checks cannot see).
func TestExtract_CapsWhileWriting(t *testing.T) {
	dir := t.TempDir()
	zr, err := open(bomb(t, 4, 4<<20, 4<<20), DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	p, err := makePlan(zr, DefaultLimits) // 16 MiB is fine here
	if err != nil {
		t.Fatal(err)
	}
	lim := DefaultLimits
	lim.MaxUnpackedBytes = 6 << 20
	_, err = extract(context.Background(), dir, p, lim, nil)
	wantRefused(t, "extract", err, "more than the 6 MB allowed")
	var total int64
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if fi, err := d.Info(); err == nil && fi.Mode().IsRegular() {
			total += fi.Size()
		}
		return nil
	})
	if total > 6<<20+1 {
		t.Errorf("wrote %d bytes, more than the %d-byte cap", total, 6<<20)
	}
}

// A write failure is the host's fault: no client message, and the cause
// (with its path) kept for the log.
func TestExtract_HostFailure(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "missing")
	_, err := Extract(context.Background(), dir, zipOf(t, member{name: "a", body: "x"}), DefaultLimits, nil)
	if err == nil || fgs.KindOf(err) != fgs.Other || fgs.MessageOf(err) != "" {
		t.Fatalf("Extract into a missing folder = %v (kind %v, message %q), want a platform error without a client message", err, fgs.KindOf(err), fgs.MessageOf(err))
	}
	if !strings.Contains(err.Error(), dir) {
		t.Errorf("cause %v does not name the folder for the log", err)
	}
}
