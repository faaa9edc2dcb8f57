package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strings"
	"time"

	"github.com/openfgs/openfgs/internal/fgs"
)

// Claims is what a token says about its bearer.
type Claims struct {
	User        string   // user name
	UserID      string   //
	Domain      string   // domain id
	DomainName  string   //
	Project     string   // project id the token is scoped to
	ProjectName string   //
	Methods     []string // how the user authenticated, e.g. "password"
	IssuedAt    time.Time
	ExpiresAt   time.Time
}

// DefaultTokenTTL is how long a token lives unless Tokens.TTL says otherwise.
const DefaultTokenTTL = 24 * time.Hour

// MinTokenKey is the shortest Tokens.Key accepted.
const MinTokenKey = 16

const (
	tokenVersion = "v1."
	maxTokenLen  = 8192
)

// Tokens issues and verifies stateless, HMAC-signed tokens (see the
// package documentation for the format). It is safe for concurrent use.
type Tokens struct {
	Key []byte           // the MAC key: at least MinTokenKey bytes, 32 random bytes recommended
	TTL time.Duration    // token lifetime; zero means DefaultTokenTTL
	Now func() time.Time // nil means time.Now
}

// tokenBody is the JSON payload of a token.
type tokenBody struct {
	User        string   `json:"user,omitempty"`
	UserID      string   `json:"user_id,omitempty"`
	Domain      string   `json:"domain_id,omitempty"`
	DomainName  string   `json:"domain_name,omitempty"`
	Project     string   `json:"project_id,omitempty"`
	ProjectName string   `json:"project_name,omitempty"`
	Methods     []string `json:"methods,omitempty"`
	IssuedAt    int64    `json:"iat"`
	ExpiresAt   int64    `json:"exp"`
}

func (t *Tokens) now() time.Time {
	if t.Now != nil {
		return t.Now()
	}
	return time.Now()
}

func (t *Tokens) mac(signed string) []byte {
	m := hmac.New(sha256.New, t.Key)
	m.Write([]byte(signed))
	return m.Sum(nil)
}

// Issue mints a token for c. It sets IssuedAt to now and ExpiresAt to now
// plus TTL, or keeps c.ExpiresAt when that is earlier (a token must not
// outlive what it was issued on); both are whole seconds. It returns the
// token and the claims it carries.
func (t *Tokens) Issue(c Claims) (string, Claims, error) {
	const op = "auth.Tokens.Issue"
	if len(t.Key) < MinTokenKey {
		return "", Claims{}, fgs.E(op, fgs.Other, fgs.Msg("token key too short"))
	}
	ttl := t.TTL
	if ttl <= 0 {
		ttl = DefaultTokenTTL
	}
	now := t.now().Truncate(time.Second)
	exp := now.Add(ttl)
	if !c.ExpiresAt.IsZero() && c.ExpiresAt.Before(exp) {
		exp = c.ExpiresAt.Truncate(time.Second)
	}
	if !exp.After(now) {
		return "", Claims{}, fgs.E(op, fgs.Invalid, fgs.Msg("token would be expired on issue"))
	}
	c.IssuedAt, c.ExpiresAt = now.UTC(), exp.UTC()
	payload, err := json.Marshal(tokenBody{
		User: c.User, UserID: c.UserID, Domain: c.Domain, DomainName: c.DomainName,
		Project: c.Project, ProjectName: c.ProjectName, Methods: c.Methods,
		IssuedAt: c.IssuedAt.Unix(), ExpiresAt: c.ExpiresAt.Unix(),
	})
	if err != nil {
		return "", Claims{}, fgs.E(op, err)
	}
	var b strings.Builder
	enc := base64.RawURLEncoding
	b.Grow(len(tokenVersion) + enc.EncodedLen(len(payload)) + 1 + enc.EncodedLen(sha256.Size))
	b.WriteString(tokenVersion)
	b.WriteString(enc.EncodeToString(payload))
	mac := t.mac(b.String())
	b.WriteByte('.')
	b.WriteString(enc.EncodeToString(mac))
	return b.String(), c, nil
}

func badToken(msg string) error {
	return &fgs.Error{Op: "auth.Tokens.Verify", Kind: fgs.Unauthorized, Msg: msg}
}

// Verify checks token's MAC and expiry and returns its claims. A bad,
// altered, foreign or expired token is an *fgs.Error of kind
// fgs.Unauthorized with code FSS.0401.
func (t *Tokens) Verify(token string) (Claims, error) {
	if len(t.Key) < MinTokenKey {
		return Claims{}, fgs.E("auth.Tokens.Verify", fgs.Other, fgs.Msg("token key too short"))
	}
	if len(token) > maxTokenLen || !strings.HasPrefix(token, tokenVersion) {
		return Claims{}, badToken("malformed token")
	}
	dot := strings.LastIndexByte(token, '.')
	if dot < len(tokenVersion) {
		return Claims{}, badToken("malformed token")
	}
	signed, macText := token[:dot], token[dot+1:]
	enc := base64.RawURLEncoding.Strict()
	got, err := enc.DecodeString(macText)
	if err != nil || !hmac.Equal(got, t.mac(signed)) {
		return Claims{}, badToken("token signature does not match")
	}
	payload, err := enc.DecodeString(signed[len(tokenVersion):])
	if err != nil {
		return Claims{}, badToken("malformed token")
	}
	var body tokenBody
	if err := json.Unmarshal(payload, &body); err != nil {
		return Claims{}, badToken("malformed token")
	}
	c := Claims{
		User: body.User, UserID: body.UserID, Domain: body.Domain, DomainName: body.DomainName,
		Project: body.Project, ProjectName: body.ProjectName, Methods: body.Methods,
		IssuedAt: time.Unix(body.IssuedAt, 0).UTC(), ExpiresAt: time.Unix(body.ExpiresAt, 0).UTC(),
	}
	if !t.now().Before(c.ExpiresAt) {
		return Claims{}, badToken("token expired")
	}
	return c, nil
}
