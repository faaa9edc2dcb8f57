package auth

import (
	"encoding/base64"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/openfgs/openfgs/internal/fgs"
)

var tokenKey = []byte("0123456789abcdef0123456789abcdef")

func testTokens(now time.Time) *Tokens {
	return &Tokens{Key: tokenKey, Now: func() time.Time { return now }}
}

func TestTokenRoundTrip(t *testing.T) {
	now := time.Date(2026, 11, 28, 10, 0, 0, 123456789, time.UTC)
	tk := testTokens(now)
	in := Claims{
		User: "alice", UserID: GenerateID(), Domain: GenerateID(), DomainName: "acme",
		Project: GenerateID(), ProjectName: "cn-north-4", Methods: []string{"password"},
	}
	token, issued, err := tk.Issue(in)
	if err != nil {
		t.Fatalf("Issue(%+v) = %v", in, err)
	}
	wantIssued := in
	wantIssued.IssuedAt = now.Truncate(time.Second)
	wantIssued.ExpiresAt = wantIssued.IssuedAt.Add(DefaultTokenTTL)
	if !reflect.DeepEqual(issued, wantIssued) {
		t.Errorf("Issue(%+v) claims = %+v, want %+v", in, issued, wantIssued)
	}
	if !strings.HasPrefix(token, "v1.") || strings.ContainsAny(token, "+/= ") {
		t.Errorf("Issue(%+v) = %q, want a v1. token in base64url", in, token)
	}
	got, err := tk.Verify(token)
	if err != nil || !reflect.DeepEqual(got, issued) {
		t.Errorf("Verify(%q) = %+v, %v, want %+v", token, got, err, issued)
	}

	// Just before expiry it still verifies; at expiry it does not.
	if _, err := testTokens(issued.ExpiresAt.Add(-time.Nanosecond)).Verify(token); err != nil {
		t.Errorf("Verify(%q) just before expiry = %v, want success", token, err)
	}

	// A shorter caller-given expiry is kept; a longer one is capped.
	short := in
	short.ExpiresAt = now.Add(time.Hour)
	if _, c, err := tk.Issue(short); err != nil || !c.ExpiresAt.Equal(now.Add(time.Hour).Truncate(time.Second)) {
		t.Errorf("Issue(expiring in 1h) = %v, %v, want expiry %v", c.ExpiresAt, err, now.Add(time.Hour))
	}
	long := in
	long.ExpiresAt = now.Add(1000 * time.Hour)
	if _, c, err := tk.Issue(long); err != nil || !c.ExpiresAt.Equal(wantIssued.ExpiresAt) {
		t.Errorf("Issue(expiring in 1000h) = %v, %v, want expiry %v", c.ExpiresAt, err, wantIssued.ExpiresAt)
	}
	past := in
	past.ExpiresAt = now.Add(-time.Hour)
	if _, _, err := tk.Issue(past); err == nil {
		t.Errorf("Issue(already expired) = nil error, want an error")
	}
	custom := &Tokens{Key: tokenKey, TTL: time.Minute, Now: tk.Now}
	if _, c, _ := custom.Issue(in); !c.ExpiresAt.Equal(wantIssued.IssuedAt.Add(time.Minute)) {
		t.Errorf("Issue with TTL 1m: expiry %v, want %v", c.ExpiresAt, wantIssued.IssuedAt.Add(time.Minute))
	}
}

func TestTokenRejects(t *testing.T) {
	now := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	tk := testTokens(now)
	token, _, err := tk.Issue(Claims{User: "alice", Project: "p1"})
	if err != nil {
		t.Fatal(err)
	}
	prefix, mac, _ := strings.Cut(token[len("v1."):], ".")
	payload, _ := base64.RawURLEncoding.DecodeString(prefix)
	forged := "v1." + base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(payload), `"p1"`, `"p2"`, 1))) + "." + mac
	flipped := []byte(mac)
	if flipped[0] == 'A' {
		flipped[0] = 'B'
	} else {
		flipped[0] = 'A'
	}
	other, _, _ := (&Tokens{Key: []byte("another key, also 32 bytes long!"), Now: tk.Now}).Issue(Claims{User: "alice", Project: "p1"})

	tests := []struct {
		name, token string
		tk          *Tokens
		want        string
	}{
		{"tampered payload", forged, tk, "token signature does not match"},
		{"tampered MAC", "v1." + prefix + "." + string(flipped), tk, "token signature does not match"},
		{"truncated MAC", token[:len(token)-2], tk, "token signature does not match"},
		{"padded MAC", token + "=", tk, "token signature does not match"},
		{"wrong key", other, tk, "token signature does not match"},
		{"other version", "v2." + token[3:], tk, "malformed token"},
		{"expired", token, testTokens(now.Add(DefaultTokenTTL)), "token expired"},
		{"expired long ago", token, testTokens(now.Add(365 * 24 * time.Hour)), "token expired"},
		{"empty", "", tk, "malformed token"},
		{"garbage", "not a token", tk, "malformed token"},
		{"version only", "v1.", tk, "malformed token"},
		{"no MAC", "v1." + prefix, tk, "malformed token"},
		{"huge", "v1." + strings.Repeat("A", 10000) + "." + mac, tk, "malformed token"},
		{"valid MAC over non-JSON", signedGarbage(tk, "v1."+base64.RawURLEncoding.EncodeToString([]byte("{]"))), tk, "malformed token"},
		{"valid MAC over bad base64", signedGarbage(tk, "v1.!!!"), tk, "malformed token"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := tc.tk.Verify(tc.token)
			if err == nil || !fgs.Is(err, fgs.Unauthorized) || fgs.MessageOf(err) != tc.want {
				t.Errorf("Verify(%q) = %+v, %v, want Unauthorized %q", tc.token, c, err, tc.want)
			}
		})
	}
}

// signedGarbage appends a correct MAC to an arbitrary prefix.
func signedGarbage(tk *Tokens, signed string) string {
	return signed + "." + base64.RawURLEncoding.EncodeToString(tk.mac(signed))
}

func TestTokenKeyRequired(t *testing.T) {
	tk := &Tokens{Key: []byte("short")}
	if _, _, err := tk.Issue(Claims{User: "u"}); err == nil {
		t.Errorf("Issue with a 5-byte key = nil error, want an error")
	}
	if _, err := tk.Verify("v1.e30.AAAA"); err == nil || fgs.Is(err, fgs.Unauthorized) {
		t.Errorf("Verify with a 5-byte key = %v, want a configuration error", err)
	}
}
