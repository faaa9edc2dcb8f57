package conformance

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/huaweicloud/huaweicloud-sdk-go-v3/services/functiongraph/v2/model"
)

const pyTagged = `import time


def handler(event, context):
    print("begin " + event["tag"])
    time.sleep(0.5)
    context.getLogger().info("logger " + event["tag"])
    print("end " + event["tag"])
    return {"tag": event["tag"], "requestId": context.getRequestID()}
`

const nodeTagged = `exports.handler = async (event, context) => {
  console.log('begin ' + event.tag);
  await new Promise((resolve) => setTimeout(resolve, 500));
  context.getLogger().info('logger ' + event.tag);
  console.log('end ' + event.tag);
  return { tag: event.tag, requestId: context.getRequestID() };
};
`

const nodeSlowInit = `let inits = 0;
let initDone = false;

exports.initializer = function (context, callback) {
  inits++;
  setTimeout(() => {
    initDone = true;
    callback(null, '');
  }, 300);
};

exports.handler = async () => ({ inits, initDone });
`

// distinct returns the distinct instance ids of rs, sorted.
func distinct(rs []invokeResult) []string {
	seen := map[string]bool{}
	var out []string
	for _, r := range rs {
		if !seen[r.Instance()] {
			seen[r.Instance()] = true
			out = append(out, r.Instance())
		}
	}
	sort.Strings(out)
	return out
}

// parallelCalls sends n invocations of event at once and returns them and
// the wall time of the batch. A transport error is a failed result.
func parallelCalls(t *testing.T, s *Server, urn, event string, n int) ([]invokeResult, time.Duration) {
	t.Helper()
	start := time.Now()
	rs := parallel(n, func(i int) invokeResult {
		r, err := s.invokeRawErr(urn, []byte(event), nil)
		if err != nil {
			t.Errorf("call %d: %v", i, err)
		}
		return r
	})
	return rs, time.Since(start)
}

func allOK(t *testing.T, what string, rs []invokeResult) bool {
	t.Helper()
	ok := true
	for i, r := range rs {
		if r.HTTP != 200 || r.Status != 200 || r.Header.Get("X-Is-Func-Err") != "false" {
			t.Errorf("%s: call %d: %v", what, i, r)
			ok = false
		}
	}
	return ok
}

// overlapping reports whether the calls' [start, end] intervals, as the
// function measured them, all share a moment.
func overlapping(t *testing.T, rs []invokeResult) bool {
	t.Helper()
	var latestStart, earliestEnd float64
	for i, r := range rs {
		var v struct{ Start, End float64 }
		if err := json.Unmarshal([]byte(r.Result), &v); err != nil {
			t.Errorf("call %d: result %q", i, r.Result)
			return false
		}
		if i == 0 || v.Start > latestStart {
			latestStart = v.Start
		}
		if i == 0 || v.End < earliestEnd {
			earliestEnd = v.End
		}
	}
	return latestStart < earliestEnd
}

// TestInvokeScaling covers instances per function (strategy_config),
// concurrent requests per instance, and warm reuse.
func TestInvokeScaling(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOpts{})
	c := s.Client(t)

	t.Run("FourInstances", func(t *testing.T) {
		t.Parallel()
		// Max instances 4, one request per instance: four 1 s calls at
		// once run side by side on four instances.
		urn := deploy(t, c, fnSpec{Name: "py-four", Runtime: "Python3.9", Inline: pySleep, MaxInstances: ptr(int32(4)), ConcurrentNum: 1})
		rs, took := parallelCalls(t, s, urn, `{"seconds":1}`, 4)
		if !allOK(t, "4 parallel calls", rs) {
			return
		}
		if ids := distinct(rs); len(ids) != 4 {
			t.Errorf("4 parallel calls with concurrent_num 1 ran on %d instances %v, want 4", len(ids), ids)
		}
		// One after another they would take 4 s; side by side about 1 s
		// plus four cold starts (allow for a busy machine).
		if took > 3500*time.Millisecond || !overlapping(t, rs) {
			t.Errorf("4 parallel 1 s calls took %v (overlapping: %v), want them side by side in < ~3 s", took, overlapping(t, rs))
		}
	})

	t.Run("OneNodeInstanceServesFour", func(t *testing.T) {
		t.Parallel()
		// Max instances 1, concurrent_num 4: one Node.js instance serves
		// four async sleeps at once.
		urn := deploy(t, c, fnSpec{Name: "node-shared", Runtime: "Node.js18.15", Inline: nodeSleep, MaxInstances: ptr(int32(1)), ConcurrentNum: 4})
		s.invokeOK(t, urn, `{}`, nil) // start the instance
		rs, took := parallelCalls(t, s, urn, `{"seconds":1}`, 4)
		if !allOK(t, "4 parallel calls", rs) {
			return
		}
		if ids := distinct(rs); len(ids) != 1 {
			t.Errorf("max instances 1: 4 calls ran on instances %v, want one", ids)
		}
		if took > 3*time.Second || !overlapping(t, rs) {
			t.Errorf("4 parallel 1 s calls on one instance took %v (overlapping: %v), want them served at once", took, overlapping(t, rs))
		}
	})

	t.Run("OnePythonInstanceServesFour", func(t *testing.T) {
		t.Parallel()
		urn := deploy(t, c, fnSpec{Name: "py-shared", Runtime: "Python3.9", Inline: pySleep, MaxInstances: ptr(int32(1)), ConcurrentNum: 4})
		s.invokeOK(t, urn, `{}`, nil)
		rs, took := parallelCalls(t, s, urn, `{"seconds":1}`, 4)
		if !allOK(t, "4 parallel calls", rs) {
			return
		}
		if ids := distinct(rs); len(ids) != 1 {
			t.Errorf("max instances 1: 4 calls ran on instances %v, want one", ids)
		}
		if took > 3*time.Second || !overlapping(t, rs) {
			t.Errorf("4 parallel 1 s calls on one Python instance took %v (overlapping: %v), want them served at once", took, overlapping(t, rs))
		}
	})

	t.Run("ConcurrentLogsStaySeparate", func(t *testing.T) {
		t.Parallel()
		// Four requests at once on one instance: each one's log tail and
		// context hold only its own output and request id.
		for _, f := range []fnSpec{
			{Name: "py-shared-logs", Runtime: "Python3.9", Inline: pyTagged},
			{Name: "node-shared-logs", Runtime: "Node.js18.15", Inline: nodeTagged},
		} {
			f.MaxInstances, f.ConcurrentNum = ptr(int32(1)), 4
			urn := deploy(t, c, f)
			s.invokeOK(t, urn, `{"tag":"warm"}`, nil)
			rs := parallel(4, func(i int) invokeResult {
				r, err := s.invokeRawErr(urn, []byte(fmt.Sprintf(`{"tag":"t%d"}`, i)), withTail)
				if err != nil {
					t.Errorf("%s call %d: %v", f.Name, i, err)
				}
				return r
			})
			if !allOK(t, f.Name, rs) {
				continue
			}
			if ids := distinct(rs); len(ids) != 1 {
				t.Errorf("%s: 4 calls ran on instances %v, want one", f.Name, ids)
			}
			for i, r := range rs {
				tag := fmt.Sprintf("t%d", i)
				if m := r.ResultJSON(t); m["tag"] != tag || m["requestId"] != r.RequestID {
					t.Errorf("%s call %d: result %v, want tag %s and requestId %s", f.Name, i, m, tag, r.RequestID)
				}
				between := checkFramedLog(t, f.Name+" "+tag, r.Log, r.RequestID, 128)
				want := []string{"begin " + tag, r.RequestID + " INFO logger " + tag, "end " + tag}
				ok := len(between) == len(want)
				for j := 0; ok && j < len(want); j++ {
					ok = strings.HasSuffix(between[j], want[j])
				}
				if !ok {
					t.Errorf("%s call %d: log between Start and Finish %q, want only its own lines %q", f.Name, i, between, want)
				}
			}
		}
	})

	t.Run("InitializerOnceUnderConcurrency", func(t *testing.T) {
		t.Parallel()
		// The first four calls arrive together at a new instance that
		// serves four at a time: the initializer still runs once, before
		// any of them.
		urn := deploy(t, c, fnSpec{Name: "node-init-shared", Runtime: "Node.js18.15", Inline: nodeSlowInit, Init: "index.initializer",
			InitTimeout: 10, MaxInstances: ptr(int32(1)), ConcurrentNum: 4})
		rs := parallel(4, func(i int) invokeResult {
			r, err := s.invokeRawErr(urn, []byte(`{}`), nil)
			if err != nil {
				t.Errorf("call %d: %v", i, err)
			}
			return r
		})
		if !allOK(t, "4 first calls", rs) {
			return
		}
		if ids := distinct(rs); len(ids) != 1 {
			t.Errorf("max instances 1: calls ran on %v", ids)
		}
		for i, r := range rs {
			if m := r.ResultJSON(t); !numIs(m["inits"], 1) || m["initDone"] != true {
				t.Errorf("call %d: result %v, want inits 1 and the initializer finished before the handler ran", i, m)
			}
		}
	})

	t.Run("MaxInstancesBySDK", func(t *testing.T) {
		t.Parallel()
		// UpdateFunctionMaxInstanceConfig caps the instances: with 2,
		// two parallel 1 s calls use two instances, and a third waits
		// (queue timeout 1 s by default) or is throttled, never a third
		// instance.
		urn := deploy(t, c, fnSpec{Name: "py-max2", Runtime: "Python3.9", Inline: pySleep})
		_, err := updateMax(c, urn, 2)
		must(t, "UpdateFunctionMaxInstanceConfig 2", err)
		rs, _ := parallelCalls(t, s, urn, `{"seconds":1.5}`, 3)
		ok := 0
		for _, r := range rs {
			switch {
			case r.HTTP == 200 && r.Status == 200:
				ok++
			case r.HTTP == 429:
				wantRawError(t, "third call beyond max instances", rawResp{Status: r.HTTP, Header: r.Header, Body: r.Raw}, 429, "FSS.0429")
			default:
				t.Errorf("call: %v, want 200 or 429 FSS.0429", r)
			}
		}
		var served []invokeResult
		for _, r := range rs {
			if r.HTTP == 200 {
				served = append(served, r)
			}
		}
		if ids := distinct(served); len(ids) > 2 || ok < 2 {
			t.Errorf("max instances 2: %d calls served on instances %v, want at least 2 served on at most 2 instances", ok, ids)
		}
	})

	t.Run("WarmReuse", func(t *testing.T) {
		t.Parallel()
		urn := deploy(t, c, fnSpec{Name: "node-warm", Runtime: "Node.js18.15", Inline: nodeEcho})
		var rs []invokeResult
		for i := 0; i < 3; i++ {
			rs = append(rs, s.invokeOK(t, urn, `{"kind":"int"}`, nil))
		}
		if !rs[0].Cold() {
			t.Errorf("the first call of a new function: X-Openfgs-Cold-Start %q, want true", rs[0].Header.Get("X-Openfgs-Cold-Start"))
		}
		for i := 1; i < 3; i++ {
			if rs[i].Instance() != rs[0].Instance() || rs[i].Cold() {
				t.Errorf("call %d: instance %s cold %v; want the warm instance %s, cold false", i+1, rs[i].Instance(), rs[i].Cold(), rs[0].Instance())
			}
		}
	})

	t.Run("NewConfigNewInstance", func(t *testing.T) {
		t.Parallel()
		// A configuration change (memory) runs on a new instance with the
		// new limits.
		urn := deploy(t, c, fnSpec{Name: "py-reconf", Runtime: "Python3.9", Inline: pyContextEnv,
			UserData: `{"GREETING":"hello","DB_HOST":"db.internal"}`})
		r1 := s.invokeOK(t, urn, `{}`, nil)
		reconfigure(t, c, urn, func(b *model.UpdateFunctionConfigRequestBody) { b.MemorySize = 256 })
		r2 := s.invokeOK(t, urn, `{}`, nil)
		var got struct{ Ctx map[string]any }
		json.Unmarshal([]byte(r2.Result), &got)
		if !numIs(got.Ctx["memory"], 256) {
			t.Errorf("after memory_size 256: getMemorySize() = %v", got.Ctx["memory"])
		}
		if r2.Instance() == r1.Instance() {
			t.Errorf("after UpdateFunctionConfig the call ran on the old instance %s", r1.Instance())
		}
	})
}

// TestInvokeThrottle runs with --queue-timeout 500ms: a call that finds
// every instance busy waits that long, then gets 429 FSS.0429.
func TestInvokeThrottle(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOpts{Extra: []string{"--queue-timeout", "500ms"}})
	c := s.Client(t)
	urn := deploy(t, c, fnSpec{Name: "py-single", Runtime: "Python3.9", Inline: pySleep, MaxInstances: ptr(int32(1)), ConcurrentNum: 1})
	warm := s.invokeOK(t, urn, `{}`, nil)

	t.Run("Throttled", func(t *testing.T) {
		done := make(chan invokeResult, 1)
		go func() {
			r, err := s.invokeRawErr(urn, []byte(`{"seconds":3}`), nil)
			if err != nil {
				t.Errorf("the long call: %v", err)
			}
			done <- r
		}()
		time.Sleep(500 * time.Millisecond)
		start := time.Now()
		_, err := c.InvokeFunction(&model.InvokeFunctionRequest{FunctionUrn: urn, Body: map[string]interface{}{}})
		took := time.Since(start)
		wantSDKError(t, "a second call while the only instance is busy", err, 429, "FSS.0429")
		if took < 400*time.Millisecond || took > 2500*time.Millisecond {
			t.Errorf("the throttled call returned after %v, want after the 500 ms queue timeout", took)
		}
		r := <-done
		if r.HTTP != 200 || r.Status != 200 {
			t.Errorf("the long call: %v, want it served", r)
		} else if r.Instance() != warm.Instance() {
			t.Errorf("the long call ran on %s, want the one instance %s", r.Instance(), warm.Instance())
		}
	})

	t.Run("QueuedWithinTimeout", func(t *testing.T) {
		// A call that finds the instance busy for less than the queue
		// timeout waits and is served.
		done := make(chan invokeResult, 1)
		go func() {
			r, _ := s.invokeRawErr(urn, []byte(`{"seconds":0.1}`), nil)
			done <- r
		}()
		time.Sleep(30 * time.Millisecond)
		r := s.invoke(t, urn, `{}`, nil)
		if r.HTTP != 200 || r.Status != 200 {
			t.Errorf("a call queued behind a 100 ms call: %v, want it served", r)
		}
		if first := <-done; first.HTTP != 200 || first.Status != 200 {
			t.Errorf("the 100 ms call: %v", first)
		}
	})
}

// TestInvokeIdle runs with --idle-timeout 1s: an idle instance stops, and
// the next call is a cold start on a new instance.
func TestInvokeIdle(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOpts{Extra: []string{"--idle-timeout", "1s"}})
	c := s.Client(t)
	for _, f := range []fnSpec{
		{Name: "py-idle", Runtime: "Python3.9", Inline: pyEcho},
		{Name: "node-idle", Runtime: "Node.js18.15", Inline: nodeEcho},
	} {
		t.Run(f.Name, func(t *testing.T) {
			t.Parallel()
			urn := deploy(t, c, f)
			r1 := s.invokeOK(t, urn, `{"kind":"int"}`, nil)
			r2 := s.invokeOK(t, urn, `{"kind":"int"}`, nil)
			if !r1.Cold() || r2.Cold() || r2.Instance() != r1.Instance() {
				t.Errorf("two quick calls: cold %v/%v on %s/%s, want a cold start then the warm instance", r1.Cold(), r2.Cold(), r1.Instance(), r2.Instance())
			}
			time.Sleep(2500 * time.Millisecond)
			r3 := s.invokeOK(t, urn, `{"kind":"int"}`, nil)
			if !r3.Cold() || r3.Instance() == r1.Instance() {
				t.Errorf("a call 2.5 s after the last with --idle-timeout 1s: instance %s cold %v, want a new instance (not %s), cold true",
					r3.Instance(), r3.Cold(), r1.Instance())
			}
		})
	}
}
