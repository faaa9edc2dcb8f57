package auth

import (
	"strings"
	"testing"
)

func TestGenerators(t *testing.T) {
	tests := []struct {
		name     string
		gen      func() string
		n        int
		alphabet string
	}{
		{"GenerateAccessKey", GenerateAccessKey, 20, upperAlnum},
		{"GenerateSecretKey", GenerateSecretKey, 40, alnum},
		{"GenerateID", GenerateID, 32, "0123456789abcdef"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			seen := map[string]bool{}
			used := map[rune]bool{}
			for range 200 {
				s := tc.gen()
				if len(s) != tc.n || strings.Trim(s, tc.alphabet) != "" {
					t.Fatalf("%s() = %q, want %d characters from %q", tc.name, s, tc.n, tc.alphabet)
				}
				if seen[s] {
					t.Fatalf("%s() repeated %q", tc.name, s)
				}
				seen[s] = true
				for _, c := range s {
					used[c] = true
				}
			}
			// 200 draws of 20+ characters use the whole alphabet unless
			// something is badly skewed.
			if len(used) != len(tc.alphabet) {
				t.Errorf("%s() used %d of %d characters", tc.name, len(used), len(tc.alphabet))
			}
		})
	}
}
