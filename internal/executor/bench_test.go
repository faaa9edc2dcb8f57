package executor

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openfgs/openfgs/internal/codestore/fs"
	"github.com/openfgs/openfgs/internal/fgs"
	"github.com/openfgs/openfgs/internal/runtime"
	"github.com/openfgs/openfgs/internal/runtime/python"
	"github.com/openfgs/openfgs/internal/sandbox"
)

func TestMain(m *testing.M) {
	sandbox.InitMain()
	os.Exit(m.Run())
}

// BenchmarkInvoke_PythonSandboxed is a warm no-op Python invocation through
// the executor and a real sandbox, without HTTP.
func BenchmarkInvoke_PythonSandboxed(b *testing.B) {
	if err := sandbox.Supported(); err != nil {
		b.Skip(err)
	}
	dir, err := os.MkdirTemp("/tmp", "fgs-exec-bench-")
	if err != nil {
		b.Fatal(err)
	}
	defer os.RemoveAll(dir)
	os.Chmod(dir, 0o711)
	ctx := context.Background()
	code, _ := fs.Open(filepath.Join(dir, "code"))
	digest, _, _ := code.Put(ctx, strings.NewReader("def handler(event, context):\n    return {}\n"), 0)
	rtDir := filepath.Join(dir, "rt")
	os.MkdirAll(rtDir, 0o755)
	py, err := python.New(rtDir)
	if err != nil {
		b.Fatal(err)
	}
	e, err := New(Options{RunDir: filepath.Join(dir, "run"), Code: code, Kinds: map[string]runtime.Kind{"Python3.9": py}, Prestart: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close(ctx)
	f := &fgs.Function{Project: "p", Package: "default", Name: "f", Version: "latest", Digest: digest, CodeType: "inline", CodeFilename: "index.py",
		LastModified: time.Unix(1, 0), Revision: 1, Config: fgs.Config{Runtime: "Python3.9", Handler: "index.handler", Timeout: 30, MemorySize: 128,
			StrategyConfig: fgs.StrategyConfig{Concurrency: 10, ConcurrentNum: 1}}}
	inv := &fgs.Invocation{Function: f, RequestID: "r", Event: []byte("{}")}
	for range 100 {
		if r, err := e.Invoke(ctx, inv); err != nil || r.Error != nil {
			b.Fatalf("Invoke = %+v, %v", r, err)
		}
	}
	b.ResetTimer()
	for b.Loop() {
		e.Invoke(ctx, inv)
	}
}
