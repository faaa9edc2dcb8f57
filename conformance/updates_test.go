package conformance

import (
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/huaweicloud/huaweicloud-sdk-go-v3/services/functiongraph/v2/model"
)

// Concurrent UpdateFunctionCode and UpdateFunctionConfig calls on one
// function both take effect: neither answers 200 and is then undone by
// the other, and no code package is left behind that nothing uses.
func TestConcurrentUpdates(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOpts{})
	c := s.Client(t)
	r := mustCreate(t, c, pyInline("racing-updates"))
	urn := deref(r.FuncUrn)

	const rounds = 100
	for i := range rounds {
		code := fmt.Sprintf("%s\n# round %d\n", pythonIndex, i)
		desc := fmt.Sprintf("round %d", i)
		var wg sync.WaitGroup
		var codeErr, cfgErr error
		wg.Go(func() {
			_, codeErr = updateCode(c, urn, &model.UpdateFunctionCodeRequestBody{
				CodeType: updCodeType("inline"), CodeFilename: ptr("index.py"),
				FuncCode: &model.FuncCode{File: ptr(b64([]byte(code)))},
			})
		})
		wg.Go(func() {
			body := updBody("racing-updates")
			body.Description = ptr(desc)
			body.Timeout = int32(10 + i%50)
			_, cfgErr = updateConfig(c, urn, body)
		})
		wg.Wait()
		must(t, fmt.Sprintf("round %d: UpdateFunctionCode", i), codeErr)
		must(t, fmt.Sprintf("round %d: UpdateFunctionConfig", i), cfgErr)

		cfg, err := showConfig(c, urn)
		must(t, "ShowFunctionConfig", err)
		if got := deref(cfg.Description); got != desc {
			t.Fatalf("round %d: description %q, want %q: the config update was lost", i, got, desc)
		}
		if got, want := deref(cfg.Timeout), int32(10+i%50); got != want {
			t.Fatalf("round %d: timeout %d, want %d: the config update was lost", i, got, want)
		}
		if got, want := deref(cfg.Digest), sha512hex([]byte(code)); got != want {
			t.Fatalf("round %d: digest %s, want the new code's %s: the code update was lost", i, got, want)
		}
	}

	// One function, one package on disk: every replaced package was
	// removed.
	var pkgs []string
	err := filepath.WalkDir(filepath.Join(s.DataDir, "code"), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && !strings.HasPrefix(filepath.Base(filepath.Dir(p)), "tmp") {
			pkgs = append(pkgs, filepath.Base(p))
		}
		return nil
	})
	must(t, "walking the code store", err)
	if len(pkgs) != 1 {
		t.Errorf("the code store holds %d packages after %d rounds, want 1: %v", len(pkgs), rounds, pkgs)
	}
}
