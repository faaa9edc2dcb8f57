package httpfn

import (
	"context"
	"io"
	"net/http"
	"testing"

	"github.com/openfgs/openfgs/internal/runtime"
)

func build(t *testing.T, event string, headers map[string]string) (*http.Request, string, *runtime.FuncError) {
	t.Helper()
	fixed := http.Header{"X-Cff-Func-Name": {"web"}}
	s, fe := requestOf(&runtime.Invocation{RequestID: "rid", Event: []byte(event), Headers: headers}, fixed)
	if fe != nil {
		return nil, "", fe
	}
	req, err := s.build(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(req.Body)
	return req, string(body), nil
}

func TestRequestOf(t *testing.T) {
	cases := []struct {
		name, event             string
		method, url, host, body string
		header                  map[string][]string
		noHeader                []string
		invHeaders              map[string]string
	}{
		{
			name:   "plain",
			event:  `{"name":"x"}`,
			method: "POST", url: "http://127.0.0.1:8000/", host: "127.0.0.1:8000", body: `{"name":"x"}`,
			header: map[string][]string{"Content-Type": {"application/json"}, "X-Cff-Request-Id": {"rid"}, "X-Cff-Func-Name": {"web"}},
		},
		{
			name:   "not an object",
			event:  `"httpMethod"`,
			method: "POST", url: "http://127.0.0.1:8000/", host: "127.0.0.1:8000", body: `"httpMethod"`,
		},
		{
			name:   "empty method",
			event:  `{"httpMethod":"","path":"/x"}`,
			method: "POST", url: "http://127.0.0.1:8000/", host: "127.0.0.1:8000", body: `{"httpMethod":"","path":"/x"}`,
		},
		{
			name:   "apig",
			event:  `{"httpMethod":"get","path":"a/b","queryStringParameters":{"n":1,"list":["x","y"],"nil":null},"headers":{"X-Num":5,"host":"h.example","content-length":"99","bad name":"x"},"body":"aGk","isBase64Encoded":true}`,
			method: "GET", url: "http://127.0.0.1:8000/a/b?list=x&list=y&n=1", host: "h.example", body: "hi",
			header:   map[string][]string{"X-Num": {"5"}},
			noHeader: []string{"Content-Type", "Content-Length", "Host"},
		},
		{
			name:   "escaped path, raw body",
			event:  `{"httpMethod":"POST","path":"/a%2Fb c/é?#%zz","body":"raw","isBase64Encoded":false}`,
			method: "POST", url: "http://127.0.0.1:8000/a%2Fb%20c/%C3%A9%3F%23%25zz", host: "127.0.0.1:8000", body: "raw",
		},
		{
			name:       "context headers cannot replace the request id",
			event:      `{"httpMethod":"GET","path":"/","headers":{"x-cff-request-id":"spoof"}}`,
			invHeaders: map[string]string{"X-CFF-Request-Id": "spoof2", "X-CFF-Auth-Token": "tok", "X-Cff-Func-Name": "spoof3"},
			method:     "GET", url: "http://127.0.0.1:8000/", host: "127.0.0.1:8000",
			header: map[string][]string{"X-Cff-Request-Id": {"rid"}, "X-Cff-Auth-Token": {"tok"}, "X-Cff-Func-Name": {"web"}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, body, fe := build(t, tc.event, tc.invHeaders)
			if fe != nil {
				t.Fatal(fe)
			}
			if req.Method != tc.method || req.URL.String() != tc.url || req.Host != tc.host || body != tc.body {
				t.Errorf("got %s %s host %s body %q", req.Method, req.URL, req.Host, body)
			}
			if req.ContentLength != int64(len(tc.body)) {
				t.Errorf("ContentLength = %d", req.ContentLength)
			}
			for k, v := range tc.header {
				if got := req.Header.Values(k); len(got) != len(v) || (len(v) > 0 && got[0] != v[0]) {
					t.Errorf("header %s = %q, want %q", k, got, v)
				}
			}
			for _, k := range tc.noHeader {
				if v, ok := req.Header[k]; ok {
					t.Errorf("header %s = %q, want none", k, v)
				}
			}
		})
	}
}

func TestRequestOfBadEvents(t *testing.T) {
	for _, event := range []string{
		`{"httpMethod":"GE T","path":"/"}`,
		`{"httpMethod":"GET","path":"/","body":"***","isBase64Encoded":true}`,
	} {
		if _, _, fe := build(t, event, nil); fe == nil || fe.Code != runtime.ErrInvocation || fe.Type != "InvalidEvent" {
			t.Errorf("%s: %v, want an InvalidEvent error", event, fe)
		}
	}
}

func TestMarshalResult(t *testing.T) {
	b, err := marshalResult(result{Body: "PGE+", Headers: map[string][]string{"B": {"<2>"}, "A": {"1"}}, StatusCode: 200, IsBase64Encoded: true})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"body":"PGE+","headers":{"A":["1"],"B":["<2>"]},"statusCode":200,"isBase64Encoded":true}`; string(b) != want {
		t.Errorf("got %s, want %s", b, want)
	}
}
