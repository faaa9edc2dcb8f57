package api

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/openfgs/openfgs/internal/auth"
	"github.com/openfgs/openfgs/internal/fgs"
)

// tokenServer is a test server with user alice (password "right") in
// domain openfgs, a clock the test sets, and the given throttle.
func tokenServer(t *testing.T, th *auth.Throttle) (*Server, *time.Time) {
	t.Helper()
	s, _ := newTestServer(t)
	h, err := auth.HashPassword("right")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Store.PutUser(context.Background(), fgs.User{ID: "u1", Domain: "d1", Name: "alice", PasswordHash: h}); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	s.Now = func() time.Time { return now }
	s.Throttle = th
	return s, &now
}

func tokenCall(s *Server, from, user, password, domain string) *httptest.ResponseRecorder {
	body := fmt.Sprintf(`{"auth":{"identity":{"methods":["password"],"password":{"user":{"name":%q,"password":%q,"domain":{"name":%q}}}},"scope":{"project":{"id":"p1"}}}}`, user, password, domain)
	r := httptest.NewRequest("POST", "/v3/auth/tokens", strings.NewReader(body))
	r.RemoteAddr = from
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r)
	return w
}

func TestIssueToken_ThrottlesUserFailures(t *testing.T) {
	s, now := tokenServer(t, auth.NewThrottle(1000, 2))
	const from = "192.0.2.10:5000"
	// Successes are not counted.
	for i := range 4 {
		if w := tokenCall(s, from, "alice", "right", "openfgs"); w.Code != 201 {
			t.Fatalf("right password %d: HTTP %d %s", i+1, w.Code, w.Body)
		}
	}
	for _, user := range []string{"alice", "nobody"} {
		for i := range 2 {
			if w := tokenCall(s, from, user, "wrong", "openfgs"); w.Code != 401 {
				t.Fatalf("%s, wrong password %d: HTTP %d %s, want 401", user, i+1, w.Code, w.Body)
			}
		}
		// Third failure: throttled, and so is the right password, from
		// anywhere, whether the user exists or not.
		for _, pw := range []string{"wrong", "right"} {
			w := tokenCall(s, "198.51.100.7:1", user, pw, "openfgs")
			if w.Code != 429 || !strings.Contains(w.Body.String(), `"FSS.0429"`) || w.Header().Get("Retry-After") != "30" {
				t.Errorf("%s after 2 failures, password %q: HTTP %d %s (Retry-After %q), want 429 FSS.0429, Retry-After 30",
					user, pw, w.Code, w.Body, w.Header().Get("Retry-After"))
			}
		}
	}
	*now = now.Add(30 * time.Second)
	if w := tokenCall(s, from, "alice", "right", "openfgs"); w.Code != 201 {
		t.Errorf("30s later, right password: HTTP %d %s, want 201", w.Code, w.Body)
	}
}

func TestIssueToken_ThrottlesSource(t *testing.T) {
	s, _ := tokenServer(t, auth.NewThrottle(3, 1000))
	for i := range 3 {
		if w := tokenCall(s, "192.0.2.10:5000", fmt.Sprintf("user%d", i), "x", "openfgs"); w.Code != 401 {
			t.Fatalf("request %d: HTTP %d %s, want 401", i+1, w.Code, w.Body)
		}
	}
	w := tokenCall(s, "192.0.2.10:5001", "alice", "right", "openfgs")
	if w.Code != 429 || !strings.Contains(w.Body.String(), `"FSS.0429"`) || w.Header().Get("Retry-After") != "20" {
		t.Errorf("4th request from one address: HTTP %d %s (Retry-After %q), want 429 FSS.0429, Retry-After 20", w.Code, w.Body, w.Header().Get("Retry-After"))
	}
	if w := tokenCall(s, "192.0.2.11:5000", "alice", "right", "openfgs"); w.Code != 201 {
		t.Errorf("another address: HTTP %d %s, want 201", w.Code, w.Body)
	}
}

// An unknown user or domain is refused in the time a wrong password
// takes.
func TestIssueToken_SameTimeForUnknownUser(t *testing.T) {
	s, _ := tokenServer(t, auth.NewThrottle(1000, 1000))
	cases := []struct{ name, user, domain string }{
		{"wrong password", "alice", "openfgs"},
		{"unknown user", "nobody", "openfgs"},
		{"unknown domain", "alice", "elsewhere"},
	}
	best := make([]time.Duration, len(cases))
	for i := range best {
		best[i] = time.Hour
	}
	for range 7 {
		for i, c := range cases {
			start := time.Now()
			w := tokenCall(s, "192.0.2.10:5000", c.user, "wrong", c.domain)
			best[i] = min(best[i], time.Since(start))
			if w.Code != 401 {
				t.Fatalf("%s: HTTP %d %s, want 401", c.name, w.Code, w.Body)
			}
		}
	}
	for i, c := range cases[1:] {
		if ratio := float64(best[i+1]) / float64(best[0]); ratio < 0.25 || ratio > 4 {
			t.Errorf("%s refused in %v, a wrong password in %v (ratio %.2f), want about the same", c.name, best[i+1], best[0], ratio)
		}
	}
}
