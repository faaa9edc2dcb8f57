package jsonstr

import (
	"encoding/json"
	"testing"
)

// Append must agree with encoding/json on every input: the invocation
// result is any text a function returns.
func FuzzAppend(f *testing.F) {
	for _, s := range []string{"", "plain", `{"a":"b\"c"}`, "tab\tnew\nline\r\b\f", "\x00\x01\x1f\x7f", "é 中文 🙂",
		"\u2028\u2029", "\xff\xfe bad utf8 \xc3", "<html>&amp;</html>", `back\slash`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, s []byte) {
		for _, got := range [][]byte{Append(nil, s), Append(nil, string(s))} {
			var back string
			if err := json.Unmarshal(got, &back); err != nil {
				t.Fatalf("Append(%q) = %s, not valid JSON: %v", s, got, err)
			}
			want, _ := json.Marshal(string(s))
			var wantBack string
			json.Unmarshal(want, &wantBack)
			if back != wantBack {
				t.Fatalf("Append(%q) decodes to %q, encoding/json's to %q", s, back, wantBack)
			}
		}
	})
}
