package executor

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/openfgs/openfgs/internal/codestore/fs"
	"github.com/openfgs/openfgs/internal/fgs"
)

func testZip(t *testing.T, names ...string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, n := range names {
		w, err := zw.Create(n)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte("x = 1\n"))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// newTestCache is a code cache in a fresh folder over a code store that
// holds data; it returns the cache and a function of that package.
func newTestCache(t *testing.T, data []byte) (*codeCache, *fgs.Function) {
	t.Helper()
	store, err := fs.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	digest, _, err := store.Put(context.Background(), bytes.NewReader(data), 0)
	if err != nil {
		t.Fatal(err)
	}
	c, _, err := newCodeCache(filepath.Join(t.TempDir(), "code"), store)
	if err != nil {
		t.Fatal(err)
	}
	return c, &fgs.Function{Name: "f", Digest: digest, CodeType: "zip", CodeFilename: "code.zip",
		Config: fgs.Config{Runtime: "Python3.9", Handler: "index.handler"}}
}

func TestCodeCache_Unpack(t *testing.T) {
	c, f := newTestCache(t, testZip(t, "index.py", "lib/a.py"))
	dir, err := c.Dir(context.Background(), f)
	if err != nil {
		t.Fatalf("Dir = %v", err)
	}
	for _, name := range []string{"index.py", "lib/a.py"} {
		if b, err := os.ReadFile(filepath.Join(dir, name)); err != nil || string(b) != "x = 1\n" {
			t.Errorf("%s = %q, %v", name, b, err)
		}
	}
}

// A package that cannot be unpacked (accepted before the API checked
// packages, or by another server) is the function's fault, BadCodeEncoding, with
// a message that names no host path; nothing of it stays on disk.
func TestCodeCache_UnpackRefuses(t *testing.T) {
	for _, tc := range []struct {
		name  string
		data  []byte
		inMsg string
	}{
		{"file and folder", testZip(t, "a", "a/b"), "which is a file"},
		{"escapes", testZip(t, "../../evil"), `".."`},
		{"too deep", testZip(t, strings.Repeat("d/", 80)+"f"), "levels deep"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, f := newTestCache(t, tc.data)
			_, err := c.Dir(context.Background(), f)
			if err == nil {
				t.Fatal("Dir succeeded")
			}
			msg := fgs.MessageOf(err)
			if fgs.ReasonOf(err) != fgs.BadCodeEncoding || !strings.Contains(msg, tc.inMsg) {
				t.Errorf("Dir = %v (reason %v), want BadCodeEncoding saying %q", err, fgs.ReasonOf(err), tc.inMsg)
			}
			if strings.Contains(msg, c.dir) || strings.Contains(msg, "/tmp") {
				t.Errorf("message %q names a host path", msg)
			}
			if ents, _ := os.ReadDir(c.dir); len(ents) != 0 {
				t.Errorf("code folder keeps %d entries after a refusal", len(ents))
			}
		})
	}
}

// Code unpacked by an earlier run is removed at start-up, in the
// background, whether or not a function still uses it.
func TestCodeCache_SweptAtStart(t *testing.T) {
	h := newHarness(t, Options{}, echo)
	runDir := h.e.opt.RunDir
	if _, err := h.invoke(t, "1"); err != nil {
		t.Fatal(err)
	}
	unpacked := filepath.Join(runDir, "code", h.f.Digest)
	if _, err := os.Stat(unpacked); err != nil {
		t.Fatalf("no unpacked code after an invocation: %v", err)
	}
	stray := filepath.Join(runDir, "code", strings.Repeat("ab", 64))
	if err := os.MkdirAll(filepath.Join(stray, "deep", "er"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(stray, "deep", "er", "blob"), make([]byte, 1<<20), 0o644)
	h.e.Close(context.Background())

	opt := h.e.opt
	e2, err := New(opt)
	if err != nil {
		t.Fatal(err)
	}
	defer e2.Close(context.Background())
	waitFor(t, func() bool {
		ents, _ := os.ReadDir(runDir)
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), "code.old-") {
				return false
			}
		}
		return true
	})
	ents, err := os.ReadDir(filepath.Join(runDir, "code"))
	if err != nil || len(ents) != 0 {
		t.Errorf("code folder after a restart: %d entries, %v; want empty", len(ents), err)
	}
}

// removeTree stops when told to, leaving the rest for the next start.
func TestRemoveTree_Stops(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "a", "b"), 0o755)
	os.WriteFile(filepath.Join(dir, "a", "b", "f"), nil, 0o644)
	stop := make(chan struct{})
	close(stop)
	if err := removeTree(dir, stop); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "a", "b", "f")); err != nil {
		t.Errorf("removeTree after stop removed files: %v", err)
	}
	if err := removeTree(dir, make(chan struct{})); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("removeTree left %s: %v", dir, err)
	}
}

// Why a node cannot run functions names host folders: the client gets a
// 503 that says where to look, and the cause stays in the error for the
// log.
func TestExecutor_UnavailableHidesCause(t *testing.T) {
	cause := errors.New("functions cannot run from data dir /root/secret/fgs-data: folder /root is closed")
	h := newHarness(t, Options{Unavailable: cause}, echo)
	_, err := h.invoke(t, "1")
	if !fgs.Is(err, fgs.Unavailable) || !errors.Is(err, cause) {
		t.Fatalf("Invoke = %v, want Unavailable wrapping the cause", err)
	}
	if msg := fgs.MessageOf(err); strings.Contains(msg, "/root") {
		t.Errorf("client message %q names a host path", msg)
	}
}

// A runtime's reason for being unavailable may name the run dir; clients
// see it replaced.
func TestExecutor_UnavailableRuntimeHidesRunDir(t *testing.T) {
	h := newHarness(t, Options{}, echo)
	h.kind.availErr = fmt.Errorf("java: cannot compile %s/runtime/java/Bootstrap.java", h.e.opt.RunDir)
	_, err := h.invoke(t, "1")
	msg := fgs.MessageOf(err)
	if !fgs.Is(err, fgs.Unavailable) || !strings.Contains(msg, "<run dir>/runtime/java") {
		t.Fatalf("Invoke = %v (message %q), want Unavailable naming <run dir>", err, msg)
	}
	if strings.Contains(msg, h.e.opt.RunDir) {
		t.Errorf("client message %q names the run dir", msg)
	}
}
