package auth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/openfgs/openfgs/internal/fgs"
)

// TestVerifier_Begin checks what can be refused from the headers alone,
// before a server reads any body byte, and that Finish completes the
// check against the body.
func TestVerifier_Begin(t *testing.T) {
	ctx := context.Background()
	perm := fgs.Credential{AccessKey: "BEGINAK0123456789ABC", SecretKey: "beginSecretKey0123456789abcdefghijklmnop", Project: "p1"}
	expired := fgs.Credential{AccessKey: "EXPIREDAK0123456789A", SecretKey: "expiredSecretKey0123456789abcdefghijklm", Project: "p1", Expires: time.Now().Add(-time.Minute)}
	v := &Verifier{Lookup: lookupOf(perm, expired), MaxSkew: DefaultMaxSkew}
	body := []byte(`{"k":"v"}` + "\n")
	sum := sha256.Sum256(body)
	newReq := func() *http.Request {
		r := httptest.NewRequest("PUT", "http://127.0.0.1:8000/v2/p1/fgs/functions/f/code", strings.NewReader(string(body)))
		r.Header.Set("X-Project-Id", "p1")
		r.Header.Set("User-Agent", "begin-test")
		return r
	}

	for _, tc := range []struct {
		name string
		make func() *http.Request
		want string // part of the error, "" = Begin succeeds
		// after a successful Begin:
		needsBody bool
		finishOK  []byte // a body Finish accepts
		finishBad []byte // a body Finish refuses, with wantFinish
		wantBad   string
	}{
		{name: "no Authorization", make: newReq, want: "missing Authorization header"},
		{name: "malformed Authorization", make: func() *http.Request {
			r := newReq()
			r.Header.Set("Authorization", "SDK-HMAC-SHA256 nonsense")
			return r
		}, want: "malformed Authorization header"},
		{name: "unknown AK", make: func() *http.Request {
			r := newReq()
			Sign(r, body, "UNKNOWNAK0123456789A", perm.SecretKey, time.Now())
			return r
		}, want: "unknown access key"},
		{name: "skewed date", make: func() *http.Request {
			r := newReq()
			Sign(r, body, perm.AccessKey, perm.SecretKey, time.Now().Add(-time.Hour))
			return r
		}, want: "outside the allowed"},
		{name: "expired credential", make: func() *http.Request {
			r := newReq()
			Sign(r, body, expired.AccessKey, expired.SecretKey, time.Now())
			return r
		}, want: "credential expired"},
		{name: "body digest signed", make: func() *http.Request {
			r := newReq()
			Sign(r, body, perm.AccessKey, perm.SecretKey, time.Now())
			return r
		}, needsBody: true, finishOK: body, finishBad: []byte("{}\n"), wantBad: "signature does not match"},
		{name: "wrong SK, body digest signed: only Finish can tell", make: func() *http.Request {
			r := newReq()
			Sign(r, body, perm.AccessKey, "wrong"+perm.SecretKey, time.Now())
			return r
		}, needsBody: true, finishBad: body, wantBad: "signature does not match"},
		{name: "claimed digest, wrong SK: refused before the body", make: func() *http.Request {
			r := newReq()
			r.Header.Set("X-Sdk-Content-Sha256", hex.EncodeToString(sum[:]))
			Sign(r, body, perm.AccessKey, "wrong"+perm.SecretKey, time.Now())
			return r
		}, want: "signature does not match"},
		{name: "claimed digest: the body must match it", make: func() *http.Request {
			r := newReq()
			r.Header.Set("X-Sdk-Content-Sha256", hex.EncodeToString(sum[:]))
			Sign(r, body, perm.AccessKey, perm.SecretKey, time.Now())
			return r
		}, finishOK: body, finishBad: []byte("{}\n"), wantBad: "body does not match X-Sdk-Content-Sha256"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := v.Begin(ctx, tc.make())
			if tc.want != "" {
				checkResult(t, tc.name, fgs.Credential{}, err, tc.want)
				return
			}
			if err != nil {
				t.Fatalf("Begin(%q) = %v, want success", tc.name, err)
			}
			if p.NeedsBody() != tc.needsBody {
				t.Errorf("Begin(%q).NeedsBody() = %v, want %v", tc.name, p.NeedsBody(), tc.needsBody)
			}
			if tc.finishOK != nil {
				cred, err := p.Finish(tc.finishOK)
				if err != nil || cred.AccessKey != perm.AccessKey {
					t.Errorf("Finish(%q) = %q, %v; want %q", tc.finishOK, cred.AccessKey, err, perm.AccessKey)
				}
			}
			if tc.finishBad != nil {
				cred, err := p.Finish(tc.finishBad)
				checkResult(t, tc.name+" Finish", cred, err, tc.wantBad)
			}
		})
	}
}
