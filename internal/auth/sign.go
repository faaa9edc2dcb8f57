package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"sort"
	"strings"
	"time"
)

// Sign signs r with SDK-HMAC-SHA256 as the official SDK does: it sets
// X-Sdk-Date to date and signs every header r carries except Host,
// Content-Type, Content-Length and names containing '_'. body must be
// the exact bytes r will send. openfgs's own clients (the bench command)
// use it; the server only verifies.
func Sign(r *http.Request, body []byte, accessKey, secretKey string, date time.Time) {
	r.Header.Set(headerDate, date.UTC().Format(dateLayout))
	var names []string
	for k := range r.Header {
		lk := strings.ToLower(k)
		if lk == "authorization" || lk == "content-length" || strings.HasPrefix(lk, "content-type") || strings.Contains(lk, "_") {
			continue
		}
		names = append(names, lk)
	}
	sort.Strings(names)
	signed := strings.Join(names, ";")

	cr := []byte(r.Method + "\n")
	cr = appendURI(cr, r.URL.Path)
	cr = append(cr, '\n')
	cr, _ = appendQuery(cr, r.URL.RawQuery)
	cr = append(cr, '\n')
	cr = appendHeaders(cr, r, signed)
	cr = append(cr, '\n')
	cr = append(cr, signed...)
	cr = append(cr, '\n')
	sum := sha256.Sum256(body)
	cr = hex.AppendEncode(cr, sum[:])
	crSum := sha256.Sum256(cr)

	sts := "SDK-HMAC-SHA256\n" + r.Header.Get(headerDate) + "\n" + hex.EncodeToString(crSum[:])
	mac := hmac.New(sha256.New, []byte(secretKey))
	mac.Write([]byte(sts))
	r.Header.Set(headerAuthorization, "SDK-HMAC-SHA256 Access="+accessKey+", SignedHeaders="+signed+", Signature="+hex.EncodeToString(mac.Sum(nil)))
}
