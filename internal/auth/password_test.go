package auth

import (
	"strings"
	"testing"
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
