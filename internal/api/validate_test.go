package api

import (
	"testing"

	"github.com/openfgs/openfgs/internal/fgs"
)

func TestValidateUserData(t *testing.T) {
	for _, tc := range []struct {
		in   string
		code string // "" = accepted
	}{
		{``, ""},
		{`{"A":"1","B":""}`, ""},
		{`{"A":"x\u0000y"}`, "FSS.1009"}, // an environment variable cannot hold a NUL
		{`{"A\u0000":"x"}`, "FSS.1009"},
		{`{"A=B":"x"}`, "FSS.1009"},
		{`{"":"x"}`, "FSS.1009"},
		{"{\"A\":\"x\"}\x00", "FSS.1009"},
		{`["A"]`, "FSS.1009"},
	} {
		err := validateUserData("user_data", tc.in)
		if got := fgs.CodeOf(err); got != tc.code {
			t.Errorf("validateUserData(%q) = %v, want code %q", tc.in, err, tc.code)
		}
	}
}
