package cache

import (
	"context"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/openfgs/openfgs/internal/fgs"
	"github.com/openfgs/openfgs/internal/store/sqlite"
	"github.com/openfgs/openfgs/internal/store/storetest"
)

func openSQLite(t *testing.T) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "meta.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close(context.Background()) })
	return st
}

// The cache is a Store like any other.
func TestStore_Conformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) fgs.Store { return New(openSQLite(t), time.Hour) })
}

// A write through another handle on the same database is seen once the
// TTL has passed, and not before; a write through the cache at once.
func TestStore_TTLAndInvalidation(t *testing.T) {
	ctx := context.Background()
	back := openSQLite(t)
	c := New(back, time.Hour)
	now := time.Unix(1_800_000_000, 0)
	c.now = func() time.Time { return now }

	back.PutDomain(ctx, fgs.Domain{ID: "d", Name: "d"})
	back.PutProject(ctx, fgs.Project{ID: "p", Name: "r", Domain: "d"})
	cred := fgs.Credential{AccessKey: "AKAKAKAKAK", SecretKey: "s1s1s1s1s1s1s1s1s1", Project: "p"}
	back.PutCredential(ctx, cred)
	if got, err := c.Credential(ctx, cred.AccessKey); err != nil || got.SecretKey != cred.SecretKey {
		t.Fatalf("Credential = %v, %v", got, err)
	}
	// Another process deletes it: still cached within the TTL...
	back.DeleteCredential(ctx, cred.AccessKey)
	if _, err := c.Credential(ctx, cred.AccessKey); err != nil {
		t.Fatalf("Credential within TTL = %v, want the cached value", err)
	}
	// ...and gone after it.
	now = now.Add(2 * time.Hour)
	if _, err := c.Credential(ctx, cred.AccessKey); !fgs.Is(err, fgs.NotFound) {
		t.Fatalf("Credential after TTL = %v, want NotFound", err)
	}
	// A write through the cache is seen at once.
	c.PutCredential(ctx, cred)
	c.Credential(ctx, cred.AccessKey)
	c.DeleteCredential(ctx, cred.AccessKey)
	if _, err := c.Credential(ctx, cred.AccessKey); !fgs.Is(err, fgs.NotFound) {
		t.Fatalf("Credential after DeleteCredential = %v, want NotFound", err)
	}
}

// A caller that changes the function it got must not change the cache.
func TestStore_FunctionCopies(t *testing.T) {
	ctx := context.Background()
	c := New(openSQLite(t), time.Hour)
	c.PutDomain(ctx, fgs.Domain{ID: "d", Name: "d"})
	c.PutProject(ctx, fgs.Project{ID: "p", Name: "r", Domain: "d"})
	f := &fgs.Function{Project: "p", Package: "default", Name: "f", Config: fgs.Config{Runtime: "Python3.9", Handler: "index.handler", LTSCustomTag: map[string]string{"a": "b"}}}
	if err := c.CreateFunction(ctx, f, fgs.Limits{}); err != nil {
		t.Fatal(err)
	}
	g, _ := c.Function(ctx, f.Key())
	g.Handler = "changed.handler"
	g.LTSCustomTag["a"] = "changed"
	h, _ := c.Function(ctx, f.Key())
	if h.Handler != "index.handler" || h.LTSCustomTag["a"] != "b" {
		t.Fatalf("cached function changed through a returned copy: %+v", h.Config)
	}
}

// Clone must copy every pointer, slice and map: a new field that Clone
// forgets makes this test fail.
func TestFunction_CloneIsDeep(t *testing.T) {
	f := &fgs.Function{}
	fill(reflect.ValueOf(f).Elem())
	c := f.Clone()
	if !reflect.DeepEqual(f, c) {
		t.Fatal("Clone() is not equal to the original")
	}
	checkDisjoint(t, "Function", reflect.ValueOf(f).Elem(), reflect.ValueOf(c).Elem())
}

func fill(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem())
	case reflect.Struct:
		if v.Type() == reflect.TypeOf(time.Time{}) {
			v.Set(reflect.ValueOf(time.Unix(1, 0)))
			return
		}
		for i := 0; i < v.NumField(); i++ {
			if v.Field(i).CanSet() {
				fill(v.Field(i))
			}
		}
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		fill(v.Index(0))
	case reflect.Map:
		v.Set(reflect.MakeMap(v.Type()))
		k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
		fill(k)
		fill(e)
		v.SetMapIndex(k, e)
	case reflect.String:
		v.SetString("x")
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int32, reflect.Int64:
		v.SetInt(7)
	}
}

func checkDisjoint(t *testing.T, path string, a, b reflect.Value) {
	switch a.Kind() {
	case reflect.Pointer, reflect.Slice, reflect.Map:
		if !a.IsNil() && a.UnsafePointer() == b.UnsafePointer() {
			t.Errorf("Clone shares %s", path)
		}
		if a.Kind() == reflect.Pointer && !a.IsNil() {
			checkDisjoint(t, path, a.Elem(), b.Elem())
		}
		if a.Kind() == reflect.Slice {
			for i := 0; i < a.Len(); i++ {
				checkDisjoint(t, path+"[]", a.Index(i), b.Index(i))
			}
		}
	case reflect.Struct:
		if a.Type() == reflect.TypeOf(time.Time{}) {
			return // immutable
		}
		for i := 0; i < a.NumField(); i++ {
			checkDisjoint(t, path+"."+a.Type().Field(i).Name, a.Field(i), b.Field(i))
		}
	}
}
