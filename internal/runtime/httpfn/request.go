package httpfn

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/openfgs/openfgs/internal/runtime"
)

// apigEvent is the part of an APIG event that describes the request.
type apigEvent struct {
	HTTPMethod      *string  `json:"httpMethod"`
	Path            string   `json:"path"`
	Query           valueMap `json:"queryStringParameters"`
	Headers         valueMap `json:"headers"`
	Body            *string  `json:"body"`
	IsBase64Encoded bool     `json:"isBase64Encoded"`
}

// valueMap is a JSON object whose values are strings, or numbers,
// booleans or arrays of them (each array element one value).
type valueMap map[string][]string

func (m *valueMap) UnmarshalJSON(b []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	out := make(valueMap, len(raw))
	for k, v := range raw {
		var list []json.RawMessage
		if json.Unmarshal(v, &list) != nil {
			list = []json.RawMessage{v}
		}
		for _, item := range list {
			var s string
			switch {
			case json.Unmarshal(item, &s) == nil:
			case string(item) == "null":
				continue
			default:
				s = string(item)
			}
			out[k] = append(out[k], s)
		}
	}
	*m = out
	return nil
}

// hopHeaders are not copied from an event's headers: the connection to
// the function's server is not the caller's.
var hopHeaders = map[string]bool{
	"Connection": true, "Keep-Alive": true, "Proxy-Connection": true, "Transfer-Encoding": true,
	"Upgrade": true, "Te": true, "Trailer": true, "Content-Length": true, "Host": true,
}

// reqSpec is the HTTP request of an invocation, to be built per attempt.
type reqSpec struct {
	method string
	url    *url.URL
	host   string
	header http.Header
	body   []byte
}

func (s *reqSpec) build(ctx context.Context) (*http.Request, error) {
	var body io.Reader = http.NoBody
	if len(s.body) > 0 {
		body = bytes.NewReader(s.body)
	}
	req, err := http.NewRequestWithContext(ctx, s.method, s.url.String(), body)
	if err != nil {
		return nil, err
	}
	req.Host = s.host
	req.Header = s.header.Clone()
	req.ContentLength = int64(len(s.body))
	return req, nil
}

// requestOf is the request inv becomes: the one an APIG event describes,
// or a POST of the event to /. fixed holds the function's headers.
func requestOf(inv *runtime.Invocation, fixed http.Header) (*reqSpec, *runtime.FuncError) {
	s := &reqSpec{
		method: http.MethodPost,
		url:    &url.URL{Scheme: "http", Host: "127.0.0.1:" + strconv.Itoa(Port), Path: "/"},
		host:   "127.0.0.1:" + strconv.Itoa(Port),
		header: make(http.Header, len(fixed)+len(inv.Headers)+8),
		body:   inv.Event,
	}
	if ev, ok := apigOf(inv.Event); ok {
		if err := s.fromAPIG(ev); err != nil {
			return nil, err
		}
	} else {
		s.header.Set("Content-Type", "application/json")
	}
	for k, v := range inv.Headers {
		s.header.Set(k, v)
	}
	for k, v := range fixed {
		s.header[k] = v
	}
	s.header.Set("X-Cff-Request-Id", inv.RequestID)
	return s, nil
}

// apigOf decodes event when it is an APIG event.
func apigOf(event []byte) (*apigEvent, bool) {
	b := bytes.TrimLeft(event, " \t\r\n")
	if len(b) == 0 || b[0] != '{' || !bytes.Contains(b, []byte(`"httpMethod"`)) {
		return nil, false
	}
	var ev apigEvent
	if err := json.Unmarshal(b, &ev); err != nil || ev.HTTPMethod == nil || *ev.HTTPMethod == "" {
		return nil, false
	}
	return &ev, true
}

func (s *reqSpec) fromAPIG(ev *apigEvent) *runtime.FuncError {
	bad := func(msg string) *runtime.FuncError {
		return &runtime.FuncError{Code: runtime.ErrInvocation, Type: "InvalidEvent", Message: "invalid APIG event: " + msg}
	}
	s.method = strings.ToUpper(*ev.HTTPMethod)
	if !validMethod(s.method) {
		return bad("httpMethod " + strconv.Quote(*ev.HTTPMethod))
	}
	p := ev.Path
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	raw := escapePath(p)
	if dec, err := url.PathUnescape(raw); err == nil {
		s.url.Path, s.url.RawPath = dec, raw
	} else {
		s.url.Path = p
	}
	q := url.Values{}
	for k, vs := range ev.Query {
		q[k] = vs
	}
	s.url.RawQuery = q.Encode()
	keys := make([]string, 0, len(ev.Headers))
	for k := range ev.Headers {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		ck := http.CanonicalHeaderKey(k)
		if ck == "Host" && len(ev.Headers[k]) > 0 {
			s.host = ev.Headers[k][0]
		}
		if hopHeaders[ck] || !validHeaderName(k) {
			continue
		}
		for _, v := range ev.Headers[k] {
			s.header.Add(ck, strings.Map(dropCtl, v))
		}
	}
	s.body = nil
	if ev.Body != nil {
		s.body = []byte(*ev.Body)
		if ev.IsBase64Encoded {
			b, err := decodeBase64(*ev.Body)
			if err != nil {
				return bad("body is not base64 though isBase64Encoded is true")
			}
			s.body = b
		}
	}
	return nil
}

// escapePath percent-encodes what may not stand in a URL path as is,
// keeping the escapes p already has (%2F stays %2F).
func escapePath(p string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '%' && i+2 < len(p) && isHex(p[i+1]) && isHex(p[i+2]):
			b.WriteByte(c)
		case c > ' ' && c < 0x7f && !strings.ContainsRune("%\"?#<>^`{|}", rune(c)):
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
	}
	return b.String()
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func decodeBase64(s string) ([]byte, error) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, nil
		}
	}
	return nil, base64.CorruptInputError(0)
}

func validMethod(m string) bool {
	return m != "" && strings.IndexFunc(m, func(r rune) bool { return !isTokenChar(r) }) < 0
}

func validHeaderName(k string) bool {
	return k != "" && strings.IndexFunc(k, func(r rune) bool { return !isTokenChar(r) }) < 0
}

func isTokenChar(r rune) bool {
	return r < 127 && r > 32 && !strings.ContainsRune(`"(),/:;<=>?@[\]{}`, r)
}

// dropCtl removes CR, LF and NUL from header values.
func dropCtl(r rune) rune {
	if r == '\r' || r == '\n' || r == 0 {
		return -1
	}
	return r
}

// marshalResult encodes r without HTML escaping.
func marshalResult(r result) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(r); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}
