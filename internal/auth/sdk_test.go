package auth

import (
	"bytes"
	"context"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/auth/signer"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/auth/signer/algorithm"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/request"

	"github.com/openfgs/openfgs/internal/fgs"
)

// These tests sign requests with the official SDK's own signers and check
// that Verify accepts exactly what it should.

const (
	sdkAK      = "SDKTESTAK0123456789A"
	sdkSK      = "sdkTestSecret0123456789abcdefghijklmnopq"
	sdkRegion  = "cn-north-4"
	sdkService = "functiongraph"
	sdkPID     = "0123456789abcdef0123456789abcdef"
	urn        = "urn:fss:cn-north-4:" + sdkPID + ":function:default:probe-fn:latest"
)

// sdkRequest describes a request as an SDK operation would build it.
type sdkRequest struct {
	method  string
	path    string
	query   map[string]string // "" sends the bare key
	headers map[string]string
	body    any
}

var schemes = []struct {
	name   string // what the Authorization header starts with
	signer string // algorithm.SigningAlgorithm, or "V11" for the derived signer
}{
	{"SDK-HMAC-SHA256", algorithm.HmacSHA256},
	{"SDK-HMAC-SM3", algorithm.HmacSM3},
	{"SDK-ECDSA-P256-SHA256", algorithm.EcdsaP256SHA256},
	{"SDK-SM2-SM3", algorithm.SM2SM3},
	{"V11-HMAC-SHA256", "V11"},
}

// sdkSign signs sr with the SDK signer named alg, turns it into the bytes
// the SDK's client would send, and parses those as the server would.
func sdkSign(t testing.TB, alg, ak, sk, token string, sr sdkRequest) (*http.Request, []byte) {
	t.Helper()
	b := request.NewHttpRequestBuilder().
		WithEndpoint("http://127.0.0.1:18080").
		WithPath(sr.path).
		WithMethod(sr.method)
	for k, v := range sr.query {
		b.AddQueryParam(k, reflect.ValueOf(v))
	}
	b.AddHeaderParam("User-Agent", "huaweicloud-usdk-go/3.0; openfgs-test")
	b.AddHeaderParam("X-Project-Id", sdkPID)
	b.AddHeaderParam("Content-Type", "application/json")
	for k, v := range sr.headers {
		b.AddHeaderParam(k, v)
	}
	if token != "" {
		b.AddHeaderParam("X-Security-Token", token)
	}
	if sr.body != nil {
		b.WithBody("body", sr.body)
	}
	req := b.Build()

	var added map[string]string
	var err error
	if alg == "V11" {
		added, err = signer.GetDerivedSigner().Sign(req, ak, sk, sdkService, sdkRegion)
	} else {
		var s signer.IAKSKSigner
		if s, err = signer.GetSigner(algorithm.SigningAlgorithm(alg)); err == nil {
			added, err = s.Sign(req, ak, sk)
		}
	}
	if err != nil {
		t.Fatalf("SDK signer %s: %v", alg, err)
	}
	for k, v := range added {
		req.AddHeaderParam(k, v)
	}
	hr, err := req.ConvertRequest()
	if err != nil {
		t.Fatalf("ConvertRequest: %v", err)
	}
	var wire bytes.Buffer
	if err := hr.Write(&wire); err != nil {
		t.Fatalf("writing request: %v", err)
	}
	return parseRaw(t, wire.String())
}

var sdkRequests = []struct {
	name string
	req  sdkRequest
}{
	{"invoke", sdkRequest{
		method:  "POST",
		path:    "/v2/" + sdkPID + "/fgs/functions/" + urn + "/invocations",
		headers: map[string]string{"X-Cff-Log-Type": "tail", "X-Cff-Request-Version": "v1"},
		body:    map[string]any{"key": "value <&>", "n": 1},
	}},
	{"list with awkward query", sdkRequest{
		method: "GET",
		path:   "/v2/" + sdkPID + "/fgs/functions",
		query: map[string]string{
			"func_name":    "a b+c/d~e*f",
			"marker":       "",
			"fünc":         "ü x",
			"package_name": "pkg~1*2",
			"maxitems":     "10",
		},
	}},
	{"path with space and percent", sdkRequest{
		method: "PUT",
		path:   "/v2/" + sdkPID + "/fgs/functions/we ird%2Ffn/xé:latest/config",
		body:   map[string]any{"memory_size": 128, "description": "  spaced  "},
		headers: map[string]string{
			"X-Probe-Extra": "  padded value  ",
			"X_Underscore":  "not signed",
		},
	}},
	{"delete with null body", sdkRequest{
		method: "DELETE",
		path:   "/v2/" + sdkPID + "/fgs/functions/" + strings.TrimSuffix(urn, ":latest"),
	}},
}

func sdkVerifier(creds ...fgs.Credential) *Verifier {
	return &Verifier{Lookup: lookupOf(creds...), MaxSkew: DefaultMaxSkew}
}

func TestVerifySDKSigners(t *testing.T) {
	cred := fgs.Credential{AccessKey: sdkAK, SecretKey: sdkSK, Project: sdkPID}
	v := sdkVerifier(cred)
	ctx := context.Background()
	for _, s := range schemes {
		for _, rc := range sdkRequests {
			name := s.name + "/" + rc.name
			t.Run(name, func(t *testing.T) {
				r, body := sdkSign(t, s.signer, sdkAK, sdkSK, "", rc.req)
				if got := r.Header.Get("Authorization"); !strings.HasPrefix(got, s.name+" ") {
					t.Fatalf("SDK sent Authorization %q, want scheme %s", got, s.name)
				}
				got, err := v.Verify(ctx, r, body)
				checkResult(t, name, got, err, "")
				if err == nil && got.AccessKey != sdkAK {
					t.Errorf("Verify(%q) = credential %q, want %q", name, got.AccessKey, sdkAK)
				}

				tampered := append(append([]byte(nil), body...), ' ')
				_, err = v.Verify(ctx, r, tampered)
				checkResult(t, name+" with tampered body", fgs.Credential{}, err, "signature does not match")

				r2 := r.Clone(ctx)
				r2.URL.RawQuery += "&extra=1"
				_, err = v.Verify(ctx, r2, body)
				checkResult(t, name+" with added query", fgs.Credential{}, err, "signature does not match")

				r3 := r.Clone(ctx)
				r3.Header.Set("X-Project-Id", "ffffffffffffffffffffffffffffffff")
				_, err = v.Verify(ctx, r3, body)
				checkResult(t, name+" with other project", fgs.Credential{}, err, "signature does not match")

				_, err = sdkVerifier(fgs.Credential{AccessKey: sdkAK, SecretKey: sdkSK + "x"}).Verify(ctx, r, body)
				checkResult(t, name+" with wrong SK", fgs.Credential{}, err, "signature does not match")
			})
		}
	}
}

// An empty Content-Type makes the SDK send and sign an UNSIGNED-PAYLOAD
// digest header.
func TestVerifySDKUnsignedPayload(t *testing.T) {
	cred := fgs.Credential{AccessKey: sdkAK, SecretKey: sdkSK}
	v := sdkVerifier(cred)
	ctx := context.Background()
	for _, s := range schemes {
		t.Run(s.name, func(t *testing.T) {
			r, body := sdkSign(t, s.signer, sdkAK, sdkSK, "", sdkRequest{
				method:  "GET",
				path:    "/v2/" + sdkPID + "/fgs/functions/" + urn + "/config",
				headers: map[string]string{"Content-Type": ""},
			})
			digest := "X-Sdk-Content-Sha256"
			if strings.Contains(s.name, "SM3") {
				digest = "X-Sdk-Content-Sm3"
			}
			if got := r.Header.Get(digest); got != unsignedPayload {
				t.Fatalf("SDK sent %s %q, want %q", digest, got, unsignedPayload)
			}
			_, err := v.Verify(ctx, r, body)
			checkResult(t, s.name+" unsigned payload", fgs.Credential{}, err, "")
			// The body is not covered, by the client's choice.
			_, err = v.Verify(ctx, r, []byte("anything"))
			checkResult(t, s.name+" unsigned payload, other body", fgs.Credential{}, err, "")
			// The digest header is signed: changing it after signing
			// breaks the signature before any body is looked at.
			r2 := r.Clone(ctx)
			r2.Header.Set(digest, strings.Repeat("ab", 32))
			_, err = v.Verify(ctx, r2, body)
			checkResult(t, s.name+" changed digest header", fgs.Credential{}, err, "signature does not match")
		})
	}
}

func TestVerifySDKTemporaryCredentials(t *testing.T) {
	const token = "temporary-security-token-value"
	now := time.Now()
	ctx := context.Background()
	req := sdkRequests[0].req
	for _, s := range schemes {
		r, body := sdkSign(t, s.signer, sdkAK, sdkSK, token, req)
		if !strings.Contains(r.Header.Get("Authorization"), "x-security-token") {
			t.Fatalf("SDK did not sign x-security-token: %q", r.Header.Get("Authorization"))
		}
		unsignedToken := r.Clone(ctx)
		unsignedToken.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), ";x-security-token", "", 1))
		tests := []struct {
			name string
			r    *http.Request
			cred fgs.Credential
			want string
		}{
			{"valid", r, fgs.Credential{AccessKey: sdkAK, SecretKey: sdkSK, SecurityToken: token, Expires: now.Add(time.Hour)}, ""},
			{"no expiry", r, fgs.Credential{AccessKey: sdkAK, SecretKey: sdkSK, SecurityToken: token}, ""},
			{"wrong token", r, fgs.Credential{AccessKey: sdkAK, SecretKey: sdkSK, SecurityToken: token + "x", Expires: now.Add(time.Hour)}, "security token missing or wrong"},
			{"expired", r, fgs.Credential{AccessKey: sdkAK, SecretKey: sdkSK, SecurityToken: token, Expires: now.Add(-time.Second)}, "credential expired"},
			{"token for permanent key", r, fgs.Credential{AccessKey: sdkAK, SecretKey: sdkSK}, "security token sent for a permanent access key"},
			// The token rules are checked from the headers, before the
			// signature (which needs the body).
			{"token not signed", unsignedToken, fgs.Credential{AccessKey: sdkAK, SecretKey: sdkSK, SecurityToken: token}, "security token missing or wrong"},
		}
		for _, tc := range tests {
			name := s.name + "/" + tc.name
			t.Run(name, func(t *testing.T) {
				got, err := sdkVerifier(tc.cred).Verify(ctx, tc.r, body)
				checkResult(t, name, got, err, tc.want)
			})
		}
		// Without the header the request is refused before its signature
		// is looked at.
		noHeader := r.Clone(ctx)
		noHeader.Header.Del("X-Security-Token")
		_, err := sdkVerifier(fgs.Credential{AccessKey: sdkAK, SecretKey: sdkSK, SecurityToken: token}).Verify(ctx, noHeader, body)
		checkResult(t, s.name+"/token header removed", fgs.Credential{}, err, "security token missing or wrong")
	}
}

func TestVerifySDKV11Scope(t *testing.T) {
	ctx := context.Background()
	v := sdkVerifier(fgs.Credential{AccessKey: sdkAK, SecretKey: sdkSK})
	r, body := sdkSign(t, "V11", sdkAK, sdkSK, "", sdkRequests[0].req)
	auth := r.Header.Get("Authorization")
	day := r.Header.Get("X-Sdk-Date")[:8]
	scope := day + "/" + sdkRegion + "/" + sdkService
	if !strings.Contains(auth, "Credential="+sdkAK+"/"+scope+",") {
		t.Fatalf("SDK sent %q, want scope %s", auth, scope)
	}
	tests := []struct{ name, auth, want string }{
		{"as signed", auth, ""},
		{"other region", strings.Replace(auth, "/"+sdkRegion+"/", "/cn-south-1/", 1), "signature does not match"},
		{"other service", strings.Replace(auth, "/"+sdkService+",", "/ecs,", 1), "signature does not match"},
		{"other day", strings.Replace(auth, "/"+day+"/", "/19990101/", 1), "credential scope"},
		{"short scope", strings.Replace(auth, "/"+sdkService+",", ",", 1), "credential scope"},
		{"long scope", strings.Replace(auth, "/"+sdkService+",", "/"+sdkService+"/x,", 1), "credential scope"},
		{"no scope", strings.Replace(auth, "/"+scope, "", 1), "malformed Authorization header"},
		{"Access instead of Credential", strings.Replace(auth, "Credential=", "Access=", 1), "malformed Authorization header"},
		{"relabelled HMAC-SHA256", strings.Replace(auth, "V11-HMAC-SHA256 Credential="+sdkAK+"/"+scope, "SDK-HMAC-SHA256 Access="+sdkAK, 1), "signature does not match"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r2 := r.Clone(ctx)
			r2.Header.Set("Authorization", tc.auth)
			got, err := v.Verify(ctx, r2, body)
			checkResult(t, tc.name, got, err, tc.want)
		})
	}
}

// A signature made for one scheme must not pass as another.
func TestVerifySDKRelabelled(t *testing.T) {
	ctx := context.Background()
	v := sdkVerifier(fgs.Credential{AccessKey: sdkAK, SecretKey: sdkSK})
	for _, from := range schemes[:4] {
		r, body := sdkSign(t, from.signer, sdkAK, sdkSK, "", sdkRequests[0].req)
		for _, to := range schemes[:4] {
			if to == from {
				continue
			}
			name := from.name + " as " + to.name
			r2 := r.Clone(ctx)
			r2.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), from.name, to.name, 1))
			got, err := v.Verify(ctx, r2, body)
			checkResult(t, name, got, err, "signature does not match")
		}
	}
}

// The derived public key is cached; a rotated secret key must not hit the
// old entry.
func TestVerifyECCKeyRotation(t *testing.T) {
	ctx := context.Background()
	for _, s := range schemes[2:4] {
		r, body := sdkSign(t, s.signer, sdkAK, sdkSK, "", sdkRequests[0].req)
		if _, err := sdkVerifier(fgs.Credential{AccessKey: sdkAK, SecretKey: sdkSK}).Verify(ctx, r, body); err != nil {
			t.Fatalf("Verify(%q) = %v, want success", s.name, err)
		}
		_, err := sdkVerifier(fgs.Credential{AccessKey: sdkAK, SecretKey: "rotated" + sdkSK}).Verify(ctx, r, body)
		checkResult(t, s.name+" after rotation", fgs.Credential{}, err, "signature does not match")
	}
}

// BenchmarkVerifySchemes measures each scheme on an SDK-signed GET.
func BenchmarkVerifySchemes(b *testing.B) {
	ctx := context.Background()
	v := sdkVerifier(fgs.Credential{AccessKey: sdkAK, SecretKey: sdkSK})
	for _, s := range schemes {
		b.Run(s.name, func(b *testing.B) {
			r, body := sdkSign(b, s.signer, sdkAK, sdkSK, "", sdkRequests[1].req)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Verify(ctx, r, body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
