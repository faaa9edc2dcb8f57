package storetest

import (
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/openfgs/openfgs/internal/fgs"
)

// create creates functions in project1 with no limits, names fmt'd from
// prefix and an index, and returns them in creation order.
func create(t *testing.T, s fgs.Store, n int, pkg, format string) []*fgs.Function {
	t.Helper()
	fns := make([]*fgs.Function, n)
	for i := range n {
		fns[i] = function(project1.ID, pkg, fmt.Sprintf(format, i), int64(i+1), fmt.Sprintf("digest-%d", i))
		must(t, s.CreateFunction(t.Context(), fns[i], fgs.Limits{}))
	}
	return fns
}

func names(fns []*fgs.Function) []string {
	ns := make([]string, len(fns))
	for i, f := range fns {
		ns[i] = f.Package + "/" + f.Name
	}
	return ns
}

// list is ListFunctions that fails the test on error and checks the page
// is in increasing Seq order, above q.After, within q.Limit.
func list(t *testing.T, s fgs.Store, q fgs.ListQuery) ([]*fgs.Function, bool) {
	t.Helper()
	fns, more, err := s.ListFunctions(t.Context(), q)
	must(t, err)
	if q.Limit > 0 && len(fns) > q.Limit {
		t.Errorf("ListFunctions(%+v) returned %d functions", q, len(fns))
	}
	last := q.After
	for _, f := range fns {
		if f.Seq <= last {
			t.Errorf("ListFunctions(%+v): seq %d after %d: not increasing", q, f.Seq, last)
		}
		last = f.Seq
		if f.Project != q.Project {
			t.Errorf("ListFunctions(%+v) returned %s of project %s", q, f.Name, f.Project)
		}
	}
	return fns, more
}

// listAll pages through q with page size limit and returns everything.
func listAll(t *testing.T, s fgs.Store, q fgs.ListQuery) []*fgs.Function {
	t.Helper()
	var all []*fgs.Function
	for range 1000 {
		fns, more := list(t, s, q)
		all = append(all, fns...)
		if !more {
			return all
		}
		if len(fns) == 0 {
			t.Fatalf("ListFunctions(%+v): empty page with more", q)
		}
		q.After = fns[len(fns)-1].Seq
	}
	t.Fatal("ListFunctions never ends")
	return nil
}

func (r *runner) functions(t *testing.T) {
	group(t, "CreateFunction", func(t *testing.T) {
		r.test(t, "RoundTrip", func(t *testing.T, s fgs.Store) {
			ctx := t.Context()
			tenants(t, s)
			f := fullFunction(project1.ID, "pkg", "everything")
			if z := unset(f, ".Seq", ".Revision"); len(z) != 0 {
				t.Fatalf("fullFunction leaves %v unset: set them so the round trip covers them", z)
			}
			want := fullFunction(project1.ID, "pkg", "everything")
			must(t, s.CreateFunction(ctx, f, fgs.Limits{}))
			if f.Seq <= 0 || f.Revision <= 0 {
				t.Fatalf("CreateFunction set Seq %d, Revision %d, want both > 0", f.Seq, f.Revision)
			}
			want.Seq, want.Revision = f.Seq, f.Revision
			same(t, "CreateFunction changed its argument beyond Seq and Revision", want, f)

			got, err := s.Function(ctx, f.Key())
			must(t, err)
			same(t, "Function", want, got)
			wantUTC(t, "Function", got)

			fns, more := list(t, s, fgs.ListQuery{Project: project1.ID, Limit: 10})
			if len(fns) != 1 || more {
				t.Fatalf("ListFunctions: %d functions, more %v; want 1, false", len(fns), more)
			}
			same(t, "ListFunctions", want, fns[0])
			wantUTC(t, "ListFunctions", fns[0])

			// The store keeps no reference to what it was given or returned.
			f.Description = "changed after create"
			got.MountConfig.FuncMounts[0].LocalMountPath = "/changed"
			got.LTSCustomTag["team"] = "changed"
			again, err := s.Function(ctx, f.Key())
			must(t, err)
			same(t, "Function after changing earlier values", want, again)
		})
		r.test(t, "Seq", func(t *testing.T, s fgs.Store) {
			tenants(t, s)
			fns := create(t, s, 5, "default", "f%d")
			for i := 1; i < len(fns); i++ {
				if fns[i].Seq <= fns[i-1].Seq {
					t.Errorf("seq %d after %d: not increasing", fns[i].Seq, fns[i-1].Seq)
				}
			}
			for _, f := range fns {
				got, err := s.Function(t.Context(), f.Key())
				must(t, err)
				if got.Seq != f.Seq {
					t.Errorf("Function(%s).Seq = %d, CreateFunction set %d", f.Name, got.Seq, f.Seq)
				}
			}
		})
		r.test(t, "SeqNotReused", func(t *testing.T, s fgs.Store) {
			ctx := t.Context()
			tenants(t, s)
			fns := create(t, s, 3, "default", "f%d")
			must(t, s.DeleteFunction(ctx, fns[2].Key()))
			must(t, s.DeleteFunction(ctx, fns[1].Key()))
			g := function(project1.ID, "default", "g", 1, "g")
			must(t, s.CreateFunction(ctx, g, fgs.Limits{}))
			if g.Seq <= fns[2].Seq {
				t.Errorf("new function got seq %d, not above deleted %d", g.Seq, fns[2].Seq)
			}
			// Recreating a deleted key gets a new seq too.
			f := function(project1.ID, "default", fns[1].Name, 1, "x")
			must(t, s.CreateFunction(ctx, f, fgs.Limits{}))
			if f.Seq <= g.Seq {
				t.Errorf("recreated function got seq %d, not above %d", f.Seq, g.Seq)
			}
		})
		r.test(t, "Duplicate", func(t *testing.T, s fgs.Store) {
			ctx := t.Context()
			tenants(t, s)
			f := function(project1.ID, "default", "hello", 10, "d1")
			must(t, s.CreateFunction(ctx, f, fgs.Limits{}))
			dup := function(project1.ID, "default", "hello", 20, "d2")
			err := s.CreateFunction(ctx, dup, fgs.Limits{})
			wantErr(t, "CreateFunction", err, fgs.Exists, fgs.FunctionExists, "hello")
			// Exists wins over a quota the duplicate would also break.
			err = s.CreateFunction(ctx, dup, fgs.Limits{MaxFunctions: 1, MaxCodeBytes: 1})
			wantErr(t, "CreateFunction(over quota)", err, fgs.Exists, fgs.FunctionExists, "hello")
			got, err := s.Function(ctx, f.Key())
			must(t, err)
			same(t, "Function after duplicate create", f, got)
			u, err := s.Usage(ctx, project1.ID)
			must(t, err)
			same(t, "Usage", fgs.Usage{Functions: 1, CodeBytes: 10}, u)
		})
		r.test(t, "SameNameElsewhere", func(t *testing.T, s fgs.Store) {
			ctx := t.Context()
			tenants(t, s)
			fs := []*fgs.Function{
				function(project1.ID, "default", "hello", 1, "a"),
				function(project1.ID, "other", "hello", 2, "b"),
				function(project2.ID, "default", "hello", 3, "c"),
			}
			for _, f := range fs {
				must(t, s.CreateFunction(ctx, f, fgs.Limits{}))
			}
			for _, f := range fs {
				got, err := s.Function(ctx, f.Key())
				must(t, err)
				same(t, "Function", f, got)
			}
		})
		r.test(t, "MissingProject", func(t *testing.T, s fgs.Store) {
			ctx := t.Context()
			tenants(t, s)
			f := function("nope", "default", "hello", 1, "a")
			err := s.CreateFunction(ctx, f, fgs.Limits{})
			wantErr(t, "CreateFunction", err, fgs.NotFound, fgs.NoReason, "nope")
			_, err = s.Function(ctx, f.Key())
			wantErr(t, "Function", err, fgs.NotFound, fgs.FunctionNotFound)
		})
		r.test(t, "Concurrent", func(t *testing.T, s fgs.Store) {
			tenants(t, s)
			const n = 16
			fns := make([]*fgs.Function, n)
			errs := make([]error, n)
			var wg sync.WaitGroup
			for i := range n {
				fns[i] = function(project1.ID, "default", fmt.Sprintf("f%02d", i), 1, "d")
				wg.Go(func() { errs[i] = s.CreateFunction(t.Context(), fns[i], fgs.Limits{}) })
			}
			wg.Wait()
			seqs := map[int64]string{}
			for i, err := range errs {
				if err != nil {
					t.Errorf("CreateFunction %d: %v", i, err)
					continue
				}
				if other, dup := seqs[fns[i].Seq]; dup {
					t.Errorf("%s and %s got the same seq %d", fns[i].Name, other, fns[i].Seq)
				}
				seqs[fns[i].Seq] = fns[i].Name
			}
			all := listAll(t, s, fgs.ListQuery{Project: project1.ID, Limit: 5})
			if len(all) != n {
				t.Errorf("listed %d functions, want %d", len(all), n)
			}
		})
	})

	group(t, "Function", func(t *testing.T) {
		r.test(t, "NotFound", func(t *testing.T, s fgs.Store) {
			ctx := t.Context()
			tenants(t, s)
			must(t, s.CreateFunction(ctx, function(project1.ID, "default", "hello", 1, "a"), fgs.Limits{}))
			for _, k := range []fgs.Key{
				{Project: project1.ID, Package: "default", Name: "bye"},
				{Project: project1.ID, Package: "other", Name: "hello"},
				{Project: project2.ID, Package: "default", Name: "hello"},
				{Project: "nope", Package: "default", Name: "hello"},
			} {
				_, err := s.Function(ctx, k)
				wantErr(t, fmt.Sprintf("Function(%+v)", k), err, fgs.NotFound, fgs.FunctionNotFound, k.Name)
			}
		})
	})

	group(t, "UpdateFunction", func(t *testing.T) {
		r.test(t, "RoundTrip", func(t *testing.T, s fgs.Store) {
			ctx := t.Context()
			tenants(t, s)
			f := fullFunction(project1.ID, "pkg", "everything")
			must(t, s.CreateFunction(ctx, f, fgs.Limits{}))
			seq := f.Seq

			u := function(project1.ID, "pkg", "everything", 99, "new-digest")
			u.Description = "updated"
			u.LastModified = later
			u.Revision = f.Revision
			must(t, s.UpdateFunction(ctx, u, fgs.Limits{}))
			if u.Revision <= f.Revision {
				t.Errorf("UpdateFunction set Revision %d, not above %d", u.Revision, f.Revision)
			}
			got, err := s.Function(ctx, u.Key())
			must(t, err)
			want := *u
			want.Seq = seq // Seq never changes
			same(t, "Function", &want, got)
			wantUTC(t, "Function", got)

			// And back to everything set.
			f2 := fullFunction(project1.ID, "pkg", "everything")
			f2.Timeout = 1
			f2.Revision = u.Revision
			must(t, s.UpdateFunction(ctx, f2, fgs.Limits{}))
			got, err = s.Function(ctx, f2.Key())
			must(t, err)
			f2.Seq = seq
			same(t, "Function", f2, got)
		})
		r.test(t, "StaleRevision", func(t *testing.T, s fgs.Store) {
			ctx := t.Context()
			tenants(t, s)
			f := function(project1.ID, "default", "hello", 1, "a")
			must(t, s.CreateFunction(ctx, f, fgs.Limits{}))
			read := *f
			f.Description = "first"
			must(t, s.UpdateFunction(ctx, f, fgs.Limits{}))
			// An update based on the state before the first one loses,
			// and changes nothing.
			stale := read
			stale.Description, stale.Digest, stale.CodeSize = "second", "b", 5
			err := s.UpdateFunction(ctx, &stale, fgs.Limits{})
			wantErr(t, "UpdateFunction(stale)", err, fgs.Conflict, fgs.RevisionConflict, "hello")
			got, err := s.Function(ctx, f.Key())
			must(t, err)
			same(t, "Function after a stale update", f, got)
			u, err := s.Usage(ctx, project1.ID)
			must(t, err)
			same(t, "Usage after a stale update", fgs.Usage{Functions: 1, CodeBytes: 1}, u)
		})
		r.test(t, "RevisionsGrow", func(t *testing.T, s fgs.Store) {
			// One counter for every function: later writes, to any
			// function, re-created ones included, have higher revisions.
			ctx := t.Context()
			tenants(t, s)
			a := function(project1.ID, "default", "a", 1, "a")
			b := function(project2.ID, "default", "b", 1, "b")
			must(t, s.CreateFunction(ctx, a, fgs.Limits{}))
			must(t, s.CreateFunction(ctx, b, fgs.Limits{}))
			last := int64(0)
			step := func(what string, rev int64) {
				t.Helper()
				if rev <= last {
					t.Errorf("%s: revision %d, not above %d", what, rev, last)
				}
				last = rev
			}
			step("create a", a.Revision)
			step("create b", b.Revision)
			must(t, s.UpdateFunction(ctx, a, fgs.Limits{}))
			step("update a", a.Revision)
			must(t, s.DeleteFunction(ctx, a.Key()))
			again := function(project1.ID, "default", "a", 1, "a")
			must(t, s.CreateFunction(ctx, again, fgs.Limits{}))
			step("re-create a", again.Revision)
			must(t, s.UpdateFunction(ctx, b, fgs.Limits{}))
			step("update b", b.Revision)
		})
		r.test(t, "ConcurrentUpdates", func(t *testing.T, s fgs.Store) {
			// Writers that read the same revision: exactly one wins.
			ctx := t.Context()
			tenants(t, s)
			f := function(project1.ID, "default", "hello", 1, "a")
			must(t, s.CreateFunction(ctx, f, fgs.Limits{}))
			const n = 8
			errs := make([]error, n)
			var wg sync.WaitGroup
			for i := range n {
				g := *f
				g.Description = fmt.Sprint(i)
				wg.Go(func() { errs[i] = s.UpdateFunction(ctx, &g, fgs.Limits{}) })
			}
			wg.Wait()
			won := -1
			for i, err := range errs {
				switch {
				case err == nil && won >= 0:
					t.Errorf("updates %d and %d both won", won, i)
				case err == nil:
					won = i
				case fgs.ReasonOf(err) != fgs.RevisionConflict:
					t.Errorf("UpdateFunction %d: %v, want a RevisionConflict", i, err)
				}
			}
			got, err := s.Function(ctx, f.Key())
			must(t, err)
			if won < 0 || got.Description != fmt.Sprint(won) {
				t.Errorf("stored description %q, winner %d", got.Description, won)
			}
		})
		r.test(t, "NotFound", func(t *testing.T, s fgs.Store) {
			ctx := t.Context()
			tenants(t, s)
			must(t, s.CreateFunction(ctx, function(project1.ID, "default", "hello", 1, "a"), fgs.Limits{}))
			for _, f := range []*fgs.Function{
				function(project1.ID, "default", "bye", 1, "a"),
				function(project1.ID, "other", "hello", 1, "a"),
				function(project2.ID, "default", "hello", 1, "a"),
				function("nope", "default", "hello", 1, "a"),
			} {
				err := s.UpdateFunction(ctx, f, fgs.Limits{})
				wantErr(t, fmt.Sprintf("UpdateFunction(%+v)", f.Key()), err, fgs.NotFound, fgs.FunctionNotFound, f.Name)
			}
			u, err := s.Usage(ctx, project1.ID)
			must(t, err)
			same(t, "Usage", fgs.Usage{Functions: 1, CodeBytes: 1}, u)
			u, err = s.Usage(ctx, project2.ID)
			must(t, err)
			same(t, "Usage(project2)", fgs.Usage{}, u)
		})
	})

	group(t, "DeleteFunction", func(t *testing.T) {
		r.test(t, "RoundTrip", func(t *testing.T, s fgs.Store) {
			ctx := t.Context()
			tenants(t, s)
			a := function(project1.ID, "default", "a", 1, "a")
			b := function(project1.ID, "default", "b", 2, "b")
			for _, f := range []*fgs.Function{a, b} {
				must(t, s.CreateFunction(ctx, f, fgs.Limits{}))
			}
			must(t, s.DeleteFunction(ctx, a.Key()))
			_, err := s.Function(ctx, a.Key())
			wantErr(t, "Function(deleted)", err, fgs.NotFound, fgs.FunctionNotFound)
			_, err = s.Function(ctx, b.Key())
			must(t, err)
			err = s.DeleteFunction(ctx, a.Key())
			wantErr(t, "DeleteFunction(again)", err, fgs.NotFound, fgs.FunctionNotFound, "a")
			// The key is free again.
			must(t, s.CreateFunction(ctx, function(project1.ID, "default", "a", 1, "a"), fgs.Limits{}))
		})
		r.test(t, "NotFound", func(t *testing.T, s fgs.Store) {
			ctx := t.Context()
			tenants(t, s)
			must(t, s.CreateFunction(ctx, function(project1.ID, "default", "hello", 1, "a"), fgs.Limits{}))
			for _, k := range []fgs.Key{
				{Project: project1.ID, Package: "default", Name: "bye"},
				{Project: project1.ID, Package: "other", Name: "hello"},
				{Project: project2.ID, Package: "default", Name: "hello"},
			} {
				err := s.DeleteFunction(ctx, k)
				wantErr(t, fmt.Sprintf("DeleteFunction(%+v)", k), err, fgs.NotFound, fgs.FunctionNotFound, k.Name)
			}
			_, err := s.Function(ctx, fgs.Key{Project: project1.ID, Package: "default", Name: "hello"})
			must(t, err)
		})
	})

	group(t, "ListFunctions", func(t *testing.T) {
		r.test(t, "Empty", func(t *testing.T, s fgs.Store) {
			tenants(t, s)
			fns, more := list(t, s, fgs.ListQuery{Project: project1.ID, Limit: 10})
			if len(fns) != 0 || more {
				t.Errorf("ListFunctions of an empty project: %d, more %v", len(fns), more)
			}
		})
		r.test(t, "Pagination", func(t *testing.T, s fgs.Store) {
			tenants(t, s)
			fns := create(t, s, 25, "default", "f%02d")
			q := fgs.ListQuery{Project: project1.ID, Limit: 10}
			var seen []*fgs.Function
			for i, want := range []struct {
				n    int
				more bool
			}{{10, true}, {10, true}, {5, false}} {
				page, more := list(t, s, q)
				if len(page) != want.n || more != want.more {
					t.Fatalf("page %d: %d functions, more %v; want %d, %v", i+1, len(page), more, want.n, want.more)
				}
				seen = append(seen, page...)
				q.After = page[len(page)-1].Seq
			}
			same(t, "pages", fns, seen)
			// The same query gives the same pages.
			same(t, "pages again", fns, listAll(t, s, fgs.ListQuery{Project: project1.ID, Limit: 10}))
			// After the last: nothing, and no more.
			page, more := list(t, s, q)
			if len(page) != 0 || more {
				t.Errorf("after the last page: %d, more %v", len(page), more)
			}
		})
		r.test(t, "ExactPages", func(t *testing.T, s fgs.Store) {
			// When the last page is full, more must still be false.
			tenants(t, s)
			create(t, s, 20, "default", "f%02d")
			q := fgs.ListQuery{Project: project1.ID, Limit: 10}
			page, more := list(t, s, q)
			if len(page) != 10 || !more {
				t.Fatalf("page 1: %d, more %v; want 10, true", len(page), more)
			}
			q.After = page[9].Seq
			page, more = list(t, s, q)
			if len(page) != 10 || more {
				t.Fatalf("page 2: %d, more %v; want 10, false", len(page), more)
			}
		})
		r.test(t, "ChangesBetweenPages", func(t *testing.T, s fgs.Store) {
			ctx := t.Context()
			tenants(t, s)
			fns := create(t, s, 25, "default", "f%02d")
			q := fgs.ListQuery{Project: project1.ID, Limit: 10}
			page1, more := list(t, s, q)
			if len(page1) != 10 || !more {
				t.Fatalf("page 1: %d, more %v", len(page1), more)
			}
			// Delete one listed and one not yet listed; create one.
			must(t, s.DeleteFunction(ctx, fns[5].Key()))
			must(t, s.DeleteFunction(ctx, fns[15].Key()))
			added := function(project1.ID, "default", "f25", 1, "new")
			must(t, s.CreateFunction(ctx, added, fgs.Limits{}))

			q.After = page1[9].Seq
			page2, more := list(t, s, q)
			if len(page2) != 10 || !more {
				t.Fatalf("page 2: %d, more %v", len(page2), more)
			}
			q.After = page2[9].Seq
			page3, more := list(t, s, q)
			if len(page3) != 5 || more {
				t.Fatalf("page 3: %d, more %v", len(page3), more)
			}
			var want []*fgs.Function
			want = append(want, fns[:15]...)
			want = append(want, fns[16:]...)
			want = append(want, added)
			same(t, "pages", names(want), names(slices.Concat(page1, page2, page3)))
		})
		r.test(t, "Package", func(t *testing.T, s fgs.Store) {
			tenants(t, s)
			a := create(t, s, 3, "a", "f%d")
			b := create(t, s, 3, "b", "f%d")
			a2 := create(t, s, 2, "a", "g%d")
			same(t, "package a", names(slices.Concat(a, a2)),
				names(listAll(t, s, fgs.ListQuery{Project: project1.ID, Package: "a", Limit: 2})))
			same(t, "package b", names(b),
				names(listAll(t, s, fgs.ListQuery{Project: project1.ID, Package: "b", Limit: 2})))
			fns, more := list(t, s, fgs.ListQuery{Project: project1.ID, Package: "c", Limit: 2})
			if len(fns) != 0 || more {
				t.Errorf("package c: %v, more %v", names(fns), more)
			}
			// Exact match only.
			fns, _ = list(t, s, fgs.ListQuery{Project: project1.ID, Package: "A", Limit: 10})
			if len(fns) != 0 {
				t.Errorf("package A: %v", names(fns))
			}
		})
		r.test(t, "Name", func(t *testing.T, s fgs.Store) {
			ctx := t.Context()
			tenants(t, s)
			var all []*fgs.Function
			for _, n := range []string{"order_create", "order-list", "orderXcreate", "reorder", "ship_order", "invoice", "100%_sure", "100x_sure"} {
				f := function(project1.ID, "default", n, 1, n)
				must(t, s.CreateFunction(ctx, f, fgs.Limits{}))
				all = append(all, f)
			}
			for _, c := range []struct {
				name string
				want []string
			}{
				{"order", []string{"order_create", "order-list", "orderXcreate", "reorder", "ship_order"}},
				{"order_", []string{"order_create"}},
				{"_", []string{"order_create", "ship_order", "100%_sure", "100x_sure"}},
				{"%", []string{"100%_sure"}},
				{"0%_", []string{"100%_sure"}},
				{"invoice", []string{"invoice"}},
				{"nothing", nil},
			} {
				var want []string
				for _, n := range c.want {
					want = append(want, "default/"+n)
				}
				got := names(listAll(t, s, fgs.ListQuery{Project: project1.ID, Name: c.name, Limit: 2}))
				if len(got) == 0 {
					got = nil
				}
				same(t, "name "+c.name, want, got)
			}
		})
		r.test(t, "FilteredMore", func(t *testing.T, s fgs.Store) {
			// more counts matching functions only.
			tenants(t, s)
			a := create(t, s, 3, "a", "f%d")
			create(t, s, 5, "b", "f%d")
			fns, more := list(t, s, fgs.ListQuery{Project: project1.ID, Package: "a", Limit: 3})
			if len(fns) != 3 || more {
				t.Errorf("package a, limit 3: %v, more %v; want 3, false", names(fns), more)
			}
			fns, more = list(t, s, fgs.ListQuery{Project: project1.ID, Package: "a", Name: "f", Limit: 2})
			if len(fns) != 2 || !more {
				t.Errorf("package a, name f, limit 2: %v, more %v; want 2, true", names(fns), more)
			}
			fns, more = list(t, s, fgs.ListQuery{Project: project1.ID, Package: "a", Name: "f2", Limit: 2, After: a[0].Seq})
			if len(fns) != 1 || more || fns[0].Name != "f2" {
				t.Errorf("package a, name f2: %v, more %v; want [a/f2], false", names(fns), more)
			}
		})
		r.test(t, "Projects", func(t *testing.T, s fgs.Store) {
			ctx := t.Context()
			tenants(t, s)
			mine := create(t, s, 3, "default", "f%d")
			for i := range 3 {
				f := function(project2.ID, "default", fmt.Sprintf("f%d", i), 1, "x")
				must(t, s.CreateFunction(ctx, f, fgs.Limits{}))
			}
			same(t, "project1", names(mine), names(listAll(t, s, fgs.ListQuery{Project: project1.ID, Limit: 2})))
			fns, _ := list(t, s, fgs.ListQuery{Project: project3.ID, Limit: 10})
			if len(fns) != 0 {
				t.Errorf("project3: %v", names(fns))
			}
			fns, _ = list(t, s, fgs.ListQuery{Project: "nope", Limit: 10})
			if len(fns) != 0 {
				t.Errorf("unknown project: %v", names(fns))
			}
		})
		r.test(t, "NoLimit", func(t *testing.T, s fgs.Store) {
			tenants(t, s)
			fns := create(t, s, 12, "default", "f%02d")
			for _, limit := range []int{0, -1} {
				got, more := list(t, s, fgs.ListQuery{Project: project1.ID, Limit: limit})
				if more {
					t.Errorf("limit %d: more", limit)
				}
				same(t, fmt.Sprintf("limit %d", limit), names(fns), names(got))
			}
			got, more := list(t, s, fgs.ListQuery{Project: project1.ID, After: fns[9].Seq})
			if more {
				t.Error("no limit, after: more")
			}
			same(t, "no limit, after", names(fns[10:]), names(got))
		})
	})

	group(t, "Quota", func(t *testing.T) {
		r.test(t, "Count", func(t *testing.T, s fgs.Store) {
			ctx := t.Context()
			tenants(t, s)
			lim := fgs.Limits{MaxFunctions: 3}
			var fns []*fgs.Function
			for i := range 3 {
				f := function(project1.ID, "default", fmt.Sprintf("f%d", i), 1, "d")
				must(t, s.CreateFunction(ctx, f, lim))
				fns = append(fns, f)
			}
			err := s.CreateFunction(ctx, function(project1.ID, "default", "f3", 1, "d"), lim)
			wantErr(t, "CreateFunction(4th)", err, fgs.Quota, fgs.TooManyFunctions, "f3")
			_, err = s.Function(ctx, fgs.Key{Project: project1.ID, Package: "default", Name: "f3"})
			wantErr(t, "Function(refused)", err, fgs.NotFound, fgs.FunctionNotFound)
			// Other projects have their own count.
			must(t, s.CreateFunction(ctx, function(project2.ID, "default", "f3", 1, "d"), lim))
			// Updates are not counted.
			must(t, s.UpdateFunction(ctx, fns[0], lim))
			// A delete makes room.
			must(t, s.DeleteFunction(ctx, fns[0].Key()))
			must(t, s.CreateFunction(ctx, function(project1.ID, "default", "f3", 1, "d"), lim))
			err = s.CreateFunction(ctx, function(project1.ID, "default", "f4", 1, "d"), lim)
			wantErr(t, "CreateFunction(4th again)", err, fgs.Quota, fgs.TooManyFunctions, "f4")
			// A project already over a lowered limit stays refused.
			err = s.CreateFunction(ctx, function(project1.ID, "default", "f4", 1, "d"), fgs.Limits{MaxFunctions: 1})
			wantErr(t, "CreateFunction(over lowered limit)", err, fgs.Quota, fgs.TooManyFunctions)
		})
		r.test(t, "CodeBytes", func(t *testing.T, s fgs.Store) {
			ctx := t.Context()
			tenants(t, s)
			lim := fgs.Limits{MaxCodeBytes: 100}
			must(t, s.CreateFunction(ctx, function(project1.ID, "default", "a", 60, "a"), lim))
			must(t, s.CreateFunction(ctx, function(project1.ID, "default", "b", 40, "b"), lim)) // exactly the limit
			err := s.CreateFunction(ctx, function(project1.ID, "default", "c", 1, "c"), lim)
			wantErr(t, "CreateFunction(over)", err, fgs.Quota, fgs.CodeQuotaExceeded, "c")
			// Empty code fits in a full project.
			must(t, s.CreateFunction(ctx, function(project1.ID, "default", "empty", 0, "e"), lim))
			// Other projects have their own bytes.
			must(t, s.CreateFunction(ctx, function(project2.ID, "default", "c", 100, "c"), lim))
			err = s.CreateFunction(ctx, function(project3.ID, "default", "big", 101, "big"), lim)
			wantErr(t, "CreateFunction(alone over)", err, fgs.Quota, fgs.CodeQuotaExceeded, "big")
		})
		r.test(t, "Unlimited", func(t *testing.T, s fgs.Store) {
			tenants(t, s)
			ctx := t.Context()
			for i := range 5 {
				f := function(project1.ID, "default", fmt.Sprintf("f%d", i), 1<<40, "d")
				must(t, s.CreateFunction(ctx, f, fgs.Limits{}))
			}
			// One limit set, the other zero: only the set one applies.
			must(t, s.CreateFunction(ctx, function(project1.ID, "default", "g", 1<<40, "d"), fgs.Limits{MaxFunctions: 10}))
			must(t, s.CreateFunction(ctx, function(project1.ID, "default", "h", 1, "d"), fgs.Limits{MaxCodeBytes: 1 << 50}))
			u, err := s.Usage(ctx, project1.ID)
			must(t, err)
			same(t, "Usage", fgs.Usage{Functions: 7, CodeBytes: 6<<40 + 1}, u)
		})
		r.test(t, "UnpackedBytesCount", func(t *testing.T, s fgs.Store) {
			// A package counts with what it takes unpacked.
			ctx := t.Context()
			tenants(t, s)
			lim := fgs.Limits{MaxCodeBytes: 100}
			a := function(project1.ID, "default", "a", 10, "a")
			a.UnpackedBytes = 50
			must(t, s.CreateFunction(ctx, a, lim))
			b := function(project1.ID, "default", "b", 10, "b")
			b.UnpackedBytes = 31
			err := s.CreateFunction(ctx, b, lim)
			wantErr(t, "CreateFunction(unpacked over)", err, fgs.Quota, fgs.CodeQuotaExceeded, "b")
			b.UnpackedBytes = 30
			must(t, s.CreateFunction(ctx, b, lim)) // exactly the limit
			a.UnpackedBytes = 51
			err = s.UpdateFunction(ctx, a, lim)
			wantErr(t, "UpdateFunction(unpacked grows over)", err, fgs.Quota, fgs.CodeQuotaExceeded, "a")
			u, err := s.Usage(ctx, project1.ID)
			must(t, err)
			same(t, "Usage", fgs.Usage{Functions: 2, CodeBytes: 100}, u)
			got, err := s.Function(ctx, b.Key())
			must(t, err)
			if got.UnpackedBytes != 30 {
				t.Errorf("Function.UnpackedBytes = %d, want 30", got.UnpackedBytes)
			}
		})
		r.test(t, "UpdateGrows", func(t *testing.T, s fgs.Store) {
			ctx := t.Context()
			tenants(t, s)
			lim := fgs.Limits{MaxFunctions: 2, MaxCodeBytes: 100}
			a := function(project1.ID, "default", "a", 50, "a")
			b := function(project1.ID, "default", "b", 30, "b")
			must(t, s.CreateFunction(ctx, a, lim))
			must(t, s.CreateFunction(ctx, b, lim))
			// 50+30 -> 70+30: fits exactly.
			a.CodeSize, a.Digest = 70, "a2"
			must(t, s.UpdateFunction(ctx, a, lim))
			// 70+30 -> 71+30: over.
			grown := function(project1.ID, "default", "a", 71, "a3")
			grown.Revision = a.Revision
			err := s.UpdateFunction(ctx, grown, lim)
			wantErr(t, "UpdateFunction(over)", err, fgs.Quota, fgs.CodeQuotaExceeded, "a")
			got, err := s.Function(ctx, a.Key())
			must(t, err)
			same(t, "Function after refused update", a, got)
			// Shrinking passes, and so does not growing, even over a
			// lowered limit.
			a.CodeSize, a.Digest = 60, "a4"
			must(t, s.UpdateFunction(ctx, a, fgs.Limits{MaxCodeBytes: 10}))
			a.Description = "same size"
			must(t, s.UpdateFunction(ctx, a, fgs.Limits{MaxCodeBytes: 10}))
			grown = function(project1.ID, "default", "a", 61, "a5")
			grown.Revision = a.Revision
			err = s.UpdateFunction(ctx, grown, fgs.Limits{MaxCodeBytes: 10})
			wantErr(t, "UpdateFunction(grow over lowered limit)", err, fgs.Quota, fgs.CodeQuotaExceeded)
			u, err := s.Usage(ctx, project1.ID)
			must(t, err)
			same(t, "Usage", fgs.Usage{Functions: 2, CodeBytes: 90}, u)
		})
		r.test(t, "ConcurrentCount", func(t *testing.T, s fgs.Store) {
			tenants(t, s)
			const n, limit = 16, 10
			lim := fgs.Limits{MaxFunctions: limit}
			// One already there counts.
			must(t, s.CreateFunction(t.Context(), function(project1.ID, "default", "first", 1, "d"), lim))
			errs := make([]error, n)
			var wg sync.WaitGroup
			for i := range n {
				f := function(project1.ID, "default", fmt.Sprintf("f%02d", i), 1, "d")
				wg.Go(func() { errs[i] = s.CreateFunction(t.Context(), f, lim) })
			}
			wg.Wait()
			ok := 0
			for i, err := range errs {
				switch {
				case err == nil:
					ok++
				case fgs.Is(err, fgs.Quota) && fgs.ReasonOf(err) == fgs.TooManyFunctions:
				default:
					t.Errorf("CreateFunction %d: %v", i, err)
				}
			}
			if ok != limit-1 {
				t.Errorf("%d concurrent creates succeeded, want %d", ok, limit-1)
			}
			u, err := s.Usage(t.Context(), project1.ID)
			must(t, err)
			same(t, "Usage", fgs.Usage{Functions: limit, CodeBytes: limit}, u)
		})
		r.test(t, "ConcurrentCodeBytes", func(t *testing.T, s fgs.Store) {
			tenants(t, s)
			const n = 16
			lim := fgs.Limits{MaxCodeBytes: 55}
			errs := make([]error, n)
			var wg sync.WaitGroup
			for i := range n {
				f := function(project1.ID, "default", fmt.Sprintf("f%02d", i), 10, "d")
				wg.Go(func() { errs[i] = s.CreateFunction(t.Context(), f, lim) })
			}
			wg.Wait()
			ok := 0
			for i, err := range errs {
				switch {
				case err == nil:
					ok++
				case fgs.Is(err, fgs.Quota) && fgs.ReasonOf(err) == fgs.CodeQuotaExceeded:
				default:
					t.Errorf("CreateFunction %d: %v", i, err)
				}
			}
			if ok != 5 {
				t.Errorf("%d concurrent creates succeeded, want 5", ok)
			}
			u, err := s.Usage(t.Context(), project1.ID)
			must(t, err)
			same(t, "Usage", fgs.Usage{Functions: 5, CodeBytes: 50}, u)
		})
	})

	group(t, "Usage", func(t *testing.T) {
		r.test(t, "RoundTrip", func(t *testing.T, s fgs.Store) {
			ctx := t.Context()
			tenants(t, s)
			usage := func(project string, want fgs.Usage) {
				t.Helper()
				u, err := s.Usage(ctx, project)
				must(t, err)
				same(t, "Usage("+project+")", want, u)
			}
			usage(project1.ID, fgs.Usage{})
			usage("nope", fgs.Usage{})
			a := function(project1.ID, "default", "a", 1000, "a")
			b := function(project1.ID, "other", "b", 234, "b")
			c := function(project2.ID, "default", "c", 5, "c")
			for _, f := range []*fgs.Function{a, b, c} {
				must(t, s.CreateFunction(ctx, f, fgs.Limits{}))
			}
			usage(project1.ID, fgs.Usage{Functions: 2, CodeBytes: 1234})
			usage(project2.ID, fgs.Usage{Functions: 1, CodeBytes: 5})
			a.CodeSize = 10
			must(t, s.UpdateFunction(ctx, a, fgs.Limits{}))
			usage(project1.ID, fgs.Usage{Functions: 2, CodeBytes: 244})
			must(t, s.DeleteFunction(ctx, b.Key()))
			usage(project1.ID, fgs.Usage{Functions: 1, CodeBytes: 10})
			must(t, s.DeleteFunction(ctx, a.Key()))
			usage(project1.ID, fgs.Usage{})
			usage(project2.ID, fgs.Usage{Functions: 1, CodeBytes: 5})
		})
	})

	group(t, "CodeInUse", func(t *testing.T) {
		r.test(t, "RoundTrip", func(t *testing.T, s fgs.Store) {
			ctx := t.Context()
			tenants(t, s)
			inUse := func(digest string, want bool) {
				t.Helper()
				got, err := s.CodeInUse(ctx, digest)
				must(t, err)
				if got != want {
					t.Errorf("CodeInUse(%q) = %v, want %v", digest, got, want)
				}
			}
			inUse("d1", false)
			a := function(project1.ID, "default", "a", 1, "d1")
			b := function(project2.ID, "default", "b", 1, "d1")
			must(t, s.CreateFunction(ctx, a, fgs.Limits{}))
			must(t, s.CreateFunction(ctx, b, fgs.Limits{}))
			inUse("d1", true)
			inUse("d2", false)
			inUse("D1", false)
			inUse("", false)
			must(t, s.DeleteFunction(ctx, a.Key()))
			inUse("d1", true) // b, in another project, still uses it
			b.Digest = "d2"
			must(t, s.UpdateFunction(ctx, b, fgs.Limits{}))
			inUse("d1", false)
			inUse("d2", true)
			must(t, s.DeleteProject(ctx, project2.ID))
			inUse("d2", false)
		})
	})
}
