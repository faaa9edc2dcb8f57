package auth

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/openfgs/openfgs/internal/fgs"
)

// FuzzVerify feeds hostile Authorization headers, dates, paths, queries
// and bodies to Verify. It must never panic, and every rejection must be
// an Unauthorized error.
func FuzzVerify(f *testing.F) {
	f.Add(goldenAuth, goldenDate, "POST", goldenPath, "", "", []byte(goldenBody))
	f.Add(goldenAuth, goldenDate, "GET", "/", "a=1&b", "tok", []byte(nil))
	f.Add("V11-HMAC-SHA256 Credential=AK/20240530/cn-north-4/functiongraph, SignedHeaders=host;x-sdk-date, Signature="+goldenSig, goldenDate, "GET", "/v2/x", "marker", "", []byte("null\n"))
	f.Add("V11-HMAC-SHA256 Credential=AK/2024/, SignedHeaders=x-sdk-date, Signature=00", "20240530T143000Z", "GET", "", "", "", []byte{})
	f.Add("SDK-ECDSA-P256-SHA256 Access=AK, SignedHeaders=x-sdk-date;x-sdk-content-sha256, Signature=3006020101020101", goldenDate, "PUT", "/a b/%", "q=%zz", "", []byte("x"))
	f.Add("SDK-SM2-SM3 Access=TAK, SignedHeaders=x-sdk-date;x-security-token, Signature=30440220", goldenDate, "DELETE", "/\x00/\xff", "k;v", "tok", []byte{0})
	f.Add("SDK-HMAC-SM3 Access=AK,SignedHeaders=x-sdk-date,Signature=zz,Extra=1", "20241340T256161Z", "", "//", "&&=&", "", []byte(nil))
	f.Add("SDK-HMAC-SHA256  Access=, SignedHeaders=;, Signature=", "", "GET", "/", "", "", []byte(nil))
	f.Add(" ", "x", "GET", "/", "", "", []byte(nil))

	v := &Verifier{
		Lookup: func(_ context.Context, ak string) (fgs.Credential, error) {
			switch {
			case ak == "NONE":
				return fgs.Credential{}, fgs.E(fgs.NotFound)
			case strings.HasPrefix(ak, "T"):
				return fgs.Credential{AccessKey: ak, SecretKey: "fuzz-secret", SecurityToken: "tok", Expires: goldenTime.Add(time.Minute)}, nil
			case ak == goldenAK:
				return goldenCred, nil
			}
			return fgs.Credential{AccessKey: ak, SecretKey: "fuzz-secret"}, nil
		},
		MaxSkew: DefaultMaxSkew,
		Now:     func() time.Time { return goldenTime },
	}
	f.Fuzz(func(t *testing.T, auth, date, method, path, query, token string, body []byte) {
		r := &http.Request{
			Method: method,
			URL:    &url.URL{Path: path, RawQuery: query},
			Host:   "127.0.0.1:18080",
			Header: http.Header{
				"Authorization":  {auth},
				"X-Sdk-Date":     {date},
				"User-Agent":     {"huaweicloud-usdk-go/3.0; sdkprobe-golden"},
				"X-Cff-Log-Type": {"tail"},
				"X-Project-Id":   {goldenPID},
			},
		}
		if len(token)%3 == 2 {
			r.Header["X-Sdk-Content-Sha256"] = []string{unsignedPayload}
		}
		if token != "" {
			r.Header["X-Security-Token"] = []string{token}
		}
		_, err := v.Verify(context.Background(), r, body)
		if err != nil && (!fgs.Is(err, fgs.Unauthorized) || fgs.MessageOf(err) == "") {
			t.Errorf("Verify(%q) = %v, want Unauthorized with a message", auth, err)
		}
	})
}
