package conformance

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/auth/basic"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/region"
	fg "github.com/huaweicloud/huaweicloud-sdk-go-v3/services/functiongraph/v2"
)

// tokenRequest is an IAM password-token request body (POST /v3/auth/tokens).
func tokenRequest(user, password, domain string, project map[string]any) []byte {
	body := map[string]any{
		"auth": map[string]any{
			"identity": map[string]any{
				"methods": []string{"password"},
				"password": map[string]any{
					"user": map[string]any{"name": user, "password": password, "domain": map[string]any{"name": domain}},
				},
			},
			"scope": map[string]any{"project": project},
		},
	}
	b, _ := json.Marshal(body)
	return b
}

// token asks for a token and returns the response.
func (s *Server) token(t testing.TB, user, password, domain string, project map[string]any) rawResp {
	t.Helper()
	return doRaw(t, s.newRaw(t, "POST", "/v3/auth/tokens", tokenRequest(user, password, domain, project)))
}

// mustToken returns a token scoped to project (by id or name).
func (s *Server) mustToken(t testing.TB, project map[string]any) string {
	t.Helper()
	r := s.token(t, bootUser, s.Password, bootDomain, project)
	if r.Status != http.StatusCreated {
		t.Fatalf("POST /v3/auth/tokens (scope %v): %v, want 201", project, r)
	}
	tok := r.Header.Get("X-Subject-Token")
	if tok == "" {
		t.Fatalf("POST /v3/auth/tokens: no X-Subject-Token header")
	}
	return tok
}

// withToken sends a request authorised by an IAM token.
func (s *Server) withToken(t testing.TB, tok, method, target string, body []byte) rawResp {
	t.Helper()
	req := s.newRaw(t, method, target, body)
	req.Header.Set("X-Auth-Token", tok)
	return doRaw(t, req)
}

// TestTokens covers IAM password tokens (POST /v3/auth/tokens) and their
// use in X-Auth-Token on the FunctionGraph API, with plain net/http
// because the Go SDK has no token mode.
func TestTokens(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOpts{})
	c := s.Client(t)
	mustCreate(t, c, pyInline("made-by-sdk"))
	fns := "/v2/" + s.Project + "/fgs/functions"

	t.Run("ScopeByID", func(t *testing.T) {
		t.Parallel()
		r := s.token(t, bootUser, s.Password, bootDomain, map[string]any{"id": s.Project})
		if r.Status != http.StatusCreated || r.Header.Get("X-Subject-Token") == "" {
			t.Fatalf("POST /v3/auth/tokens: %v, X-Subject-Token %q; want 201 and a token", r, r.Header.Get("X-Subject-Token"))
		}
		if m := r.JSON(t); m["token"] == nil {
			t.Errorf("token response has no \"token\" object: %s", r.Body)
		}
		tok := r.Header.Get("X-Subject-Token")

		l := s.withToken(t, tok, "GET", fns, nil)
		if l.Status != 200 {
			t.Fatalf("ListFunctions with X-Auth-Token: %v", l)
		}
		var page struct {
			Functions []struct {
				FuncName string `json:"func_name"`
				FuncURN  string `json:"func_urn"`
			} `json:"functions"`
			Count int64 `json:"count"`
		}
		if err := json.Unmarshal(l.Body, &page); err != nil {
			t.Fatalf("ListFunctions body: %v: %s", err, l.Body)
		}
		found := false
		for _, f := range page.Functions {
			found = found || f.FuncName == "made-by-sdk"
		}
		if !found {
			t.Errorf("ListFunctions with a token does not show made-by-sdk: %s", l.Body)
		}

		// Write through the token; the SDK sees it.
		create := `{"func_name":"made-by-token","package":"default","runtime":"Node.js14.18","timeout":10,"handler":"index.handler","memory_size":256,"code_type":"inline","code_filename":"index.js","func_code":{"file":"` + b64([]byte(nodeIndex)) + `"}}`
		cr := s.withToken(t, tok, "POST", fns, []byte(create))
		if cr.Status != 200 {
			t.Fatalf("CreateFunction with X-Auth-Token: %v", cr)
		}
		if got := str(cr.JSON(t)["func_urn"]); got != urnOf(s.Region, s.Project, "default", "made-by-token") {
			t.Errorf("CreateFunction with a token: func_urn %q", got)
		}
		cfg, err := showConfig(c, "made-by-token")
		must(t, "SDK ShowFunctionConfig of the token-created function", err)
		if deref(cfg.MemorySize) != 256 || deref(cfg.Digest) != sha512hex([]byte(nodeIndex)) {
			t.Errorf("token-created function: memory %d digest %s", deref(cfg.MemorySize), deref(cfg.Digest))
		}
		show := s.withToken(t, tok, "GET", fns+"/made-by-sdk/config", nil)
		if show.Status != 200 || str(show.JSON(t)["func_name"]) != "made-by-sdk" {
			t.Errorf("ShowFunctionConfig with a token: %v", show)
		}
		upd := s.withToken(t, tok, "PUT", fns+"/made-by-token/config-max-instance", []byte(`{"max_instance_num":12}`))
		if upd.Status != 200 {
			t.Errorf("UpdateFunctionMaxInstanceConfig with a token: %v", upd)
		}
		del := s.withToken(t, tok, "DELETE", fns+"/made-by-token", nil)
		if del.Status != 204 {
			t.Errorf("DeleteFunction with a token: %v, want 204", del)
		}
		_, err = showConfig(c, "made-by-token")
		wantSDKError(t, "ShowFunctionConfig after a token delete", err, 404, "FSS.1051")
		q := s.withToken(t, tok, "GET", "/v2/"+s.Project+"/fgs/quotas", nil)
		if q.Status != 200 {
			t.Errorf("ListQuotas with a token: %v", q)
		}
		// A token error is still an FSS error body.
		nf := s.withToken(t, tok, "GET", fns+"/ghost/config", nil)
		wantRawError(t, "ShowFunctionConfig of a missing function with a token", nf, 404, "FSS.1051")
	})

	t.Run("ScopeByName", func(t *testing.T) {
		t.Parallel()
		// The bootstrap project is named after the region (that is what
		// the SDK's project lookup asks for).
		tok := s.mustToken(t, map[string]any{"name": s.Region})
		l := s.withToken(t, tok, "GET", fns, nil)
		if l.Status != 200 {
			t.Errorf("ListFunctions with a token scoped by project name: %v", l)
		}
	})

	t.Run("BadPasswords", func(t *testing.T) {
		t.Parallel()
		for _, k := range []struct {
			name, user, pw, domain string
			also400                bool // a missing field may be refused as a bad request
		}{
			{"wrong password", bootUser, s.Password + "x", bootDomain, false},
			{"password of another case", bootUser, strings.ToUpper(s.Password), bootDomain, false},
			{"empty password", bootUser, "", bootDomain, true},
			{"unknown user", "nobody", s.Password, bootDomain, false},
			{"unknown domain", bootUser, s.Password, "other-domain", false},
		} {
			r := s.token(t, k.user, k.pw, k.domain, map[string]any{"id": s.Project})
			if r.Status != http.StatusUnauthorized && !(k.also400 && r.Status == http.StatusBadRequest) {
				t.Errorf("%s: %v, want 401", k.name, r)
			}
			if r.Header.Get("X-Subject-Token") != "" {
				t.Errorf("%s: an X-Subject-Token was issued", k.name)
			}
		}
	})

	t.Run("BadTokens", func(t *testing.T) {
		t.Parallel()
		tok := s.mustToken(t, map[string]any{"id": s.Project})
		flipped := []byte(tok)
		i := len(flipped) / 2
		if flipped[i] == 'A' {
			flipped[i] = 'B'
		} else {
			flipped[i] = 'A'
		}
		for name, bad := range map[string]string{
			"garbage": "not-a-token", "tampered": string(flipped), "truncated": tok[:len(tok)-3],
		} {
			r := s.withToken(t, bad, "GET", fns, nil)
			wantRawError(t, "ListFunctions with a "+name+" token", r, 401, "FSS.0401")
		}
	})

	t.Run("RemovedProject", func(t *testing.T) {
		t.Parallel()
		pid := s.AddProject(t, "token-doomed")
		tok := s.mustToken(t, map[string]any{"id": pid})
		if r := s.withToken(t, tok, "GET", "/v2/"+pid+"/fgs/functions", nil); r.Status != 200 {
			t.Fatalf("ListFunctions with a fresh token: %v", r)
		}
		s.Admin(t, "project", "remove", pid)
		var r rawResp
		took, _ := eventually(revocationWindow, func() error {
			r = s.withToken(t, tok, "GET", "/v2/"+pid+"/fgs/functions", nil)
			if r.Status != 401 {
				return fmt.Errorf("%v", r)
			}
			return nil
		})
		wantRawError(t, fmt.Sprintf("ListFunctions with a token of a removed project (%v after the removal)", took.Round(time.Millisecond)), r, 401, "FSS.0401")
		t.Logf("a token of a removed project was refused %v after the removal", took.Round(time.Millisecond))
	})

	t.Run("OtherProject", func(t *testing.T) {
		t.Parallel()
		other := s.AddProject(t, "token-other")
		oc := s.ClientWith(t, s.AddCredential(t, other), clientOpts{})
		mustCreate(t, oc, pyInline("in-other"))

		// A token for the bootstrap project cannot touch the other project.
		tok := s.mustToken(t, map[string]any{"id": s.Project})
		ofns := "/v2/" + other + "/fgs/functions"
		wantRawError(t, "ListFunctions of another project with a token", s.withToken(t, tok, "GET", ofns, nil), 403, "FSS.0403")
		wantRawError(t, "ShowFunctionConfig in another project with a token", s.withToken(t, tok, "GET", ofns+"/in-other/config", nil), 403, "FSS.0403")
		wantRawError(t, "DeleteFunction in another project with a token", s.withToken(t, tok, "DELETE", ofns+"/in-other", nil), 403, "FSS.0403")
		wantRawError(t, "own project, URN of another project, with a token",
			s.withToken(t, tok, "GET", fns+"/"+other+":default:in-other/config", nil), 403, "FSS.0403")

		// A token scoped to the other project works there and only there.
		otok := s.mustToken(t, map[string]any{"id": other})
		l := s.withToken(t, otok, "GET", ofns, nil)
		if l.Status != 200 || !strings.Contains(string(l.Body), `"in-other"`) || strings.Contains(string(l.Body), "made-by-sdk") {
			t.Errorf("ListFunctions of the other project with its token: %v", l)
		}
		wantRawError(t, "ListFunctions of the bootstrap project with the other project's token", s.withToken(t, otok, "GET", fns, nil), 403, "FSS.0403")
		_, err := showConfig(oc, "in-other")
		must(t, "in-other still exists", err)
	})
}

// TestIAMProjectLookup covers GET /v3/projects?name=<region>, which the
// SDK calls when it has a region but no project id.
func TestIAMProjectLookup(t *testing.T) {
	t.Parallel()
	for _, flag := range []string{"", "ap-southeast-3"} {
		reg := flag
		if reg == "" {
			reg = defaultRegion // no --region flag: the default
		}
		t.Run(reg, func(t *testing.T) {
			t.Parallel()
			s := startServer(t, serverOpts{Region: flag})

			// The raw call, signed like the SDK's (no project id).
			r := s.Signed(t, cred{AK: s.AK, SK: s.SK}, "GET", "/v3/projects?name="+reg, nil, nil)
			if r.Status != 200 {
				t.Fatalf("GET /v3/projects?name=%s: %v", reg, r)
			}
			var body struct {
				Projects []struct {
					ID   string `json:"id"`
					Name string `json:"name"`
				} `json:"projects"`
			}
			if err := json.Unmarshal(r.Body, &body); err != nil {
				t.Fatalf("GET /v3/projects: %v: %s", err, r.Body)
			}
			if len(body.Projects) != 1 || body.Projects[0].ID != s.Project || body.Projects[0].Name != reg {
				t.Errorf("GET /v3/projects?name=%s = %s, want exactly [{id:%s name:%s}]", reg, r.Body, s.Project, reg)
			}

			// The SDK end to end: region + AK/SK, no project id.
			c, err := s.RegionClient(t, cred{AK: s.AK, SK: s.SK})
			must(t, "building an SDK client WithRegion and no project id", err)
			created := mustCreate(t, c, pyInline("via-region"))
			if got, want := deref(created.FuncUrn), urnOf(reg, s.Project, "default", "via-region"); got != want {
				t.Errorf("func_urn = %q, want %q", got, want)
			}
			if deref(created.Namespace) != s.Project {
				t.Errorf("namespace = %q, want %q", deref(created.Namespace), s.Project)
			}
			exercise(t, c, "region-exercise")
			// The bootstrap client sees what the region client made.
			_, err = showConfig(s.Client(t), "via-region")
			must(t, "ShowFunctionConfig via-region", err)

			// A region with no project: the lookup finds none and the SDK
			// refuses to build a client.
			none := s.Signed(t, cred{AK: s.AK, SK: s.SK}, "GET", "/v3/projects?name=xx-nowhere-1", nil, nil)
			if none.Status != 200 || strings.Contains(string(none.Body), s.Project) {
				t.Errorf("GET /v3/projects?name=xx-nowhere-1: %v, want 200 with no projects", none)
			}
			_, err = regionClientFor(s, "xx-nowhere-1", cred{AK: s.AK, SK: s.SK})
			if err == nil {
				t.Errorf("SDK client for a region without a project was built; want the SDK's lookup to fail")
			}

			// Unsigned, the lookup is refused.
			unsigned := doRaw(t, s.newRaw(t, "GET", "/v3/projects?name="+reg, nil))
			wantRawError(t, "unsigned GET /v3/projects", unsigned, 401, "FSS.0401")
		})
	}
}

// regionClientFor builds an SDK client for another region id on s.
func regionClientFor(s *Server, regionID string, c cred) (*fg.FunctionGraphClient, error) {
	creds, err := basic.NewCredentialsBuilder().WithAk(c.AK).WithSk(c.SK).WithIamEndpointOverride(s.URL).SafeBuild()
	if err != nil {
		return nil, err
	}
	hc, err := fg.FunctionGraphClientBuilder().WithRegion(region.NewRegion(regionID, s.URL)).
		WithCredential(creds).WithHttpConfig(httpConfig(clientOpts{})).SafeBuild()
	if err != nil {
		return nil, err
	}
	return fg.NewFunctionGraphClient(hc), nil
}
