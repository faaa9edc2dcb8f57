package api

import (
	"encoding/json"
	"testing"
)

// appendJSONString must agree with encoding/json (without HTML escaping)
// on every input: the invocation result is any text a function returns.
func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "plain", `{"a":"b\"c"}`, "tab\tnew\nline\r", "\x00\x01\x1f\x7f", "é 中文 🙂",
		"\u2028\u2029", "\xff\xfe bad utf8 \xc3", "<html>&amp;</html>", `back\slash`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, s []byte) {
		got := appendJSONString(nil, s)
		var back string
		if err := json.Unmarshal(got, &back); err != nil {
			t.Fatalf("appendJSONString(%q) = %s, not valid JSON: %v", s, got, err)
		}
		want, _ := json.Marshal(string(s))
		var wantBack string
		json.Unmarshal(want, &wantBack)
		if back != wantBack {
			t.Fatalf("appendJSONString(%q) decodes to %q, encoding/json's to %q", s, back, wantBack)
		}
	})
}

func TestInvokeBody(t *testing.T) {
	b := invokeBody("id-1", []byte(`{"k":"v"}`), []byte("line\n"), 200)
	var got struct {
		RequestID string `json:"request_id"`
		Result    string `json:"result"`
		Log       string `json:"log"`
		Status    int    `json:"status"`
	}
	if err := json.Unmarshal(b, &got); err != nil || got.RequestID != "id-1" || got.Result != `{"k":"v"}` || got.Log != "line\n" || got.Status != 200 {
		t.Fatalf("invokeBody = %s (%+v, %v)", b, got, err)
	}
}
