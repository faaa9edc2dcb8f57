package auth

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/openfgs/openfgs/internal/fgs"
)

func TestSign_Verifies(t *testing.T) {
	cred := fgs.Credential{AccessKey: "SIGNTESTAK0123456789", SecretKey: "signTestSecretKey0123456789abcdefghijkl", Project: "p1"}
	v := &Verifier{
		Lookup:  func(ctx context.Context, ak string) (fgs.Credential, error) { return cred, nil },
		MaxSkew: time.Minute,
	}
	body := []byte(`{"k":"v w"}` + "\n")
	r := httptest.NewRequest("POST", "http://127.0.0.1:8000/v2/p1/fgs/functions/urn:fss:r:p1:function:default:f:latest/config?b=2&a=x%20y&c", strings.NewReader(string(body)))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("X-Project-Id", "p1")
	r.Header.Set("User-Agent", "openfgs-bench")
	Sign(r, body, cred.AccessKey, cred.SecretKey, time.Now())
	if _, err := v.Verify(context.Background(), r, body); err != nil {
		t.Fatalf("Verify(signed request) = %v, want nil", err)
	}
	if _, err := v.Verify(context.Background(), r, append(body, ' ')); err == nil {
		t.Fatal("Verify(changed body) = nil, want an error")
	}
	r.Header.Set("X-Project-Id", "p2")
	if _, err := v.Verify(context.Background(), r, body); err == nil {
		t.Fatal("Verify(changed header) = nil, want an error")
	}
	_ = http.MethodPost
}
