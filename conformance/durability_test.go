package conformance

import (
	"encoding/base64"
	"fmt"
	"sort"
	"sync"
	"syscall"
	"testing"
	"time"

	fg "github.com/huaweicloud/huaweicloud-sdk-go-v3/services/functiongraph/v2"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/services/functiongraph/v2/model"
)

// snapshot is everything the API shows about a project's functions.
type snapshot map[string]string // package/name -> config and code JSON

func takeSnapshot(t *testing.T, c *fg.FunctionGraphClient) snapshot {
	t.Helper()
	fns, _ := listAll(t, c, listArgs{Maxitems: ptr("3")}, nil)
	snap := snapshot{}
	for _, f := range fns {
		cfg, err := showConfig(c, f.FuncUrn)
		must(t, "ShowFunctionConfig "+f.FuncUrn, err)
		code, err := showCode(c, f.FuncUrn)
		must(t, "ShowFunctionCode "+f.FuncUrn, err)
		cfg.HttpStatusCode, code.HttpStatusCode = 0, 0
		snap[f.Package+"/"+f.FuncName] = jsonOf(cfg) + "\n" + jsonOf(code)
	}
	return snap
}

func compareSnapshots(t *testing.T, what string, before, after snapshot) {
	t.Helper()
	var names []string
	for k := range before {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		got, ok := after[k]
		switch {
		case !ok:
			t.Errorf("%s: function %s is gone", what, k)
		case got != before[k]:
			t.Errorf("%s: function %s changed:\nbefore %s\nafter  %s", what, k, before[k], got)
		}
	}
	for k := range after {
		if _, ok := before[k]; !ok {
			t.Errorf("%s: function %s appeared", what, k)
		}
	}
}

// TestDurability restarts the server in the middle of a test, gracefully
// (SIGTERM, which must exit 0) and by SIGKILL, and checks that every
// function, its code and configuration, and every credential survive.
func TestDurability(t *testing.T) {
	t.Parallel()
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL} {
		t.Run(sig.String(), func(t *testing.T) {
			t.Parallel()
			s := startServer(t, serverOpts{})
			c := s.Client(t)

			// Tenant A: functions in two packages, changed after creation.
			py := mustCreate(t, c, pyInline("dur-py"))
			nodeFn := mustCreate(t, c, nodeZipBody(t, "dur-node"))
			app := pyInline("dur-app-fn")
			app.Package = "dur-app"
			mustCreate(t, c, app)
			ub := updBody("dur-py")
			ub.MemorySize, ub.UserData, ub.Description = 1024, ptr(`{"STAGE":"durable"}`), ptr("survives restarts")
			ub.StrategyConfig = &model.StrategyConfig{Concurrency: 40, ConcurrentNum: 2}
			_, err := updateConfig(c, deref(py.FuncUrn), ub)
			must(t, "UpdateFunctionConfig dur-py", err)
			newZip := zipFiles(t, map[string]string{"index.js": nodeIndex + "// v2\n"})
			_, err = updateCode(c, deref(nodeFn.FuncUrn), &model.UpdateFunctionCodeRequestBody{CodeType: updCodeType("zip"),
				CodeFilename: ptr("index.zip"), FuncCode: &model.FuncCode{File: ptr(b64(newZip))}})
			must(t, "UpdateFunctionCode dur-node", err)

			// Tenant B and extra credentials, made with the admin CLI while
			// the server runs.
			bProject := s.AddProject(t, "durable-b")
			bCred := s.AddCredential(t, bProject)
			tmpCred := s.AddCredential(t, s.Project, "--ttl", "1h")
			extraAK, extraSK := randomAK(), randomToken(40)
			s.Admin(t, "credential", "add", "--project", s.Project, "--access-key", extraAK, "--secret-key", extraSK)
			extra := cred{AK: extraAK, SK: extraSK, Project: s.Project}
			bc := s.ClientWith(t, bCred, clientOpts{})
			mustCreate(t, bc, nodeZipBody(t, "b-fn"))

			// The last write just before the stop must survive it too.
			last := pyInline("last-write")
			last.UserData = ptr(`{"WRITTEN":"just before the stop"}`)
			mustCreate(t, c, last)
			_, err = deleteFn(c, "dur-app:dur-app-fn")
			must(t, "DeleteFunction dur-app-fn", err)

			snapA, snapB := takeSnapshot(t, c), takeSnapshot(t, bc)
			if len(snapA) != 3 || len(snapB) != 1 {
				t.Fatalf("before the restart: %d functions in A, %d in B; want 3 and 1", len(snapA), len(snapB))
			}
			quotaBefore := quotas(t, c)

			for round := 1; round <= 2; round++ {
				what := fmt.Sprintf("after %v restart #%d", sig, round)
				s.Restart(t, sig)
				c, bc = s.Client(t), s.ClientWith(t, bCred, clientOpts{})
				compareSnapshots(t, what+" (project A)", snapA, takeSnapshot(t, c))
				compareSnapshots(t, what+" (project B)", snapB, takeSnapshot(t, bc))
				if q := quotas(t, c); jsonOf(q) != jsonOf(quotaBefore) {
					t.Errorf("%s: quotas %v, before %v", what, q, quotaBefore)
				}
				for name, cr := range map[string]cred{"temporary": tmpCred, "operator-chosen": extra, "bootstrap": s.Cred()} {
					_, err := list(s.ClientWith(t, cr, clientOpts{}), listArgs{})
					must(t, what+": ListFunctions with the "+name+" credential", err)
				}
				_, err = showConfig(c, "dur-app:dur-app-fn")
				wantSDKError(t, what+": the deleted function", err, 404, "FSS.1051")
				// Tokens can still be issued, and the duplicate check still holds.
				s.mustToken(t, map[string]any{"id": s.Project})
				_, err = create(c, pyInline("dur-py"))
				wantSDKError(t, what+": CreateFunction of an existing name", err, 409, "FSS.1061")
			}

			// The restarted server takes new writes, and pagination still
			// visits everything once.
			for i := 0; i < 5; i++ {
				mustCreate(t, c, pyInline(fmt.Sprintf("post-restart-%d", i)))
			}
			all, _ := listAll(t, c, listArgs{Maxitems: ptr("2")}, nil)
			want := []string{"default/dur-py", "default/dur-node", "default/last-write"}
			for i := 0; i < 5; i++ {
				want = append(want, fmt.Sprintf("default/post-restart-%d", i))
			}
			checkOnce(t, "after the restarts", all, want)
		})
	}
}

// TestDurability_KillDuringWrites SIGKILLs the server while clients are
// creating functions: every create that was answered with success must
// survive, and every function listed afterwards must be whole (its code
// readable and matching its digest).
func TestDurability_KillDuringWrites(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOpts{QuotaFunctions: 10000})
	c := s.Client(t)

	var mu sync.Mutex
	acked := map[string]string{} // name -> digest
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				name := fmt.Sprintf("w%d-fn-%03d", w, i)
				src := []byte(pythonIndex + fmt.Sprintf("\n# %s\n", name))
				b := pyInline(name)
				b.FuncCode = &model.FuncCode{File: ptr(b64(src))}
				if _, err := create(c, b); err == nil {
					mu.Lock()
					acked[name] = sha512hex(src)
					mu.Unlock()
				} else if sdkError(err) != nil {
					// An answered error (not a dropped connection) is a bug
					// while the server is up; after the kill only transport
					// errors can happen.
					select {
					case <-stop:
					default:
						t.Errorf("CreateFunction %s: %v", name, err)
					}
				}
			}
		}()
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= 40 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	s.stop(t, syscall.SIGKILL) // mid-write; the writers now see only connection errors
	close(stop)
	wg.Wait()
	s.start(t)

	c = s.Client(t)
	fns, _ := listAll(t, c, listArgs{Maxitems: ptr("50")}, nil)
	listed := map[string]bool{}
	for _, f := range fns {
		listed[f.FuncName] = true
		code, err := showCode(c, f.FuncUrn)
		must(t, "ShowFunctionCode "+f.FuncName+" after SIGKILL", err)
		if code.FuncCode == nil || code.FuncCode.File == nil {
			t.Errorf("%s: no code after SIGKILL", f.FuncName)
			continue
		}
		raw, err := base64.StdEncoding.DecodeString(*code.FuncCode.File)
		if err != nil || sha512hex(raw) != deref(code.Digest) || f.Digest != deref(code.Digest) {
			t.Errorf("%s: code and digest disagree after SIGKILL", f.FuncName)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(acked) == 0 {
		t.Fatal("no create was acknowledged before the kill")
	}
	for name, digest := range acked {
		if !listed[name] {
			t.Errorf("acknowledged function %s is gone after SIGKILL", name)
			continue
		}
		cfg, err := showConfig(c, name)
		must(t, "ShowFunctionConfig "+name, err)
		if deref(cfg.Digest) != digest {
			t.Errorf("%s: digest changed across SIGKILL", name)
		}
	}
	t.Logf("%d creates acknowledged before SIGKILL, %d functions after restart", len(acked), len(fns))
}
