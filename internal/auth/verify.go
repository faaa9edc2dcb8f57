package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"strings"
	"time"

	"github.com/emmansun/gmsm/sm2"

	"github.com/openfgs/openfgs/internal/fgs"
)

// DefaultMaxSkew is the clock window a server should give X-Sdk-Date, the
// same as Huawei Cloud's API gateway.
const DefaultMaxSkew = 15 * time.Minute

// The header names and values of the signing protocol.
const (
	headerAuthorization = "Authorization"
	headerDate          = "X-Sdk-Date"
	headerSecurityToken = "X-Security-Token"
	dateLayout          = "20060102T150405Z"
	unsignedPayload     = "UNSIGNED-PAYLOAD"
)

// Limits on what a request may bring; nothing legitimate comes close.
const (
	maxAuthorizationLen = 4096
	maxSignedHeaders    = 64
	maxSignatureHex     = 2 * 80 // a DER ECDSA/SM2 signature on a 256-bit curve is at most 72 bytes
)

type algKind uint8

const (
	kindHMAC algKind = iota
	kindV11
	kindECDSA
	kindSM2
)

// signAlg describes one signing scheme.
type signAlg struct {
	name          string   // as it opens the Authorization header
	kind          algKind  //
	hash          hashKind // for the payload and canonical-request digests
	contentHeader string   // the header that may replace the payload digest
	contentName   string   // the same in lower case, as it is signed
}

var signAlgs = [...]signAlg{
	{"SDK-HMAC-SHA256", kindHMAC, hashSHA256, "X-Sdk-Content-Sha256", "x-sdk-content-sha256"},
	{"SDK-HMAC-SM3", kindHMAC, hashSM3, "X-Sdk-Content-Sm3", "x-sdk-content-sm3"},
	{"SDK-ECDSA-P256-SHA256", kindECDSA, hashSHA256, "X-Sdk-Content-Sha256", "x-sdk-content-sha256"},
	{"SDK-SM2-SM3", kindSM2, hashSM3, "X-Sdk-Content-Sm3", "x-sdk-content-sm3"},
	{"V11-HMAC-SHA256", kindV11, hashSHA256, "X-Sdk-Content-Sha256", "x-sdk-content-sha256"},
}

func lookupAlgorithm(name string) *signAlg {
	for i := range signAlgs {
		if signAlgs[i].name == name {
			return &signAlgs[i]
		}
	}
	return nil
}

// Verifier checks SDK request signatures. Its zero value with Lookup set
// is ready to use; it is safe for concurrent use.
type Verifier struct {
	// Lookup returns the credential of an access key, or an error of kind
	// fgs.NotFound when there is none. Any other error is passed on as
	// it is (a store fault is not the client's fault).
	Lookup func(ctx context.Context, accessKey string) (fgs.Credential, error)
	// MaxSkew is how far X-Sdk-Date may be from Now either way. Zero turns
	// the clock check off; servers should use DefaultMaxSkew.
	MaxSkew time.Duration
	// Now is the clock for the skew and expiry checks; nil means time.Now.
	Now func() time.Time
}

func (v *Verifier) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}

// reject is a verification failure as the client should see it.
func reject(msg string) error {
	return &fgs.Error{Op: "auth.Verify", Kind: fgs.Unauthorized, Msg: msg}
}

// authorization is a parsed Authorization header. All strings point into
// the header value.
type authorization struct {
	alg       *signAlg
	ak        string
	scope     string // V11 only: date/region/service
	signed    string // the SignedHeaders list as sent
	signature string // hex
}

// parseAuthorization splits "ALG Access=AK, SignedHeaders=a;b, Signature=hex"
// (V11: "Credential=AK/date/region/service" instead of Access).
func parseAuthorization(h string) (authorization, error) {
	var a authorization
	if len(h) > maxAuthorizationLen {
		return a, reject("malformed Authorization header")
	}
	name, rest, ok := strings.Cut(h, " ")
	if !ok {
		return a, reject("malformed Authorization header")
	}
	if a.alg = lookupAlgorithm(name); a.alg == nil {
		return a, reject("unsupported authorization algorithm")
	}
	var haveAK, haveSigned, haveSig bool
	for rest != "" {
		var field string
		field, rest, _ = strings.Cut(rest, ",")
		field = strings.TrimSpace(field)
		k, val, ok := strings.Cut(field, "=")
		if !ok {
			return a, reject("malformed Authorization header")
		}
		var seen *bool
		switch k {
		case "Access":
			if a.alg.kind == kindV11 {
				return a, reject("malformed Authorization header")
			}
			a.ak, seen = val, &haveAK
		case "Credential":
			if a.alg.kind != kindV11 {
				return a, reject("malformed Authorization header")
			}
			a.ak, a.scope, ok = strings.Cut(val, "/")
			if !ok {
				return a, reject("malformed Authorization header")
			}
			seen = &haveAK
		case "SignedHeaders":
			a.signed, seen = val, &haveSigned
		case "Signature":
			a.signature, seen = val, &haveSig
		default:
			continue // room for fields a later SDK may add
		}
		if *seen {
			return a, reject("malformed Authorization header")
		}
		*seen = true
	}
	if !haveAK || !haveSigned || !haveSig || a.ak == "" || a.signature == "" {
		return a, reject("malformed Authorization header")
	}
	return a, nil
}

// checkSignedHeaders validates the SignedHeaders list: lower-case header
// names separated by ';'. It reports whether x-sdk-date and
// x-security-token are among them, and which of them is contentHeader.
func checkSignedHeaders(list, contentName string) (date, token, content bool, err error) {
	n := 0
	for rest := list; ; {
		var name string
		name, rest, _ = strings.Cut(rest, ";")
		if n++; n > maxSignedHeaders || !validHeaderName(name) {
			return false, false, false, reject("malformed Authorization header")
		}
		switch name {
		case "x-sdk-date":
			date = true
		case "x-security-token":
			token = true
		case contentName:
			content = true
		}
		if rest == "" {
			if strings.HasSuffix(list, ";") {
				return false, false, false, reject("malformed Authorization header")
			}
			return date, token, content, nil
		}
	}
}

// validHeaderName accepts a non-empty lower-case HTTP token.
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// single returns the only value of header key, and false when the header
// is absent or repeated.
func single(h http.Header, key string) (string, bool) {
	v := h[key]
	if len(v) != 1 {
		return "", false
	}
	return v[0], true
}

// Verify checks r's Authorization signature against body (the exact raw
// body bytes) and returns the credential that signed it. The path is
// taken from r.URL.Path (decoded), the query from r.URL.RawQuery, and the
// host from r.Host. r and body are only read. It is [Verifier.Begin]
// followed by [Pending.Finish].
//
// A failure is an *fgs.Error of kind fgs.Unauthorized with code FSS.0401,
// except that an error of Lookup other than NotFound is returned as it is.
func (v *Verifier) Verify(ctx context.Context, r *http.Request, body []byte) (fgs.Credential, error) {
	p, err := v.Begin(ctx, r)
	if err != nil {
		return fgs.Credential{}, err
	}
	return p.Finish(body)
}

// Pending is a request whose headers passed every check that does not
// need the body: its Authorization header is well formed, its date is
// within the window, its access key exists and may be used (not expired,
// security token right). When the request names its payload digest in a
// signed X-Sdk-Content-Sha256 / X-Sdk-Content-Sm3 header the signature
// itself has been checked too; otherwise it covers the body's digest and
// only [Pending.Finish] can check it. Until Finish succeeds the request is
// not authenticated.
type Pending struct {
	r        *http.Request
	a        authorization
	cred     fgs.Credential
	date     string
	claimed  string // the content-digest header's value; "" when absent
	verified bool   // the signature was checked by Begin
}

// Begin checks everything about r that its headers show, so that a server
// can refuse a request that cannot be authenticated before it reads any of
// its body. See [Verifier.Verify] for the errors.
//
// The credential's own state (expiry, security token) is checked here as
// well: the access key is an identifier, not a secret, and a request made
// with a key that cannot be used is refused whatever its body.
func (v *Verifier) Begin(ctx context.Context, r *http.Request) (Pending, error) {
	var none Pending
	if v.Lookup == nil {
		return none, fgs.E("auth.Verify", fgs.Other, fgs.Msg("no credential lookup configured"))
	}

	if r.URL == nil {
		return none, reject("malformed request")
	}
	header, ok := single(r.Header, headerAuthorization)
	if !ok {
		if len(r.Header[headerAuthorization]) == 0 {
			return none, reject("missing Authorization header")
		}
		return none, reject("malformed Authorization header")
	}
	a, err := parseAuthorization(header)
	if err != nil {
		return none, err
	}
	alg := a.alg
	hasDate, hasToken, hasContent, err := checkSignedHeaders(a.signed, alg.contentName)
	if err != nil {
		return none, err
	}
	if !hasDate {
		return none, reject("x-sdk-date must be signed")
	}

	date, ok := single(r.Header, headerDate)
	if !ok {
		return none, reject("missing or repeated X-Sdk-Date header")
	}
	t, err := time.Parse(dateLayout, date)
	if err != nil || len(date) != len(dateLayout) {
		return none, reject("malformed X-Sdk-Date header")
	}
	if alg.kind == kindV11 && !validScope(a.scope, date) {
		return none, reject("credential scope must be <date>/<region>/<service> for the X-Sdk-Date day")
	}
	now := v.now()
	if v.MaxSkew > 0 {
		if d := now.Sub(t); d > v.MaxSkew || d < -v.MaxSkew {
			return none, reject("request date outside the allowed " + v.MaxSkew.String() + " window")
		}
	}

	// The content-digest header replaces the body digest, so it must be
	// covered by the signature, or anyone could swap the body under it.
	contentVals, hasContentHeader := r.Header[alg.contentHeader]
	if hasContentHeader && (!hasContent || len(contentVals) != 1) {
		return none, reject(alg.contentName + " must be signed")
	}
	tokenVals, hasTokenHeader := r.Header[headerSecurityToken]

	cred, err := v.Lookup(ctx, a.ak)
	if err != nil {
		if fgs.Is(err, fgs.NotFound) {
			return none, fgs.E("auth.Verify", fgs.Unauthorized, fgs.Msg("unknown access key"), err)
		}
		return none, fgs.E("auth.Verify", err)
	}
	if cred.SecretKey == "" {
		return none, reject("unknown access key")
	}

	// The rules for temporary credentials.
	if cred.SecurityToken != "" {
		if !hasToken || len(tokenVals) != 1 ||
			subtle.ConstantTimeCompare([]byte(tokenVals[0]), []byte(cred.SecurityToken)) != 1 {
			return none, reject("security token missing or wrong")
		}
	} else if hasTokenHeader {
		return none, reject("security token sent for a permanent access key")
	}
	if !cred.Expires.IsZero() && !now.Before(cred.Expires) {
		return none, reject("credential expired")
	}

	p := Pending{r: r, a: a, cred: cred, date: date}
	if hasContentHeader {
		// The canonical request does not depend on the body: check the
		// signature now, and the body against the claimed digest later.
		p.claimed = contentVals[0]
		if err := p.check(nil); err != nil {
			return none, err
		}
		p.verified = true
	}
	return p, nil
}

// NeedsBody reports whether the signature covers the body's digest, so
// that it can only be checked once the whole body is read.
func (p *Pending) NeedsBody() bool { return !p.verified }

// Finish checks the request against its body (the exact raw bytes) and
// returns the credential that signed it.
func (p *Pending) Finish(body []byte) (fgs.Credential, error) {
	if p.verified {
		if p.claimed != unsignedPayload {
			sum := p.a.alg.hash.sum(body)
			if !hexEqualFold(p.claimed, sum[:]) {
				return fgs.Credential{}, reject("body does not match " + p.a.alg.contentHeader)
			}
		}
		return p.cred, nil
	}
	if err := p.check(body); err != nil {
		return fgs.Credential{}, err
	}
	return p.cred, nil
}

// check verifies the signature. The payload line of the canonical request
// is the claimed digest when there is one, else the digest of body.
func (p *Pending) check(body []byte) error {
	r, a, alg, cred := p.r, &p.a, p.a.alg, &p.cred
	bufs := getBuffers()
	defer putBuffers(bufs)

	// The canonical request.
	cr := bufs.a[:0]
	cr = append(cr, r.Method...)
	cr = append(cr, '\n')
	cr = appendURI(cr, r.URL.Path)
	cr = append(cr, '\n')
	cr, ok := appendQuery(cr, r.URL.RawQuery)
	if !ok {
		bufs.a = cr
		return reject("malformed query string")
	}
	cr = append(cr, '\n')
	cr = appendHeaders(cr, r, a.signed)
	cr = append(cr, '\n')
	cr = append(cr, a.signed...)
	cr = append(cr, '\n')
	if p.claimed != "" {
		cr = append(cr, p.claimed...)
	} else {
		bodySum := alg.hash.sum(body)
		cr = hex.AppendEncode(cr, bodySum[:])
	}
	crSum := alg.hash.sum(cr)

	// The string to sign, in the same buffer.
	sts := cr[:0]
	sts = append(sts, alg.name...)
	sts = append(sts, '\n')
	sts = append(sts, p.date...)
	sts = append(sts, '\n')
	if alg.kind == kindV11 {
		sts = append(sts, a.scope...)
		sts = append(sts, '\n')
	}
	sts = hex.AppendEncode(sts, crSum[:])
	bufs.a = sts

	var good bool
	switch alg.kind {
	case kindHMAC, kindV11:
		var want [digestSize]byte
		if alg.kind == kindV11 {
			var key [2 * digestSize]byte
			key, bufs.c, bufs.b = v11Key(cred.SecretKey, a.ak, a.scope, bufs.c, bufs.b)
			want, bufs.b = hmacSum(hashSHA256, key[:], sts, bufs.b)
		} else {
			want, bufs.b = alg.hash.hmac(cred.SecretKey, sts, bufs.b)
		}
		var got [digestSize]byte
		if len(a.signature) == 2*digestSize {
			_, err := hex.Decode(got[:], []byte(a.signature))
			good = err == nil && hmac.Equal(got[:], want[:])
		}
	case kindECDSA, kindSM2:
		var sig [maxSignatureHex / 2]byte
		if len(a.signature) > maxSignatureHex || len(a.signature)%2 != 0 {
			break
		}
		n, err := hex.Decode(sig[:], []byte(a.signature))
		if err != nil {
			break
		}
		pub, err := cachedPublicKey(alg, a.ak, cred.SecretKey)
		if err != nil {
			break
		}
		if alg.kind == kindECDSA {
			digest := sha256.Sum256(sts)
			good = ecdsa.VerifyASN1(pub, digest[:], sig[:n])
		} else {
			good = sm2.VerifyASN1WithSM2(pub, sm2UID, sts, sig[:n])
		}
	}
	if !good {
		return reject("signature does not match")
	}
	return nil
}

// validScope checks a V11 scope: date/region/service, with the date the
// day of the X-Sdk-Date value.
func validScope(scope, date string) bool {
	day, rest, ok := strings.Cut(scope, "/")
	if !ok || day != date[:8] {
		return false
	}
	region, service, ok := strings.Cut(rest, "/")
	return ok && region != "" && service != "" && strings.IndexByte(service, '/') < 0
}

// hexEqualFold reports whether s is the hex encoding of b, in either case.
func hexEqualFold(s string, b []byte) bool {
	if len(s) != 2*len(b) {
		return false
	}
	var buf [2 * digestSize]byte
	if len(b) > digestSize {
		return false
	}
	hex.Encode(buf[:], b)
	return strings.EqualFold(s, string(buf[:2*len(b)]))
}
