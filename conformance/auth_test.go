package conformance

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/auth/signer/algorithm"
	fg "github.com/huaweicloud/huaweicloud-sdk-go-v3/services/functiongraph/v2"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/services/functiongraph/v2/model"
)

var signingAlgorithms = []algorithm.SigningAlgorithm{
	algorithm.HmacSHA256, algorithm.HmacSM3, algorithm.EcdsaP256SHA256, algorithm.SM2SM3,
}

// exercise runs a create / read / list / update / delete round through c,
// so that every kind of request (POST, GET, GET with a query, PUT, DELETE)
// carries the credential under test.
func exercise(t *testing.T, c *fg.FunctionGraphClient, name string) {
	t.Helper()
	r := mustCreate(t, c, pyInline(name))
	urn := deref(r.FuncUrn)
	_, err := showConfig(c, urn)
	must(t, "ShowFunctionConfig", err)
	l, err := list(c, listArgs{Name: ptr(name), Maxitems: ptr("5"), Marker: ptr("0")})
	must(t, "ListFunctions", err)
	if lenFns(l) != 1 {
		t.Errorf("ListFunctions func_name=%s: %d functions, want 1", name, lenFns(l))
	}
	_, err = updateMax(c, urn, 7)
	must(t, "UpdateFunctionMaxInstanceConfig", err)
	_, err = c.ListQuotas(&model.ListQuotasRequest{})
	must(t, "ListQuotas", err)
	_, err = deleteFn(c, unqualified(urn))
	must(t, "DeleteFunction", err)
}

// TestAuth covers AK/SK authentication: the four SDK signing algorithms,
// temporary credentials with a security token, credential lifecycle
// through the admin CLI, and every way a signature can be wrong.
func TestAuth(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOpts{})

	t.Run("Health", func(t *testing.T) {
		t.Parallel()
		resp := doRaw(t, s.newRaw(t, "GET", "/health", nil))
		if resp.Status != 200 {
			t.Errorf("GET /health without credentials: %v, want 200", resp)
		}
	})

	for i, alg := range signingAlgorithms {
		t.Run("Algorithm/"+string(alg), func(t *testing.T) {
			t.Parallel()
			exercise(t, s.ClientWith(t, s.Cred(), clientOpts{Alg: alg}), fmt.Sprintf("alg-%d", i))

			bad := s.Cred()
			bad.SK = randomToken(40)
			_, err := list(s.ClientWith(t, bad, clientOpts{Alg: alg}), listArgs{})
			wantSDKError(t, string(alg)+" with a wrong SK", err, 401, "FSS.0401")

			unknown := s.Cred()
			unknown.AK = randomAK()
			_, err = create(s.ClientWith(t, unknown, clientOpts{Alg: alg}), pyInline(fmt.Sprintf("alg-unknown-%d", i)))
			wantSDKError(t, string(alg)+" with an unknown AK", err, 401, "FSS.0401")
		})
	}

	t.Run("UnsignedPayloadGET", func(t *testing.T) {
		t.Parallel()
		// WithIgnoreContentTypeForGetRequest makes the SDK send an empty
		// Content-Type on GETs and sign X-Sdk-Content-Sha256: UNSIGNED-PAYLOAD.
		c := s.ClientWith(t, s.Cred(), clientOpts{IgnoreContentTypeForGet: true})
		r := mustCreate(t, c, pyInline("unsigned-payload"))
		_, err := showConfig(c, deref(r.FuncUrn))
		must(t, "ShowFunctionConfig with UNSIGNED-PAYLOAD", err)
		_, err = list(c, listArgs{Maxitems: ptr("3")})
		must(t, "ListFunctions with UNSIGNED-PAYLOAD", err)
	})

	t.Run("QueryAndPathEscaping", func(t *testing.T) {
		t.Parallel()
		// The signature covers the canonical query and path: values that
		// need escaping, and empty values the SDK sends as bare keys
		// ("?marker&package_name"), must still verify.
		c := s.Client(t)
		mustCreate(t, c, pyInline("escape-me"))
		for _, q := range []string{"a b+c/d~e*f", "fünc=&x", "%41%", "escape-me"} {
			r, err := list(c, listArgs{Name: ptr(q)})
			must(t, fmt.Sprintf("ListFunctions func_name=%q", q), err)
			if want := map[bool]int{true: 1, false: 0}[q == "escape-me"]; lenFns(r) != want {
				t.Errorf("ListFunctions func_name=%q: %d functions, want %d", q, lenFns(r), want)
			}
		}
		r, err := list(c, listArgs{Marker: ptr(""), Package: ptr(""), Name: ptr("escape")})
		must(t, "ListFunctions with empty marker and package_name", err)
		if lenFns(r) != 1 {
			t.Errorf("ListFunctions with empty marker and package_name: %d functions, want 1", lenFns(r))
		}
		// A path value that needs escaping reaches the URN parser, not
		// the signature check.
		_, err = showConfig(c, "we ird%2Ffn")
		if e := sdkError(err); e == nil || e.StatusCode == 401 {
			t.Errorf("ShowFunctionConfig with an escaped path: %v, want a URN error, not 401", err)
		}
	})

	t.Run("AdminCredentials", func(t *testing.T) {
		t.Parallel()
		// A permanent credential chosen by the operator.
		ak, sk := randomAK(), randomToken(40)
		m := s.Admin(t, "credential", "add", "--project", s.Project, "--access-key", ak, "--secret-key", sk)
		if str(m["access_key"]) != ak || str(m["secret_key"]) != sk || str(m["project_id"]) != s.Project {
			t.Errorf("credential add with --access-key/--secret-key printed %v", m)
		}
		if str(m["security_token"]) != "" {
			t.Errorf("a permanent credential has a security_token: %v", m)
		}
		chosen := cred{AK: ak, SK: sk, Project: s.Project}
		exercise(t, s.ClientWith(t, chosen, clientOpts{}), "admin-chosen")

		// A credential needs an existing project.
		if out, err := s.AdminRun("credential", "add", "--project", randomHex(16)); err == nil {
			t.Errorf("credential add for an unknown project succeeded: %s", out)
		}

		// A generated one.
		gen := s.AddCredential(t, s.Project)
		if gen.SecurityToken != "" {
			t.Errorf("a permanent credential has a security_token")
		}
		exercise(t, s.ClientWith(t, gen, clientOpts{}), "admin-generated")

		// Removing a credential takes effect while the server runs.
		s.Admin(t, "credential", "remove", gen.AK)
		took, err := eventually(revocationWindow, func() error {
			_, err := list(s.ClientWith(t, gen, clientOpts{}), listArgs{})
			return unless401(err)
		})
		if err != nil {
			t.Errorf("ListFunctions with a removed credential, %v after the removal: %v", took, err)
		} else {
			t.Logf("a removed credential was refused %v after the removal", took.Round(time.Millisecond))
		}
		// The other credentials still work.
		_, err = list(s.ClientWith(t, chosen, clientOpts{}), listArgs{})
		must(t, "ListFunctions with a credential that was not removed", err)
		_, err = list(s.Client(t), listArgs{})
		must(t, "ListFunctions with the bootstrap credential", err)
	})

	t.Run("SecurityToken", func(t *testing.T) {
		t.Parallel()
		tmp := s.AddCredential(t, s.Project, "--ttl", "1h")
		if tmp.SecurityToken == "" {
			t.Fatalf("credential add --ttl 1h printed no security_token")
		}
		for i, alg := range signingAlgorithms {
			exercise(t, s.ClientWith(t, tmp, clientOpts{Alg: alg}), fmt.Sprintf("sts-%d", i))
		}

		noToken := tmp
		noToken.SecurityToken = ""
		_, err := list(s.ClientWith(t, noToken, clientOpts{}), listArgs{})
		wantSDKError(t, "temporary AK/SK without its security token", err, 401, "FSS.0401")

		wrong := tmp
		wrong.SecurityToken = tmp.SecurityToken[:len(tmp.SecurityToken)-4] + "AAAA"
		if wrong.SecurityToken == tmp.SecurityToken {
			wrong.SecurityToken = tmp.SecurityToken[:len(tmp.SecurityToken)-4] + "BBBB"
		}
		_, err = list(s.ClientWith(t, wrong, clientOpts{}), listArgs{})
		wantSDKError(t, "temporary AK/SK with a wrong security token", err, 401, "FSS.0401")

		other := s.AddCredential(t, s.Project, "--ttl", "1h")
		swapped := tmp
		swapped.SecurityToken = other.SecurityToken
		_, err = list(s.ClientWith(t, swapped, clientOpts{}), listArgs{})
		wantSDKError(t, "temporary AK/SK with another credential's token", err, 401, "FSS.0401")

		// The unsigned header cannot be swapped in either: the SDK signs it.
		resp := s.Signed(t, tmp, "GET", "/v2/"+s.Project+"/fgs/functions", nil, func(r *http.Request) {
			r.Header.Set("X-Security-Token", other.SecurityToken)
		})
		wantRawError(t, "security token replaced after signing", resp, 401, "FSS.0401")
	})

	t.Run("SecurityTokenExpiry", func(t *testing.T) {
		t.Parallel()
		tmp := s.AddCredential(t, s.Project, "--ttl", "3s")
		if tmp.SecurityToken == "" {
			t.Fatalf("credential add --ttl 3s printed no security_token")
		}
		m := s.Admin(t, "credential", "add", "--project", s.Project, "--ttl", "1h")
		if str(m["expires"]) == "" {
			t.Errorf("credential add --ttl printed no expires: %v", m)
		} else if exp, err := time.Parse(time.RFC3339, str(m["expires"])); err != nil {
			t.Errorf("expires = %q: not RFC 3339: %v", str(m["expires"]), err)
		} else if d := time.Until(exp); d < 55*time.Minute || d > 65*time.Minute {
			t.Errorf("expires = %v, %v from now; want about 1h", exp, d)
		}
		c := s.ClientWith(t, tmp, clientOpts{})
		_, err := list(c, listArgs{})
		must(t, "ListFunctions with a fresh temporary credential", err)
		time.Sleep(4 * time.Second)
		_, err = list(s.ClientWith(t, tmp, clientOpts{}), listArgs{})
		wantSDKError(t, "ListFunctions with an expired temporary credential", err, 401, "FSS.0401")
	})

	t.Run("RemovedProject", func(t *testing.T) {
		t.Parallel()
		pid := s.AddProject(t, "doomed-project")
		cr := s.AddCredential(t, pid)
		c := s.ClientWith(t, cr, clientOpts{})
		mustCreate(t, c, pyInline("doomed"))
		s.Admin(t, "project", "remove", pid)
		took, err := eventually(revocationWindow, func() error {
			_, err := list(s.ClientWith(t, cr, clientOpts{}), listArgs{})
			return unless401(err)
		})
		if err != nil {
			t.Errorf("ListFunctions with the credential of a removed project, %v after the removal: %v", took, err)
		}
	})

	t.Run("BadSignatures", func(t *testing.T) {
		t.Parallel()
		cr := s.Cred()
		path := "/v2/" + s.Project + "/fgs/functions"
		body := []byte(`{"func_name":"raw-auth","package":"default","runtime":"Python3.9","timeout":30,"handler":"index.handler","memory_size":128,"code_type":"inline","code_filename":"index.py","func_code":{"file":"` + b64([]byte(pythonIndex)) + `"}}` + "\n")

		// The suite's own signer is accepted as it is (sanity check).
		ok := s.Signed(t, cr, "GET", path+"?maxitems=5&marker=0", nil, nil)
		if ok.Status != 200 {
			t.Fatalf("a correctly signed raw GET: %v", ok)
		}

		type tc struct {
			name   string
			method string
			target string
			body   []byte
			cred   cred
			tamper func(r *http.Request)
			sign   func(r *http.Request, body []byte)
		}
		wrongSK := cr
		wrongSK.SK = strings.ToUpper(cr.SK)
		if wrongSK.SK == cr.SK {
			wrongSK.SK = cr.SK + "x"
		}
		unknownAK := cr
		unknownAK.AK = randomAK()
		cases := []tc{
			{name: "no Authorization", method: "GET", target: path, tamper: func(r *http.Request) {
				r.Header.Del("Authorization")
			}},
			{name: "no Authorization, no date", method: "GET", target: path, tamper: func(r *http.Request) {
				r.Header.Del("Authorization")
				r.Header.Del("X-Sdk-Date")
			}},
			{name: "unknown AK", method: "GET", target: path, cred: unknownAK},
			{name: "wrong SK", method: "GET", target: path, cred: wrongSK},
			{name: "signature flipped", method: "GET", target: path, tamper: func(r *http.Request) {
				a := r.Header.Get("Authorization")
				last := a[len(a)-1]
				flip := byte('0')
				if last == '0' {
					flip = '1'
				}
				r.Header.Set("Authorization", a[:len(a)-1]+string(flip))
			}},
			{name: "signature not hex", method: "GET", target: path, tamper: func(r *http.Request) {
				a := r.Header.Get("Authorization")
				r.Header.Set("Authorization", a[:strings.Index(a, "Signature=")]+"Signature=zzzz")
			}},
			{name: "empty signature", method: "GET", target: path, tamper: func(r *http.Request) {
				a := r.Header.Get("Authorization")
				r.Header.Set("Authorization", a[:strings.Index(a, "Signature=")]+"Signature=")
			}},
			{name: "garbage Authorization", method: "GET", target: path, tamper: func(r *http.Request) {
				r.Header.Set("Authorization", "SDK-HMAC-SHA256 garbage")
			}},
			{name: "unknown algorithm", method: "GET", target: path, tamper: func(r *http.Request) {
				r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "SDK-HMAC-SHA256", "AWS4-HMAC-SHA256", 1))
			}},
			{name: "Basic auth", method: "GET", target: path, tamper: func(r *http.Request) {
				r.Header.Set("Authorization", "Basic YWRtaW46YWRtaW4=")
			}},
			{name: "body changed after signing", method: "POST", target: path, body: body, tamper: func(r *http.Request) {
				nb := []byte(strings.Replace(string(body), "raw-auth", "raw-evil", 1))
				r.ContentLength = int64(len(nb))
				r.Body = io.NopCloser(bytes.NewReader(nb))
			}},
			{name: "trailing newline dropped after signing", method: "POST", target: path, body: body, tamper: func(r *http.Request) {
				nb := body[:len(body)-1]
				r.ContentLength = int64(len(nb))
				r.Body = io.NopCloser(bytes.NewReader(nb))
			}},
			{name: "query changed after signing", method: "GET", target: path + "?maxitems=5", tamper: func(r *http.Request) {
				r.URL.RawQuery = "maxitems=6"
			}},
			{name: "query added after signing", method: "GET", target: path, tamper: func(r *http.Request) {
				r.URL.RawQuery = "package_name=default"
			}},
			{name: "method changed after signing", method: "GET", target: path + "/raw-auth-x/config", tamper: func(r *http.Request) {
				r.Method = "PUT"
			}},
			{name: "path changed after signing", method: "GET", target: path + "/victim/config", tamper: func(r *http.Request) {
				r.URL.Path = "/v2/" + s.Project + "/fgs/functions/victim2/config"
			}},
			{name: "date changed after signing", method: "GET", target: path, tamper: func(r *http.Request) {
				r.Header.Set("X-Sdk-Date", time.Now().UTC().Add(-time.Minute).Format(sdkDateLayout))
			}},
			{name: "date an hour old", method: "GET", target: path, tamper: nil, sign: func(r *http.Request, b []byte) {
				signHMACSHA256(r, b, cr.AK, cr.SK, time.Now().Add(-time.Hour))
			}},
			{name: "date an hour ahead", method: "GET", target: path, sign: func(r *http.Request, b []byte) {
				signHMACSHA256(r, b, cr.AK, cr.SK, time.Now().Add(time.Hour))
			}},
			{name: "date 20 minutes old", method: "GET", target: path, sign: func(r *http.Request, b []byte) {
				signHMACSHA256(r, b, cr.AK, cr.SK, time.Now().Add(-20*time.Minute))
			}},
			{name: "date malformed", method: "GET", target: path, sign: func(r *http.Request, b []byte) {
				r.Header.Set("X-Sdk-Date", time.Now().UTC().Format(time.RFC3339))
				signHMACSHA256(r, b, cr.AK, cr.SK, time.Now())
			}},
			{name: "x-sdk-date not signed", method: "GET", target: path, sign: func(r *http.Request, b []byte) {
				signHMACSHA256With(r, b, cr.AK, cr.SK, time.Now(), signOpts{omit: map[string]bool{"x-sdk-date": true}})
			}},
			{name: "date header removed", method: "GET", target: path, tamper: func(r *http.Request) {
				r.Header.Del("X-Sdk-Date")
			}},
			{name: "signed header changed", method: "GET", target: path, tamper: func(r *http.Request) {
				r.Header.Del("User-Agent")
				r.Header.Set("User-Agent", "someone-else")
			}},
		}
		for _, k := range cases {
			t.Run(k.name, func(t *testing.T) {
				t.Parallel()
				c := k.cred
				if c.AK == "" {
					c = cr
				}
				req := s.newRaw(t, k.method, k.target, k.body)
				req.Header.Set("X-Project-Id", c.Project)
				if k.sign != nil {
					k.sign(req, k.body)
				} else {
					signHMACSHA256(req, k.body, c.AK, c.SK, time.Now())
				}
				if k.tamper != nil {
					k.tamper(req)
				}
				wantRawError(t, k.name, doRaw(t, req), 401, "FSS.0401")
			})
		}
	})

	t.Run("Unauthenticated", func(t *testing.T) {
		t.Parallel()
		// Every function route refuses a request without credentials.
		urn := urnOf(s.Region, s.Project, "default", "anything")
		base := "/v2/" + s.Project + "/fgs"
		for _, k := range []struct{ method, path string }{
			{"GET", base + "/functions"},
			{"POST", base + "/functions"},
			{"GET", base + "/functions/" + urn + "/config"},
			{"PUT", base + "/functions/" + urn + "/config"},
			{"GET", base + "/functions/" + urn + "/code"},
			{"PUT", base + "/functions/" + urn + "/code"},
			{"PUT", base + "/functions/" + urn + "/config-max-instance"},
			{"DELETE", base + "/functions/" + urn},
			{"GET", base + "/quotas"},
			{"GET", "/v3/projects?name=" + s.Region},
		} {
			var body []byte
			if k.method == "POST" || k.method == "PUT" {
				body = []byte("{}\n")
			}
			resp := doRaw(t, s.newRaw(t, k.method, k.path, body))
			wantRawError(t, "unauthenticated "+k.method+" "+k.path, resp, 401, "FSS.0401")
		}
	})
}

// TestAuth_ClockSkew checks --clock-skew: by default (15 minutes) a
// request dated 10 minutes ago is accepted and one dated 30 minutes ago
// (or ahead) is refused; with --clock-skew 1h both are accepted, and with
// --clock-skew 1m neither.
func TestAuth_ClockSkew(t *testing.T) {
	t.Parallel()
	for _, k := range []struct {
		skew string
		ok   map[time.Duration]bool
	}{
		{"", map[time.Duration]bool{-10 * time.Minute: true, 10 * time.Minute: true, -30 * time.Minute: false, 30 * time.Minute: false}},
		{"1h", map[time.Duration]bool{-10 * time.Minute: true, -30 * time.Minute: true, 30 * time.Minute: true, -2 * time.Hour: false}},
		{"1m", map[time.Duration]bool{-10 * time.Minute: false, 10 * time.Minute: false}},
	} {
		t.Run("skew="+k.skew, func(t *testing.T) {
			t.Parallel()
			s := startServer(t, serverOpts{ClockSkew: k.skew})
			for off, ok := range k.ok {
				c := s.Client(t)
				// The SDK reuses a preset X-Sdk-Date instead of the current time.
				c.HcClient.WithExtraHeaders(map[string]string{"X-Sdk-Date": time.Now().Add(off).UTC().Format(sdkDateLayout)})
				_, err := list(c, listArgs{})
				what := fmt.Sprintf("SDK ListFunctions dated %v from now with --clock-skew %q", off, k.skew)
				if ok {
					must(t, what, err)
				} else {
					wantSDKError(t, what, err, 401, "FSS.0401")
				}
			}
			fresh := s.Client(t)
			_, err := list(fresh, listArgs{})
			must(t, "ListFunctions with a current date", err)
		})
	}
}

// unless401 returns nil if err is the SDK error HTTP 401 FSS.0401 with a
// request id, and otherwise an error describing what happened instead.
func unless401(err error) error {
	e := sdkError(err)
	switch {
	case err == nil:
		return fmt.Errorf("the request succeeded, want HTTP 401 FSS.0401")
	case e == nil:
		return fmt.Errorf("error %T %v, want HTTP 401 FSS.0401", err, err)
	case e.StatusCode != 401 || e.ErrorCode != "FSS.0401" || e.RequestId == "":
		return fmt.Errorf("HTTP %d %q (request id %q), want HTTP 401 FSS.0401", e.StatusCode, e.ErrorCode, e.RequestId)
	}
	return nil
}
