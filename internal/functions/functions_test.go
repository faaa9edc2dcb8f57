package functions_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	codefs "github.com/openfgs/openfgs/internal/codestore/fs"
	"github.com/openfgs/openfgs/internal/fgs"
	"github.com/openfgs/openfgs/internal/functions"
	"github.com/openfgs/openfgs/internal/store/cache"
	"github.com/openfgs/openfgs/internal/store/sqlite"
)

type fixture struct {
	svc     *functions.Service
	codeDir string
	urn     fgs.URN
}

// newFixture is a service on a real SQLite store and file code store,
// behind the cache as the server runs it, with one Python function.
func newFixture(t *testing.T) fixture {
	t.Helper()
	ctx := t.Context()
	dir := t.TempDir()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "meta.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close(context.Background()) })
	must(t, st.PutDomain(ctx, fgs.Domain{ID: "d1", Name: "d1"}))
	must(t, st.PutProject(ctx, fgs.Project{ID: "p1", Name: "cn-north-4", Domain: "d1"}))
	codeDir := filepath.Join(dir, "code")
	code, err := codefs.Open(codeDir)
	if err != nil {
		t.Fatal(err)
	}
	svc := functions.New(functions.Options{Store: cache.New(st, 0), Code: code})
	_, err = svc.Create(ctx, functions.Create{
		Project: "p1", Package: "default", Name: "f",
		Config: fgs.Config{Runtime: "Python3.9", Handler: "index.handler", Timeout: 3, MemorySize: 128},
		Code:   inline("v0"),
	})
	must(t, err)
	return fixture{svc: svc, codeDir: codeDir, urn: fgs.URN{Project: "p1", Package: "default", Function: "f"}}
}

func inline(src string) functions.Code {
	return functions.Code{Type: "inline", File: base64.StdEncoding.EncodeToString([]byte("# " + src + "\n"))}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// Changes racing on one function all take effect: each lost
// compare-and-set is applied again to the newer state.
func TestService_ConcurrentChangesAllLand(t *testing.T) {
	fx := newFixture(t)
	ctx := t.Context()
	const n = 12
	var wg sync.WaitGroup
	errs := make(chan error, 2*n)
	for i := range n {
		wg.Go(func() {
			_, err := fx.svc.UpdateConfig(ctx, fx.urn, func(_ *fgs.Function, cfg *fgs.Config) error {
				// Each writer sets its own key in user_data, merging with
				// what is there: a lost update drops a key.
				cfg.UserData = addKey(cfg.UserData, fmt.Sprintf("k%d", i))
				return nil
			})
			errs <- err
		})
		wg.Go(func() {
			_, err := fx.svc.UpdateCode(ctx, fx.urn, inline(fmt.Sprint(i)))
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		must(t, err)
	}
	f, err := fx.svc.Resolve(ctx, fx.urn)
	must(t, err)
	for i := range n {
		if want := fmt.Sprintf(`"k%d":"1"`, i); !strings.Contains(f.UserData, want) {
			t.Errorf("user_data %s lacks %s: a configuration change was lost", f.UserData, want)
		}
	}
	// Only the package in use is left on disk.
	pkgs, _ := filepath.Glob(filepath.Join(fx.codeDir, "??", "*"))
	if len(pkgs) != 1 || filepath.Base(pkgs[0]) != f.Digest {
		t.Errorf("code store holds %v, want only %s", pkgs, f.Digest)
	}
}

// A change refused by its callback stores nothing and returns the
// callback's error as it is.
func TestService_RefusedChangeStoresNothing(t *testing.T) {
	fx := newFixture(t)
	ctx := t.Context()
	before, err := fx.svc.Resolve(ctx, fx.urn)
	must(t, err)
	refusal := fgs.Errorf(fgs.Invalid, fgs.NoReason, "no")
	_, err = fx.svc.UpdateConfig(ctx, fx.urn, func(_ *fgs.Function, cfg *fgs.Config) error {
		cfg.Timeout = 99
		return refusal
	})
	if err != refusal {
		t.Fatalf("UpdateConfig = %v, want the callback's error", err)
	}
	after, err := fx.svc.Resolve(ctx, fx.urn)
	must(t, err)
	if after.Revision != before.Revision || after.Timeout != before.Timeout {
		t.Errorf("refused change stored: revision %d -> %d, timeout %d -> %d", before.Revision, after.Revision, before.Timeout, after.Timeout)
	}
}

// Versions and aliases do not exist yet: naming one is NotFound with the
// reason that tells them apart, for reads and writes alike.
func TestService_UnknownQualifiers(t *testing.T) {
	fx := newFixture(t)
	ctx := t.Context()
	v := fx.urn
	v.Qualifier = "v1"
	a := fx.urn
	a.Qualifier, a.Alias = "prod", true
	for _, tc := range []struct {
		u    fgs.URN
		want fgs.Reason
	}{{v, fgs.VersionNotFound}, {a, fgs.AliasNotFound}} {
		if _, err := fx.svc.Resolve(ctx, tc.u); fgs.ReasonOf(err) != tc.want {
			t.Errorf("Resolve(%s) = %v, want %v", tc.u, err, tc.want)
		}
		if _, err := fx.svc.SetMaxInstances(ctx, tc.u, 3); fgs.ReasonOf(err) != tc.want {
			t.Errorf("SetMaxInstances(%s) = %v, want %v", tc.u, err, tc.want)
		}
	}
	latest := fx.urn
	latest.Qualifier = fgs.LatestVersion
	if _, err := fx.svc.Resolve(ctx, latest); err != nil {
		t.Errorf("Resolve(:latest) = %v", err)
	}
}

func addKey(userData, key string) string {
	if userData == "" {
		return fmt.Sprintf(`{"%s":"1"}`, key)
	}
	return userData[:len(userData)-1] + fmt.Sprintf(`,"%s":"1"}`, key)
}
