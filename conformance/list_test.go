package conformance

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	fg "github.com/huaweicloud/huaweicloud-sdk-go-v3/services/functiongraph/v2"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/services/functiongraph/v2/model"
)

// createMany creates functions pkg/prefix-00.. in parallel (Python inline).
func createMany(t *testing.T, c *fg.FunctionGraphClient, pkg, prefix string, n int) []string {
	t.Helper()
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("%s-%02d", prefix, i)
	}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	sem := make(chan struct{}, 6)
	for _, name := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			b := pyInline(name)
			b.Package = pkg
			if _, err := create(c, b); err != nil {
				errs <- fmt.Errorf("CreateFunction %s/%s: %v", pkg, name, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	return names
}

// checkOnce checks that got holds every name of want exactly once and
// nothing else.
func checkOnce(t testing.TB, what string, got []model.ListFunctionResult, want []string) {
	t.Helper()
	seen := map[string]int{}
	for _, f := range got {
		seen[f.Package+"/"+f.FuncName]++
	}
	wantSet := map[string]bool{}
	for _, w := range want {
		wantSet[w] = true
		if seen[w] != 1 {
			t.Errorf("%s: %s listed %d times, want once", what, w, seen[w])
		}
	}
	for k, n := range seen {
		if !wantSet[k] {
			t.Errorf("%s: unexpected function %s listed %d time(s)", what, k, n)
		}
	}
}

func qualify(pkg string, names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = pkg + "/" + n
	}
	return out
}

// TestListFunctions covers ListFunctions (5.6.1): pagination with
// next_marker, filters, count and maxitems.
func TestListFunctions(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOpts{})
	c := s.Client(t)

	pager := createMany(t, c, "pager", "page-fn", 27)
	others := createMany(t, c, "default", "other", 3)
	all := append(qualify("pager", pager), qualify("default", others)...)

	t.Run("read", func(t *testing.T) {
		t.Run("PagesOfTen", func(t *testing.T) {
			t.Parallel()
			pageNo := 0
			got, pages := listAll(t, c, listArgs{Maxitems: ptr("10"), Package: ptr("pager")}, func(p *model.ListFunctionsResponse) {
				pageNo++
				n := 0
				if p.Functions != nil {
					n = len(*p.Functions)
				}
				if n > 10 {
					t.Errorf("page %d: %d functions, maxitems is 10", pageNo, n)
				}
				if pageNo == 1 && n != 10 {
					t.Errorf("page 1: %d functions, want 10", n)
				}
				if p.Count == nil || *p.Count != 27 {
					t.Errorf("page %d: count = %v, want 27 (all functions matching the filter)", pageNo, fmtPtr(p.Count))
				}
			})
			checkOnce(t, "pager, maxitems 10", got, qualify("pager", pager))
			if pages < 3 || pages > 4 {
				t.Errorf("27 functions at 10 a page took %d pages", pages)
			}
			for _, f := range got {
				checkFn(t, "ListFunctions "+f.FuncName, viewList(f), fnWant{Region: s.Region, Project: s.Project, Package: "pager",
					Name: f.FuncName, Runtime: "Python3.9", CodeType: "inline", Handler: "index.handler", Memory: 128, Timeout: 30,
					Code: []byte(pythonIndex)})
			}
		})

		t.Run("AllPackages", func(t *testing.T) {
			t.Parallel()
			got, _ := listAll(t, c, listArgs{Maxitems: ptr("10")}, func(p *model.ListFunctionsResponse) {
				if p.Count == nil || *p.Count != 30 {
					t.Errorf("count = %v, want 30", fmtPtr(p.Count))
				}
			})
			checkOnce(t, "all, maxitems 10", got, all)
		})

		t.Run("PageSizes", func(t *testing.T) {
			t.Parallel()
			for _, m := range []string{"1", "7", "29", "30", "31"} {
				got, _ := listAll(t, c, listArgs{Maxitems: ptr(m)}, nil)
				checkOnce(t, "maxitems "+m, got, all)
			}
		})

		t.Run("DefaultAndOversizedMaxitems", func(t *testing.T) {
			t.Parallel()
			// unset, 0 and >400 all mean 400: the 30 functions fit one page.
			for _, m := range []*string{nil, ptr("0"), ptr("400"), ptr("401"), ptr("100000")} {
				r, err := list(c, listArgs{Maxitems: m})
				must(t, "ListFunctions maxitems="+fmtPtr(m), err)
				if r.Functions == nil || len(*r.Functions) != 30 {
					t.Errorf("maxitems=%s: %d functions on the first page, want all 30", fmtPtr(m), lenFns(r))
				}
				if r.NextMarker != nil && *r.NextMarker != 0 {
					// A marker is allowed, but following it must give nothing.
					r2, err := list(c, listArgs{Maxitems: m, Marker: ptr(fmt.Sprint(*r.NextMarker))})
					must(t, "ListFunctions second page", err)
					if lenFns(r2) != 0 {
						t.Errorf("maxitems=%s: second page has %d functions", fmtPtr(m), lenFns(r2))
					}
				}
			}
		})

		t.Run("NegativeMaxitems", func(t *testing.T) {
			t.Parallel()
			for _, m := range []string{"-1", "-400"} {
				_, err := list(c, listArgs{Maxitems: ptr(m)})
				wantSDKError(t, "ListFunctions maxitems="+m, err, 400, "FSS.1001")
			}
		})

		t.Run("Filters", func(t *testing.T) {
			t.Parallel()
			cases := []struct {
				name string
				args listArgs
				want []string
			}{
				{"package pager", listArgs{Package: ptr("pager")}, qualify("pager", pager)},
				{"package default", listArgs{Package: ptr("default")}, qualify("default", others)},
				{"package none", listArgs{Package: ptr("no-such-app")}, nil},
				{"func_name substring fn-1", listArgs{Name: ptr("fn-1")}, qualify("pager", pager[10:20])},
				{"func_name substring other", listArgs{Name: ptr("other")}, qualify("default", others)},
				{"func_name exact", listArgs{Name: ptr("page-fn-26")}, []string{"pager/page-fn-26"}},
				{"func_name middle", listArgs{Name: ptr("ge-fn-2")}, qualify("pager", pager[20:27])},
				{"func_name none", listArgs{Name: ptr("zzz")}, nil},
				{"both", listArgs{Package: ptr("pager"), Name: ptr("-0")}, qualify("pager", pager[0:10])},
				{"both, no match", listArgs{Package: ptr("default"), Name: ptr("page")}, nil},
			}
			for _, k := range cases {
				for _, m := range []string{"4", "400"} {
					a := k.args
					a.Maxitems = ptr(m)
					got, _ := listAll(t, c, a, func(p *model.ListFunctionsResponse) {
						if p.Count == nil && len(k.want) > 0 || p.Count != nil && *p.Count != int64(len(k.want)) {
							t.Errorf("%s (maxitems %s): count = %s, want %d", k.name, m, fmtPtr(p.Count), len(k.want))
						}
					})
					checkOnce(t, k.name+" maxitems "+m, got, k.want)
				}
			}
		})
	})

	t.Run("ConcurrentDeletes", func(t *testing.T) {
		churn := createMany(t, c, "churn", "churn", 25)
		a := listArgs{Maxitems: ptr("10"), Package: ptr("churn")}
		first, err := list(c, a)
		must(t, "ListFunctions page 1", err)
		if lenFns(first) != 10 || first.NextMarker == nil || *first.NextMarker == 0 {
			t.Fatalf("page 1: %d functions, next_marker %s; want 10 and a marker", lenFns(first), fmtPtr(first.NextMarker))
		}
		seen := map[string]int{}
		for _, f := range *first.Functions {
			seen[f.FuncName]++
		}
		// Delete two functions already listed and three not yet listed.
		var deleted []string
		var deletedUnseen []string
		for _, n := range churn {
			if seen[n] > 0 && len(deleted) < 2 {
				deleted = append(deleted, n)
			}
		}
		for i := len(churn) - 1; i >= 0 && len(deletedUnseen) < 3; i -= 4 {
			if seen[churn[i]] == 0 {
				deletedUnseen = append(deletedUnseen, churn[i])
			}
		}
		for _, n := range append(append([]string{}, deleted...), deletedUnseen...) {
			_, err := deleteFn(c, "churn:"+n)
			must(t, "DeleteFunction "+n, err)
		}
		marker := first.NextMarker
		for pages := 2; marker != nil && *marker != 0; pages++ {
			if pages > 100 {
				t.Fatal("still paging after 100 pages")
			}
			a.Marker = ptr(fmt.Sprint(*marker))
			r, err := list(c, a)
			must(t, fmt.Sprintf("ListFunctions page %d", pages), err)
			if r.Functions != nil {
				for _, f := range *r.Functions {
					seen[f.FuncName]++
				}
			}
			marker = r.NextMarker
		}
		gone := map[string]bool{}
		for _, n := range deletedUnseen {
			gone[n] = true
		}
		for _, n := range churn {
			switch {
			case gone[n]:
				if seen[n] != 0 {
					t.Errorf("%s was deleted before its page but was listed %d time(s)", n, seen[n])
				}
			case seen[n] != 1:
				t.Errorf("%s listed %d times across the pages, want exactly once", n, seen[n])
			}
		}
		for n := range seen {
			if !strings.HasPrefix(n, "churn-") {
				t.Errorf("unexpected function %s", n)
			}
		}
		// Afterwards a fresh walk sees exactly the 20 survivors.
		var survivors []string
		dead := map[string]bool{}
		for _, n := range append(deleted, deletedUnseen...) {
			dead[n] = true
		}
		for _, n := range churn {
			if !dead[n] {
				survivors = append(survivors, "churn/"+n)
			}
		}
		got, _ := listAll(t, c, listArgs{Maxitems: ptr("10"), Package: ptr("churn")}, func(p *model.ListFunctionsResponse) {
			if p.Count == nil || *p.Count != int64(len(survivors)) {
				t.Errorf("count after deletes = %s, want %d", fmtPtr(p.Count), len(survivors))
			}
		})
		checkOnce(t, "after deletes", got, survivors)
	})
}

// TestListFunctions_MaxitemsCap checks the 400-item page cap with 405
// functions.
func TestListFunctions_MaxitemsCap(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("creates 405 functions")
	}
	s := startServer(t, serverOpts{QuotaFunctions: 1000})
	c := s.Client(t)
	names := createMany(t, c, "default", "cap", 405)
	for _, m := range []*string{nil, ptr("0"), ptr("400"), ptr("401"), ptr("5000")} {
		r, err := list(c, listArgs{Maxitems: m})
		must(t, "ListFunctions maxitems="+fmtPtr(m), err)
		if lenFns(r) != 400 {
			t.Errorf("maxitems=%s: first page has %d functions, want 400", fmtPtr(m), lenFns(r))
		}
		if r.Count == nil || *r.Count != 405 {
			t.Errorf("maxitems=%s: count = %s, want 405", fmtPtr(m), fmtPtr(r.Count))
		}
		if r.NextMarker == nil || *r.NextMarker == 0 {
			t.Errorf("maxitems=%s: no next_marker although 5 functions remain", fmtPtr(m))
		}
	}
	got, pages := listAll(t, c, listArgs{}, nil)
	checkOnce(t, "405 functions, default page size", got, qualify("default", names))
	if pages != 2 {
		t.Errorf("405 functions took %d pages at the default size, want 2", pages)
	}
}

func lenFns(r *model.ListFunctionsResponse) int {
	if r == nil || r.Functions == nil {
		return 0
	}
	return len(*r.Functions)
}

func fmtPtr[T any](p *T) string {
	if p == nil {
		return "<absent>"
	}
	return fmt.Sprint(*p)
}
