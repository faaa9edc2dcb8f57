package auth

import (
	"strings"
	"testing"
	"time"
)

func TestPasswords(t *testing.T) {
	h, err := HashPassword("correct horse battery staple")
	if err != nil {
		t.Fatalf("HashPassword = %v", err)
	}
	if !strings.HasPrefix(h, "$pbkdf2-sha256$i=100000$") {
		t.Errorf("HashPassword = %q, want the $pbkdf2-sha256$i=100000$ form", h)
	}
	h2, _ := HashPassword("correct horse battery staple")
	if h == h2 {
		t.Errorf("HashPassword twice = %q both times, want different salts", h)
	}
	empty, _ := HashPassword("")
	// A cheap hash in the same format, so that the table runs fast.
	cheap := "$pbkdf2-sha256$i=1$c2FsdHNhbHRzYWx0c2FsdA$" + "dZ+JsE4YDTfnl0ePx6W9U3Rkw7fKsGSNY4xPxHhzNKc"
	tests := []struct {
		name, hash, pw string
		want           bool
	}{
		{"right", h, "correct horse battery staple", true},
		{"right, other salt", h2, "correct horse battery staple", true},
		{"wrong", h, "correct horse battery stapler", false},
		{"case", h, "Correct horse battery staple", false},
		{"empty password", empty, "", true},
		{"empty vs something", empty, "x", false},
		{"empty hash", "", "", false},
		{"garbage", "garbage", "x", false},
		{"other scheme", strings.Replace(h, "sha256", "sha1", 1), "correct horse battery staple", false},
		{"bad iterations", strings.Replace(h, "i=100000", "i=abc", 1), "correct horse battery staple", false},
		{"zero iterations", strings.Replace(h, "i=100000", "i=0", 1), "correct horse battery staple", false},
		{"huge iterations", strings.Replace(h, "i=100000", "i=99999999999", 1), "correct horse battery staple", false},
		{"changed iterations", strings.Replace(h, "i=100000", "i=100001", 1), "correct horse battery staple", false},
		{"extra field", h + "$x", "correct horse battery staple", false},
		{"truncated key", h[:len(h)-4], "correct horse battery staple", false},
		{"bad base64", strings.Replace(h, "$i=100000$", "$i=100000$!", 1), "correct horse battery staple", false},
		{"cheap wrong", cheap, "password", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := CheckPassword(tc.hash, tc.pw); got != tc.want {
				t.Errorf("CheckPassword(%q, %q) = %v, want %v", tc.hash, tc.pw, got, tc.want)
			}
		})
	}
}

// TestCheckNoUser checks that the path for a user who does not exist
// costs what a wrong password costs: the same PBKDF2 work, and about the
// same time.
func TestCheckNoUser(t *testing.T) {
	h, err := HashPassword("the real one")
	if err != nil {
		t.Fatal(err)
	}
	iter, salt, key, ok := parsePasswordHash(noUserHash)
	if !ok {
		t.Fatalf("parsePasswordHash(noUserHash %q) failed: CheckNoUser would skip the work", noUserHash)
	}
	hIter, hSalt, hKey, _ := parsePasswordHash(h)
	if iter != hIter || len(salt) != len(hSalt) || len(key) != len(hKey) {
		t.Errorf("noUserHash: %d iterations, %d-byte salt, %d-byte key; a stored hash has %d, %d, %d",
			iter, len(salt), len(key), hIter, len(hSalt), len(hKey))
	}
	if CheckNoUser("") || CheckNoUser("x") {
		t.Errorf("CheckNoUser = true, want false")
	}
	// The fastest of several interleaved runs of each, so that other
	// load on the machine does not decide the result; the bounds are
	// loose (other load on two cores shifts single runs by 2x), as
	// skipping the work makes the ratio near zero.
	wrong, none := time.Duration(1<<62), time.Duration(1<<62)
	for range 7 {
		start := time.Now()
		CheckPassword(h, "a wrong one")
		wrong = min(wrong, time.Since(start))
		start = time.Now()
		CheckNoUser("a wrong one")
		none = min(none, time.Since(start))
	}
	if ratio := float64(none) / float64(wrong); ratio < 0.25 || ratio > 4 {
		t.Errorf("CheckNoUser took %v, a wrong password %v (ratio %.2f), want about the same", none, wrong, ratio)
	}
}
