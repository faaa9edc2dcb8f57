package auth

import (
	"net/http"
	"net/textproto"
	"net/url"
	"slices"
	"strings"
)

const upperHex = "0123456789ABCDEF"

// unreserved reports whether the SDK leaves c as it is when escaping.
func unreserved(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
		c == '-' || c == '_' || c == '.' || c == '~'
}

// appendEscaped appends s with every byte outside A-Z a-z 0-9 - _ . ~
// written as %XX (upper-case hex).
func appendEscaped(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if unreserved(c) {
			dst = append(dst, c)
		} else {
			dst = append(dst, '%', upperHex[c>>4], upperHex[c&15])
		}
	}
	return dst
}

// appendURI appends the canonical form of the decoded path: every
// segment escaped, '/' kept between them, and a '/' at the end.
func appendURI(dst []byte, path string) []byte {
	for i := 0; i < len(path); i++ {
		c := path[i]
		switch {
		case c == '/' || unreserved(c):
			dst = append(dst, c)
		default:
			dst = append(dst, '%', upperHex[c>>4], upperHex[c&15])
		}
	}
	if len(dst) == 0 || dst[len(dst)-1] != '/' {
		dst = append(dst, '/')
	}
	return dst
}

type queryPair struct{ k, v string }

func comparePairs(a, b queryPair) int {
	if c := strings.Compare(a.k, b.k); c != 0 {
		return c
	}
	return strings.Compare(a.v, b.v)
}

// appendQuery appends the canonical query: the decoded parameters sorted
// by key and then value, each written esc(key)=esc(value), joined by '&'.
// A bare key has the empty value. It reports false for a query that does
// not decode (a bad escape or a ';' separator), which the SDK never sends.
func appendQuery(dst []byte, raw string) ([]byte, bool) {
	if raw == "" {
		return dst, true
	}
	var stack [16]queryPair
	pairs := stack[:0]
	for raw != "" {
		var kv string
		kv, raw, _ = strings.Cut(raw, "&")
		if kv == "" {
			continue
		}
		if strings.IndexByte(kv, ';') >= 0 {
			return dst, false
		}
		k, v, _ := strings.Cut(kv, "=")
		k, err := unescapeQuery(k)
		if err != nil {
			return dst, false
		}
		v, err = unescapeQuery(v)
		if err != nil {
			return dst, false
		}
		pairs = append(pairs, queryPair{k, v})
	}
	slices.SortFunc(pairs, comparePairs)
	for i, p := range pairs {
		if i > 0 {
			dst = append(dst, '&')
		}
		dst = appendEscaped(dst, p.k)
		dst = append(dst, '=')
		dst = appendEscaped(dst, p.v)
	}
	return dst, true
}

// unescapeQuery decodes like url.QueryUnescape, without allocating when
// there is nothing to decode.
func unescapeQuery(s string) (string, error) {
	if strings.IndexByte(s, '%') < 0 && strings.IndexByte(s, '+') < 0 {
		return s, nil
	}
	return url.QueryUnescape(s)
}

// headerKey returns the key under which net/http stores the header with
// the lower-case name. The names the SDK signs are spelled out so that
// the common case does not allocate.
func headerKey(name string) string {
	switch name {
	case "user-agent":
		return "User-Agent"
	case "x-project-id":
		return "X-Project-Id"
	case "x-sdk-date":
		return "X-Sdk-Date"
	case "x-security-token":
		return "X-Security-Token"
	case "x-sdk-content-sha256":
		return "X-Sdk-Content-Sha256"
	case "x-sdk-content-sm3":
		return "X-Sdk-Content-Sm3"
	case "x-cff-log-type":
		return "X-Cff-Log-Type"
	case "x-cff-request-version":
		return "X-Cff-Request-Version"
	case "x-cff-instance-memory":
		return "X-Cff-Instance-Memory"
	case "x-domain-id":
		return "X-Domain-Id"
	case "content-type":
		return "Content-Type"
	case "content-length":
		return "Content-Length"
	case "accept":
		return "Accept"
	}
	return textproto.CanonicalMIMEHeaderKey(name)
}

// appendHeaders appends one "name:value\n" line per value of each signed
// header, in the order signed lists them; several values are sorted and
// every value is trimmed. host is the request's Host. A signed header the
// request does not carry contributes no line, as in the SDK.
func appendHeaders(dst []byte, r *http.Request, signed string) []byte {
	for rest := signed; rest != ""; {
		var name string
		name, rest, _ = strings.Cut(rest, ";")
		if name == "host" {
			dst = appendHeaderLine(dst, name, r.Host)
			continue
		}
		vals := r.Header[headerKey(name)]
		if len(vals) > 1 {
			vals = slices.Clone(vals)
			slices.Sort(vals)
		}
		for _, v := range vals {
			dst = appendHeaderLine(dst, name, v)
		}
	}
	return dst
}

func appendHeaderLine(dst []byte, name, value string) []byte {
	dst = append(dst, name...)
	dst = append(dst, ':')
	dst = append(dst, strings.TrimSpace(value)...)
	return append(dst, '\n')
}
