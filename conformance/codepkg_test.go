package conformance

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/huaweicloud/huaweicloud-sdk-go-v3/services/functiongraph/v2/model"
)

// Code packages that would unpack past the documented limits (1500 MB,
// 50,000 files and folders, 64 levels, 1,024-byte paths) or out of their
// folder are refused when they are uploaded, with 400 FSS.1011, and cost
// the server no disk (docs/api.md, "Code").

// zeroStream is a raw deflate stream of n zero bytes (n a multiple of
// 1 MiB) and their CRC-32, made without compressing n bytes: one
// compressed MiB, sync-flushed so it ends on a byte boundary, repeated,
// then an empty final block.
func zeroStream(t testing.TB, n int64) ([]byte, uint32) {
	t.Helper()
	const chunk = 1 << 20
	if n%chunk != 0 {
		t.Fatalf("zeroStream(%d): not a multiple of %d", n, chunk)
	}
	var c bytes.Buffer
	fw, _ := flate.NewWriter(&c, flate.BestCompression)
	fw.Write(make([]byte, chunk))
	fw.Flush()
	stream := append(bytes.Repeat(c.Bytes(), int(n/chunk)), 0x01, 0x00, 0x00, 0xff, 0xff)
	crc, z := uint32(0), make([]byte, chunk)
	for i := int64(0); i < n/chunk; i++ {
		crc = crc32.Update(crc, crc32.IEEETable, z)
	}
	return stream, crc
}

// zipBomb is index.py plus files blobs of size zero bytes each, whose
// headers declare declared bytes each (honest when they are equal).
func zipBomb(t testing.TB, files int, size, declared int64) []byte {
	t.Helper()
	stream, crc := zeroStream(t, size)
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, _ := zw.Create("index.py")
	w.Write([]byte(pythonIndex))
	for i := range files {
		w, err := zw.CreateRaw(&zip.FileHeader{Name: fmt.Sprintf("data/blob%d.bin", i), Method: zip.Deflate, CRC32: crc,
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

// zipNames is a zip of index.py and empty entries with the given names.
func zipNames(t testing.TB, names ...string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, _ := zw.Create("index.py")
	w.Write([]byte(pythonIndex))
	for _, n := range names {
		if _, err := zw.CreateHeader(&zip.FileHeader{Name: n, Method: zip.Store}); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// diskUse is the bytes of the regular files under dir.
func diskUse(t testing.TB, dir string) int64 {
	t.Helper()
	var n int64
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

// noHostPath fails when an error message sent to the client names the
// server's data dir (or any temporary folder).
func noHostPath(t testing.TB, what string, err error, s *Server) {
	t.Helper()
	if e := sdkError(err); e != nil && (strings.Contains(e.ErrorMessage, s.DataDir) || strings.Contains(e.ErrorMessage, os.TempDir()+"/")) {
		t.Errorf("%s: error_msg %q names a host path", what, e.ErrorMessage)
	}
}

func TestCodePackageLimits(t *testing.T) {
	s := startServer(t, serverOpts{})
	c := s.Client(t)
	urn := deploy(t, c, fnSpec{Name: "bomb-target", Runtime: "Python3.9", Files: map[string]string{"index.py": pythonIndex}})

	many := func(n int, format string) []string {
		names := make([]string, n)
		for i := range names {
			names[i] = fmt.Sprintf(format, i)
		}
		return names
	}
	cases := []struct {
		name string
		pkg  func(t *testing.T) []byte
	}{
		// 2 GiB of zeros in 2 MB.
		{"high compression ratio", func(t *testing.T) []byte { return zipBomb(t, 1, 2<<30, 2<<30) }},
		// 16 files of 100 MiB: each within the limit, not all of them.
		{"many large files", func(t *testing.T) []byte { return zipBomb(t, 16, 100<<20, 100<<20) }},
		// 2 GiB whose header says 1 KB.
		{"lying header", func(t *testing.T) []byte { return zipBomb(t, 1, 2<<30, 1024) }},
		// 1 MiB whose header says 2^60 bytes.
		{"huge declared size", func(t *testing.T) []byte { return zipBomb(t, 1, 1<<20, 1<<60) }},
		{"many files", func(t *testing.T) []byte { return zipNames(t, many(50000, "f%d")...) }},
		{"many folders", func(t *testing.T) []byte { return zipNames(t, many(30000, "d%d/f")...) }},
		{"file and folder", func(t *testing.T) []byte { return zipNames(t, "a", "a/b") }},
		{"folder and file", func(t *testing.T) []byte { return zipNames(t, "a/b", "a") }},
		{"deep path", func(t *testing.T) []byte { return zipNames(t, strings.Repeat("d/", 64)+"f") }},
		{"long path", func(t *testing.T) []byte { return zipNames(t, strings.Repeat("abcdefghijklmnopqrstuvwxyz/", 40)+"f") }},
		{"dot dot", func(t *testing.T) []byte { return zipNames(t, "../../evil.py") }},
		{"absolute path", func(t *testing.T) []byte { return zipNames(t, "/etc/evil.py") }},
		{"NUL in a name", func(t *testing.T) []byte { return zipNames(t, "a\x00b") }},
	}
	before := diskUse(t, s.DataDir)
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pkg := tc.pkg(t)
			t.Logf("package of %d bytes", len(pkg))
			_, err := create(c, &model.CreateFunctionRequestBody{
				FuncName: fmt.Sprintf("bomb-%d", i), Package: "default", Runtime: runtimeOf("Python3.9"), Handler: "index.handler",
				Timeout: 30, MemorySize: 128, CodeType: codeType("zip"), CodeFilename: ptr("code.zip"),
				FuncCode: &model.FuncCode{File: ptr(b64(pkg))},
			})
			wantSDKError(t, "CreateFunction", err, 400, "FSS.1011")
			noHostPath(t, "CreateFunction", err, s)
			if e := sdkError(err); e != nil {
				t.Logf("CreateFunction: %s", e.ErrorMessage)
			}
			_, err = updateCode(c, urn, &model.UpdateFunctionCodeRequestBody{CodeType: updCodeType("zip"), CodeFilename: ptr("code.zip"),
				FuncCode: &model.FuncCode{File: ptr(b64(pkg))}})
			wantSDKError(t, "UpdateFunctionCode", err, 400, "FSS.1011")
			noHostPath(t, "UpdateFunctionCode", err, s)
		})
	}
	if grew := diskUse(t, s.DataDir) - before; grew > 1<<20 {
		t.Errorf("the data dir grew by %d bytes while packages were refused", grew)
	}

	// The function kept its code, and a package at the limits is fine.
	cfg, err := showConfig(c, urn)
	must(t, "ShowFunctionConfig", err)
	if got := deref(cfg.CodeSize); got > 4096 {
		t.Errorf("code_size after refused updates = %d, want the original small package", got)
	}
	_, err = updateCode(c, urn, &model.UpdateFunctionCodeRequestBody{CodeType: updCodeType("zip"), CodeFilename: ptr("code.zip"),
		FuncCode: &model.FuncCode{File: ptr(b64(zipNames(t, strings.Repeat("d/", 63)+"f")))}})
	must(t, "UpdateFunctionCode with a 64-level path", err)
	if msg, missing := runtimeMissing(t, s, urn); missing {
		t.Logf("Python3.9 cannot run here (%s): not invoking", msg)
		return
	}
	s.invokeOK(t, urn, `{"name":"deep"}`, nil)
}

// A NUL in a user_data value cannot become an environment variable: 400.
func TestUserDataNUL(t *testing.T) {
	s := startServer(t, serverOpts{})
	c := s.Client(t)
	body := pyInline("nul-env")
	body.UserData = ptr(`{"GOOD":"1","BAD":"x\u0000y"}`)
	_, err := create(c, body)
	wantSDKError(t, "CreateFunction", err, 400, "FSS.1009")

	urn := deploy(t, c, fnSpec{Name: "nul-env2", Runtime: "Python3.9", Inline: pythonIndex})
	upd := updBody("nul-env2")
	upd.UserData = ptr(`{"BAD":"\u0000"}`)
	_, err = updateConfig(c, urn, upd)
	wantSDKError(t, "UpdateFunctionConfig", err, 400, "FSS.1009")
}

// A data dir under a folder only root may search (like /root) still runs
// Python and Node.js functions: the server opens their code for the
// sandbox (docs/runtimes.md, "The sandbox").
func TestDataDirUnderClosedFolder(t *testing.T) {
	closed := filepath.Join(t.TempDir(), "closed")
	if err := os.Mkdir(closed, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(closed, 0o700); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, serverOpts{DataDir: filepath.Join(closed, "data")})
	c := s.Client(t)
	for _, f := range []fnSpec{
		{Name: "closed-py", Runtime: "Python3.9", Files: map[string]string{"index.py": pythonIndex}},
		{Name: "closed-py-inline", Runtime: "Python3.9", Inline: pythonIndex},
		{Name: "closed-node", Runtime: "Node.js18.15", Files: map[string]string{"index.js": nodeIndex, "lib/helper.js": nodeHelper}},
	} {
		t.Run(f.Name, func(t *testing.T) {
			urn := deploy(t, c, f)
			r := s.invoke(t, urn, `{"name":"closed"}`, nil)
			if r.HTTP == 503 {
				var e struct {
					Msg string `json:"error_msg"`
				}
				json.Unmarshal(r.Raw, &e)
				if strings.HasPrefix(e.Msg, "runtime ") && strings.Contains(e.Msg, "is not available on this node") {
					t.Skipf("%s cannot run here: %s", f.Runtime, e.Msg)
				}
				if strings.Contains(string(r.Raw), s.DataDir) {
					t.Errorf("the 503 names the data dir: %s", r.Raw)
				}
			}
			if r.HTTP != 200 || r.Status != 200 || r.Header.Get("X-Is-Func-Err") != "false" {
				t.Fatalf("invoke: %v; want HTTP 200, status 200", r)
			}
			if !strings.Contains(r.Result, "hello") || !strings.Contains(r.Result, "closed") {
				t.Errorf("result %s does not greet closed", r.Result)
			}
		})
	}
}
