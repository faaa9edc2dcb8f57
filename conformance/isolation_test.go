package conformance

import (
	"net/http"
	"testing"
	"time"

	"github.com/huaweicloud/huaweicloud-sdk-go-v3/services/functiongraph/v2/model"
)

// TestIsolation checks that a credential of one project can neither see
// nor change another project's functions.
func TestIsolation(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOpts{})
	a := s.Client(t) // tenant A: the bootstrap project

	bProject := s.AddProject(t, "tenant-b")
	if bProject == s.Project {
		t.Fatalf("project add returned the bootstrap project id")
	}
	bCred := s.AddCredential(t, bProject)
	b := s.ClientWith(t, bCred, clientOpts{})

	secret := mustCreate(t, a, pyInline("a-secret"))
	aURN := deref(secret.FuncUrn)
	mustCreate(t, a, nodeZipBody(t, "a-other"))
	before, err := showConfig(a, aURN)
	must(t, "ShowFunctionConfig a-secret", err)

	t.Run("ProjectWithChosenID", func(t *testing.T) {
		id := randomHex(16)
		m := s.Admin(t, "project", "add", "--name", "tenant-c", "--id", id)
		if str(m["id"]) != id || str(m["name"]) != "tenant-c" {
			t.Errorf("project add --id %s printed %v", id, m)
		}
		cc := s.ClientWith(t, s.AddCredential(t, id), clientOpts{})
		r := mustCreate(t, cc, pyInline("c-fn"))
		if deref(r.Namespace) != id || deref(r.FuncUrn) != urnOf(s.Region, id, "default", "c-fn") {
			t.Errorf("function of project %s: namespace %q func_urn %q", id, deref(r.Namespace), deref(r.FuncUrn))
		}
		if str(m["domain_id"]) != "" && deref(r.DomainId) != "" && deref(r.DomainId) != str(m["domain_id"]) {
			t.Errorf("domain_id = %q, project add said %q", deref(r.DomainId), str(m["domain_id"]))
		}
		_, err := list(s.ClientWith(t, cred{AK: s.AK, SK: s.SK, Project: id}, clientOpts{}), listArgs{})
		wantSDKError(t, "bootstrap key on tenant-c's project", err, 403, "FSS.0403")
	})

	t.Run("OwnListIsEmpty", func(t *testing.T) {
		r, err := list(b, listArgs{})
		must(t, "B ListFunctions", err)
		if lenFns(r) != 0 || (r.Count != nil && *r.Count != 0) {
			t.Errorf("B's own list shows %d functions (count %s), want none", lenFns(r), fmtPtr(r.Count))
		}
		for _, name := range []string{"a-secret", "a-other"} {
			r, err := list(b, listArgs{Name: ptr(name)})
			must(t, "B ListFunctions func_name="+name, err)
			if lenFns(r) != 0 {
				t.Errorf("B's list filtered by %s shows A's function", name)
			}
		}
		q := quotas(t, b)
		if q["fgs_func_num"].Used != 0 || q["fgs_func_code_size"].Used != 0 {
			t.Errorf("B's quotas count A's functions: %+v", q)
		}
	})

	t.Run("ForeignProjectInPath", func(t *testing.T) {
		// B's key, A's project id in the path (and X-Project-Id).
		intruder := s.ClientWith(t, cred{AK: bCred.AK, SK: bCred.SK, Project: s.Project}, clientOpts{})
		_, err := list(intruder, listArgs{})
		wantSDKError(t, "ListFunctions in A's project with B's key", err, 403, "FSS.0403")
		_, err = intruder.ListQuotas(&model.ListQuotasRequest{})
		wantSDKError(t, "ListQuotas of A's project with B's key", err, 403, "FSS.0403")
		_, err = showConfig(intruder, aURN)
		wantSDKError(t, "ShowFunctionConfig of A's function with B's key", err, 403, "FSS.0403")
		_, err = showCode(intruder, aURN)
		wantSDKError(t, "ShowFunctionCode of A's function with B's key", err, 403, "FSS.0403")
		_, err = updateConfig(intruder, aURN, updBody("a-secret"))
		wantSDKError(t, "UpdateFunctionConfig of A's function with B's key", err, 403, "FSS.0403")
		_, err = updateCode(intruder, aURN, &model.UpdateFunctionCodeRequestBody{CodeType: updCodeType("inline"),
			CodeFilename: ptr("index.py"), FuncCode: &model.FuncCode{File: ptr(b64([]byte(pythonIndexV2)))}})
		wantSDKError(t, "UpdateFunctionCode of A's function with B's key", err, 403, "FSS.0403")
		_, err = updateMax(intruder, aURN, 1)
		wantSDKError(t, "UpdateFunctionMaxInstanceConfig of A's function with B's key", err, 403, "FSS.0403")
		_, err = deleteFn(intruder, unqualified(aURN))
		wantSDKError(t, "DeleteFunction of A's function with B's key", err, 403, "FSS.0403")
		_, err = create(intruder, pyInline("planted"))
		wantSDKError(t, "CreateFunction in A's project with B's key", err, 403, "FSS.0403")
		// The same for a project that does not exist at all.
		nowhere := s.ClientWith(t, cred{AK: bCred.AK, SK: bCred.SK, Project: randomHex(16)}, clientOpts{})
		_, err = list(nowhere, listArgs{})
		wantSDKError(t, "ListFunctions in an unknown project", err, 403, "FSS.0403")
	})

	t.Run("ForeignURNInOwnPath", func(t *testing.T) {
		// B's own project in the path, a URN naming A's project.
		for _, urn := range []string{
			aURN,
			unqualified(aURN),
			s.Project + ":default:a-secret",
			s.Project + ":default:a-secret:latest",
		} {
			_, err := showConfig(b, urn)
			wantSDKError(t, "B ShowFunctionConfig "+urn, err, 403, "FSS.0403")
			_, err = showCode(b, urn)
			wantSDKError(t, "B ShowFunctionCode "+urn, err, 403, "FSS.0403")
			_, err = updateConfig(b, urn, updBody("a-secret"))
			wantSDKError(t, "B UpdateFunctionConfig "+urn, err, 403, "FSS.0403")
			_, err = updateCode(b, urn, &model.UpdateFunctionCodeRequestBody{CodeType: updCodeType("inline"),
				CodeFilename: ptr("index.py"), FuncCode: &model.FuncCode{File: ptr(b64([]byte(pythonIndexV2)))}})
			wantSDKError(t, "B UpdateFunctionCode "+urn, err, 403, "FSS.0403")
			_, err = updateMax(b, urn, 2)
			wantSDKError(t, "B UpdateFunctionMaxInstanceConfig "+urn, err, 403, "FSS.0403")
			if urn != aURN && urn != s.Project+":default:a-secret:latest" {
				_, err = deleteFn(b, urn)
				wantSDKError(t, "B DeleteFunction "+urn, err, 403, "FSS.0403")
			}
		}
	})

	t.Run("XProjectIdMismatch", func(t *testing.T) {
		// A correctly signed request whose X-Project-Id names another
		// project than the path and the credential.
		r := s.Signed(t, bCred, "GET", "/v2/"+bProject+"/fgs/functions", nil, func(req *http.Request) {})
		if r.Status != 200 {
			t.Fatalf("B's own raw list: %v", r)
		}
		// Without X-Project-Id the path's project (B's own) applies.
		r = s.Signed(t, cred{AK: bCred.AK, SK: bCred.SK}, "GET", "/v2/"+bProject+"/fgs/functions", nil, nil)
		if r.Status != 200 {
			t.Errorf("B's own list signed without X-Project-Id: %v, want 200", r)
		}
		r = s.Signed(t, cred{AK: bCred.AK, SK: bCred.SK}, "GET", "/v2/"+s.Project+"/fgs/functions", nil, nil)
		wantRawError(t, "A's path with B's key and no X-Project-Id", r, 403, "FSS.0403")

		req := s.newRaw(t, "GET", "/v2/"+bProject+"/fgs/functions", nil)
		req.Header.Set("X-Project-Id", s.Project)
		signHMACSHA256(req, nil, bCred.AK, bCred.SK, time.Now())
		wantRawError(t, "X-Project-Id of A on B's path with B's key", doRaw(t, req), 403, "FSS.0403")

		req = s.newRaw(t, "GET", "/v2/"+s.Project+"/fgs/functions", nil)
		req.Header.Set("X-Project-Id", bProject)
		signHMACSHA256(req, nil, bCred.AK, bCred.SK, time.Now())
		wantRawError(t, "A's project in the path, B's X-Project-Id and key", doRaw(t, req), 403, "FSS.0403")
	})

	t.Run("SameNameIsAnotherFunction", func(t *testing.T) {
		r := mustCreate(t, b, pyInline("a-secret"))
		if want := urnOf(s.Region, bProject, "default", "a-secret"); deref(r.FuncUrn) != want || deref(r.Namespace) != bProject {
			t.Errorf("B's a-secret: func_urn %q namespace %q, want %q and %q", deref(r.FuncUrn), deref(r.Namespace), want, bProject)
		}
		_, err := updateMax(b, "a-secret", 99)
		must(t, "B UpdateFunctionMaxInstanceConfig own a-secret", err)
		_, err = deleteFn(b, "a-secret")
		must(t, "B DeleteFunction own a-secret", err)
	})

	// A's functions are exactly as they were.
	after, err := showConfig(a, aURN)
	must(t, "ShowFunctionConfig a-secret at the end", err)
	if deref(after.Digest) != deref(before.Digest) || deref(after.MemorySize) != deref(before.MemorySize) ||
		!lmTime(after.LastModified).Equal(lmTime(before.LastModified)) || deref(after.Description) != deref(before.Description) {
		t.Errorf("A's function changed: before %s, after %s", jsonOf(before), jsonOf(after))
	}
	if after.StrategyConfig != nil && before.StrategyConfig != nil && *after.StrategyConfig != *before.StrategyConfig {
		t.Errorf("A's strategy_config changed: %+v -> %+v", *before.StrategyConfig, *after.StrategyConfig)
	}
	l, err := list(a, listArgs{})
	must(t, "A ListFunctions", err)
	if lenFns(l) != 2 {
		t.Errorf("A has %d functions, want 2", lenFns(l))
	}
}
