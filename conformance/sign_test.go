package conformance

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"
)

// This file holds the suite's own SDK-HMAC-SHA256 signer, used for the
// requests the SDK cannot send (tampered signatures, malformed bodies, old
// dates). It follows sdk-wire.md §3 and is pinned to the golden vector of
// §4 by TestSigner_GoldenVector, so a failure against the server is the
// server's, not the signer's.

const sdkDateLayout = "20060102T150405Z"

// signOpts tweak the signature for negative tests.
type signOpts struct {
	// omit names headers (lower-case) to leave out of SignedHeaders.
	omit map[string]bool
}

// signHMACSHA256 sets X-Sdk-Date (unless present) and Authorization on
// req, signing every header already set except Content-Type and names
// with '_', as the SDK does.
func signHMACSHA256(req *http.Request, body []byte, ak, sk string, now time.Time) {
	signHMACSHA256With(req, body, ak, sk, now, signOpts{})
}

func signHMACSHA256With(req *http.Request, body []byte, ak, sk string, now time.Time, o signOpts) {
	if req.Header.Get("X-Sdk-Date") == "" {
		req.Header.Set("X-Sdk-Date", now.UTC().Format(sdkDateLayout))
	}
	var signed []string
	for k := range req.Header {
		lk := strings.ToLower(k)
		if strings.HasPrefix(lk, "content-type") || strings.Contains(lk, "_") || o.omit[lk] {
			continue
		}
		signed = append(signed, lk)
	}
	sort.Strings(signed)
	cr := canonicalRequest(req, body, signed)
	sum := sha256.Sum256([]byte(cr))
	sts := "SDK-HMAC-SHA256\n" + req.Header.Get("X-Sdk-Date") + "\n" + hex.EncodeToString(sum[:])
	mac := hmac.New(sha256.New, []byte(sk))
	mac.Write([]byte(sts))
	req.Header.Set("Authorization", "SDK-HMAC-SHA256 Access="+ak+", SignedHeaders="+strings.Join(signed, ";")+
		", Signature="+hex.EncodeToString(mac.Sum(nil)))
}

func canonicalRequest(req *http.Request, body []byte, signed []string) string {
	var b strings.Builder
	b.WriteString(req.Method + "\n")

	segs := strings.Split(req.URL.Path, "/")
	for i, s := range segs {
		segs[i] = sdkEscape(s)
	}
	uri := strings.Join(segs, "/")
	if !strings.HasSuffix(uri, "/") {
		uri += "/"
	}
	b.WriteString(uri + "\n")

	q, _ := url.ParseQuery(req.URL.RawQuery)
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		vs := append([]string(nil), q[k]...)
		sort.Strings(vs)
		for _, v := range vs {
			parts = append(parts, sdkEscape(k)+"="+sdkEscape(v))
		}
	}
	b.WriteString(strings.Join(parts, "&") + "\n")

	for _, name := range signed {
		var vals []string
		if name == "host" {
			vals = []string{req.Host}
			if vals[0] == "" {
				vals[0] = req.URL.Host
			}
		} else {
			vals = append(vals, req.Header.Values(name)...)
		}
		sort.Strings(vals)
		for _, v := range vals {
			b.WriteString(name + ":" + strings.TrimSpace(v) + "\n")
		}
	}
	b.WriteString("\n" + strings.Join(signed, ";") + "\n")

	if p := req.Header.Get("X-Sdk-Content-Sha256"); p != "" {
		b.WriteString(p)
	} else {
		sum := sha256.Sum256(body)
		b.WriteString(hex.EncodeToString(sum[:]))
	}
	return b.String()
}

// sdkEscape keeps A-Z a-z 0-9 - _ . ~ and %-encodes every other byte with
// upper-case hex.
func sdkEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteString("%" + strings.ToUpper(hex.EncodeToString([]byte{c})))
	}
	return b.String()
}

// TestSigner_GoldenVector pins the suite's signer to the golden request of
// sdk-wire.md §4 (produced by the SDK and checked by independent
// verifiers). It needs no server.
func TestSigner_GoldenVector(t *testing.T) {
	const (
		ak   = "PROBEAK0123456789ABC"
		sk   = "probeSecretKey0123456789abcdefghijklmnop"
		pid  = "0123456789abcdef0123456789abcdef"
		want = "SDK-HMAC-SHA256 Access=PROBEAK0123456789ABC, SignedHeaders=user-agent;x-cff-log-type;x-project-id;x-sdk-date, Signature=0bb4996f77900110a9c8c1e0dd7e5c1d9f52bf690fc8e011d81aec0bc55898f1"
	)
	body := []byte("{\"key\":\"value\",\"n\":1}\n")
	req, err := http.NewRequest("POST", "http://127.0.0.1:18080/v2/"+pid+"/fgs/functions/urn:fss:cn-north-4:"+pid+":function:default:probe-fn:latest/invocations", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("User-Agent", "huaweicloud-usdk-go/3.0; sdkprobe-golden")
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Cff-Log-Type", "tail")
	req.Header.Set("X-Project-Id", pid)
	req.Header.Set("X-Sdk-Date", "20240530T143000Z")
	signHMACSHA256(req, body, ak, sk, time.Now())
	if got := req.Header.Get("Authorization"); got != want {
		t.Errorf("Authorization =\n  %s\nwant\n  %s\ncanonical request:\n%s", got, want,
			canonicalRequest(req, body, []string{"user-agent", "x-cff-log-type", "x-project-id", "x-sdk-date"}))
	}
}
