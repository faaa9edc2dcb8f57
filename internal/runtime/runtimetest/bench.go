package runtimetest

import (
	"context"
	"io"
	"slices"
	"testing"
	"time"

	"github.com/openfgs/openfgs/internal/runtime"
)

// BenchmarkInvoke measures a warm invocation of fn (which should do
// nothing) through the Conn of one instance: the floor of a direct call
// into a warm runtime.
func BenchmarkInvoke(b *testing.B, kind runtime.Kind, fn *runtime.Function) {
	in := MustLaunch(b, kind, fn)
	inv := &runtime.Invocation{
		RequestID: "7f3ac4e2-1b6d-4c1e-9a51-2d0d5b8e6c11",
		Event:     []byte(`{"key":"value"}`),
		Deadline:  time.Now().Add(time.Hour),
		Log:       io.Discard,
	}
	// Warm up: let Node's JIT and Python's caches settle, so that a short
	// run measures the steady state.
	BenchmarkConn(b, in.Conn, inv, 3000)
}

// BenchmarkConn measures inv through conn, after warmup invocations that
// are not measured (nor checked but for an instance error).
func BenchmarkConn(b *testing.B, conn runtime.Conn, inv *runtime.Invocation, warmup int) {
	ctx := context.Background()
	for i := 0; i < warmup; i++ {
		if _, err := conn.Invoke(ctx, inv); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		res, err := conn.Invoke(ctx, inv)
		if err != nil || res.Err != nil {
			b.Fatalf("Invoke = %v, %v", res.Err, err)
		}
	}
}

// ColdStartTimes logs the median, over runs runs, of (1) the time from
// starting a process made for fn to the end of Load (the function's code
// imported), and (2) the time Load takes on a generic instance started
// beforehand and ready, and of the first invocation after each.
func ColdStartTimes(t *testing.T, kind runtime.Kind, fn *runtime.Function, runs int) {
	ctx := context.Background()
	var specific, generic, firstSpecific, firstGeneric []time.Duration
	for i := 0; i < runs; i++ {
		start := time.Now()
		prog, err := kind.Program(fn)
		if err != nil {
			t.Fatal(err)
		}
		p, err := StartProcess(prog)
		if err != nil {
			t.Fatal(err)
		}
		conn, err := kind.Attach(ctx, p, fn)
		if err != nil {
			t.Fatal(err)
		}
		if err := conn.Load(ctx, fn); err != nil {
			t.Fatalf("Load = %v\n%s", err, p.OutputString())
		}
		specific = append(specific, time.Since(start))
		firstSpecific = append(firstSpecific, timeInvoke(t, conn))
		conn.Close()
		p.Stop()
	}
	for i := 0; i < runs; i++ {
		in := LaunchGeneric(t, kind)
		start := time.Now()
		if err := in.Conn.Load(ctx, fn); err != nil {
			t.Fatalf("Load = %v", err)
		}
		generic = append(generic, time.Since(start))
		firstGeneric = append(firstGeneric, timeInvoke(t, in.Conn))
		in.Conn.Close()
		in.Process.Stop()
	}
	t.Logf("start to Loaded, program for the function: median %v (min %v, max %v); first invoke %v",
		median(specific), slices.Min(specific), slices.Max(specific), median(firstSpecific))
	t.Logf("Load on a ready generic instance:         median %v (min %v, max %v); first invoke %v",
		median(generic), slices.Min(generic), slices.Max(generic), median(firstGeneric))
}

func timeInvoke(t *testing.T, conn runtime.Conn) time.Duration {
	start := time.Now()
	res, err := conn.Invoke(context.Background(), &runtime.Invocation{
		RequestID: NewRequestID(), Event: []byte(`{"name":"cold"}`),
		Deadline: time.Now().Add(time.Minute), Log: io.Discard,
	})
	if err != nil || res.Err != nil {
		t.Fatalf("Invoke = %v, %v", res.Err, err)
	}
	return time.Since(start)
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}
