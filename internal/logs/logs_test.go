package logs

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/openfgs/openfgs/internal/fgs"
)

func TestStore_AppendRecords(t *testing.T) {
	ctx := context.Background()
	s, err := Open(t.TempDir(), 1<<20, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(ctx)
	t0 := time.Unix(1_800_000_000, 0).UTC()
	for i := range 5 {
		s.Append(Record{RequestID: fmt.Sprint("r", i), Project: "p", Package: "default", Function: "f", Start: t0.Add(time.Duration(i) * time.Second), OK: true, Log: fmt.Sprintf("line %d\n", i)})
	}
	s.Append(Record{RequestID: "other", Project: "p", Package: "default", Function: "g", Start: t0})
	k := fgs.Key{Project: "p", Package: "default", Name: "f"}
	all, err := s.Records(ctx, k, Query{})
	if err != nil || len(all) != 5 || all[0].RequestID != "r0" || all[4].Log != "line 4\n" {
		t.Fatalf("Records(all) = %d records, %v", len(all), err)
	}
	one, _ := s.Records(ctx, k, Query{RequestID: "r3"})
	if len(one) != 1 || one[0].RequestID != "r3" {
		t.Fatalf("Records(r3) = %+v", one)
	}
	last, _ := s.Records(ctx, k, Query{Limit: 2})
	if len(last) != 2 || last[1].RequestID != "r4" {
		t.Fatalf("Records(limit 2) = %+v", last)
	}
	win, _ := s.Records(ctx, k, Query{Since: t0.Add(time.Second), Until: t0.Add(3 * time.Second)})
	if len(win) != 2 || win[0].RequestID != "r1" {
		t.Fatalf("Records(window) = %+v", win)
	}
	if err := s.Delete(ctx, k); err != nil {
		t.Fatal(err)
	}
	if gone, _ := s.Records(ctx, k, Query{}); len(gone) != 0 {
		t.Fatalf("Records after Delete = %d", len(gone))
	}
}

// Retention: a function never keeps more than its budget, and the newest
// records survive.
func TestStore_Retention(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	const budget = 256 << 10
	s, _ := Open(dir, budget, nil)
	big := strings.Repeat("x", 10<<10)
	for i := range 200 {
		s.Append(Record{RequestID: fmt.Sprint(i), Project: "p", Package: "d", Function: "f", Log: big})
	}
	k := fgs.Key{Project: "p", Package: "d", Name: "f"}
	recs, _ := s.Records(ctx, k, Query{})
	if len(recs) == 0 || recs[len(recs)-1].RequestID != "199" {
		t.Fatalf("newest record missing: %d records", len(recs))
	}
	s.Close(ctx)
	var total int64
	for _, p := range []string{s.path(k), s.path(k) + ".1"} {
		if st, err := os.Stat(p); err == nil {
			total += st.Size()
		}
	}
	if total > budget {
		t.Fatalf("kept %d bytes, budget %d", total, budget)
	}
}

func TestStore_TruncatesHugeLogs(t *testing.T) {
	ctx := context.Background()
	s, _ := Open(t.TempDir(), 1<<20, nil)
	defer s.Close(ctx)
	s.Append(Record{RequestID: "r", Project: "p", Package: "d", Function: "f", Log: strings.Repeat("a", MaxLog) + "END"})
	recs, _ := s.Records(ctx, fgs.Key{Project: "p", Package: "d", Name: "f"}, Query{})
	if len(recs) != 1 || !recs[0].Truncated || len(recs[0].Log) != MaxLog || !strings.HasSuffix(recs[0].Log, "END") {
		t.Fatalf("huge log kept as %d bytes, truncated=%v", len(recs[0].Log), recs[0].Truncated)
	}
}

// appendJSON encodes what encoding/json decodes back to the same record.
func FuzzRecordJSON(f *testing.F) {
	f.Add("r-1", "p", "default", "f", "latest", "i-1", int64(1700000000123456789), int64(1234567), 12.5, true, 0, "hello\n", false)
	f.Add("\"\\\x00\u2028", "", "", "", "", "", int64(0), int64(-1), 0.0, false, 4002, "\xff\xfe bad utf-8", true)
	f.Fuzz(func(t *testing.T, id, project, pkg, fn, version, instance string, start, dur int64, mem float64, ok bool, code int, log string, trunc bool) {
		if math.IsNaN(mem) || math.IsInf(mem, 0) {
			mem = 0
		}
		r := Record{RequestID: id, Project: project, Package: pkg, Function: fn, Version: version, Instance: instance,
			Start: time.Unix(0, start).UTC(), Duration: time.Duration(dur), MemoryMB: mem, OK: ok, ErrorCode: code, Log: log, Truncated: trunc}
		b := r.appendJSON(nil)
		var got Record
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		want, _ := json.Marshal(r)
		var viaJSON Record
		json.Unmarshal(want, &viaJSON)
		if !reflect.DeepEqual(got, viaJSON) || !got.Start.Equal(r.Start) {
			t.Fatalf("appendJSON decodes to %+v, encoding/json to %+v", got, viaJSON)
		}
	})
}
