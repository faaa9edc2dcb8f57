// Package storetest is the conformance suite for fgs.Store
// implementations. Every implementation's tests call Run; an
// implementation is correct when Run passes, and the suite changes only
// when the fgs.Store contract does.
//
// What the suite requires beyond the fgs.Store doc comments, so that
// every implementation behaves alike:
//
//   - Missing tenant records (domain, project, user, credential) are
//     NotFound, whether read, deleted, or referenced
//     by a write (a project's domain, a credential's or a function's
//     project). Missing functions are NotFound with reason FunctionNotFound.
//   - The Put methods are upserts and never fail with Exists; replacing
//     a project keeps its credentials and functions.
//   - Times come back in UTC, equal to what was stored to at least the
//     microsecond (PostgreSQL's timestamp precision); a zero
//     Credential.Expires comes back zero.
//   - Function Seq values increase and are never reused, even after a
//     delete, so paging by ListQuery.After is stable.
//   - ListFunctions treats a Limit of zero or less as no limit, matches
//     Package exactly and Name as a literal, case-sensitive substring
//     ('%' and '_' are not wildcards); more is true only when another
//     matching function follows the page.
//   - Quotas are exact under concurrent writes.
//   - Errors carry a client-safe message naming the function or record.
//   - Close may be called more than once.
package storetest

import (
	"context"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/openfgs/openfgs/internal/fgs"
)

// Run runs the suite. open must return a new, empty store for each call;
// Run closes it when the subtest ends. Subtests run in parallel, each
// with a store of its own.
func Run(t *testing.T, open func(t *testing.T) fgs.Store) {
	r := &runner{open: open}
	r.tenants(t)
	r.functions(t)
}

type runner struct {
	open func(t *testing.T) fgs.Store
}

// group runs fn as the subtest name, which holds further subtests.
func group(t *testing.T, name string, fn func(t *testing.T)) {
	t.Helper()
	t.Run(name, fn)
}

// test runs fn as the parallel subtest name, with a new store.
func (r *runner) test(t *testing.T, name string, fn func(t *testing.T, s fgs.Store)) {
	t.Helper()
	t.Run(name, func(t *testing.T) {
		t.Parallel()
		s := r.open(t)
		t.Cleanup(func() {
			if err := s.Close(context.Background()); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
		fn(t, s)
	})
}

// when is a time with microseconds, in a zone other than UTC: stores
// must give it back equal, in UTC.
var when = time.Date(2024, 5, 6, 7, 8, 9, 123456000, time.FixedZone("CST", 8*3600))

// later is when plus a little, for replacements.
var later = when.Add(36*time.Hour + 654321*time.Microsecond)

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// wantErr checks that err is an *fgs.Error of kind with reason, whose
// client message is set and contains each of the strings in mention.
func wantErr(t *testing.T, what string, err error, kind fgs.Kind, reason fgs.Reason, mention ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: no error, want %v %v", what, kind, reason)
	}
	if got := fgs.KindOf(err); got != kind {
		t.Errorf("%s: error kind %v, want %v (%v)", what, got, kind, err)
	}
	if got := fgs.ReasonOf(err); got != reason {
		t.Errorf("%s: error reason %q, want %q (%v)", what, got, reason, err)
	}
	msg := fgs.MessageOf(err)
	if msg == "" {
		t.Errorf("%s: error has no client message (%v)", what, err)
	}
	for _, m := range mention {
		if !strings.Contains(msg, m) {
			t.Errorf("%s: message %q does not mention %q", what, msg, m)
		}
	}
}

// same fails the test if got differs from want. Times compare with
// time.Time.Equal; wantUTC checks their location separately.
func same(t *testing.T, what string, want, got any) {
	t.Helper()
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("%s: mismatch (-want +got):\n%s", what, d)
	}
}

// wantUTC checks that every time.Time reachable from v is in UTC.
func wantUTC(t *testing.T, what string, v any) {
	t.Helper()
	walk(reflect.ValueOf(v), what, func(path string, v reflect.Value) bool {
		if tm, ok := v.Interface().(time.Time); ok {
			if tm.Location() != time.UTC {
				t.Errorf("%s: time in %v, want UTC", path, tm.Location())
			}
			return true
		}
		return false
	})
}

// walk calls visit for every value reachable from v through pointers,
// structs, slices and maps, with its path; visit returns true to stop
// descending.
func walk(v reflect.Value, path string, visit func(path string, v reflect.Value) bool) {
	if !v.IsValid() {
		return
	}
	if v.CanInterface() && visit(path, v) {
		return
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			walk(v.Elem(), path, visit)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if f := v.Type().Field(i); f.IsExported() {
				walk(v.Field(i), path+"."+f.Name, visit)
			}
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			walk(v.Index(i), path+"[]", visit)
		}
	case reflect.Map:
		it := v.MapRange()
		for it.Next() {
			walk(it.Value(), path+"[]", visit)
		}
	}
}

// unset returns the paths of the zero fields reachable from v, except
// those named in skip: a fixture meant to fill everything uses it to
// notice fields added to the domain types later.
func unset(v any, skip ...string) []string {
	var zero []string
	walk(reflect.ValueOf(v), "", func(path string, v reflect.Value) bool {
		for _, s := range skip {
			if path == s {
				return true
			}
		}
		if v.IsZero() {
			zero = append(zero, path)
			return true
		}
		if v.Kind() == reflect.Pointer && v.Elem().Kind() != reflect.Struct {
			return true // a pointer to false or 0 is set
		}
		if v.Kind() == reflect.Slice || v.Kind() == reflect.Map {
			if v.Len() == 0 {
				zero = append(zero, path)
				return true
			}
		}
		_, isTime := v.Interface().(time.Time)
		return isTime
	})
	return zero
}

func sortProjects(ps []fgs.Project) []fgs.Project {
	sort.Slice(ps, func(i, j int) bool { return ps[i].ID < ps[j].ID })
	return ps
}

func sortCredentials(cs []fgs.Credential) []fgs.Credential {
	sort.Slice(cs, func(i, j int) bool { return cs[i].AccessKey < cs[j].AccessKey })
	return cs
}
