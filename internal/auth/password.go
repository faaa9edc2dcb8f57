package auth

import (
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"strconv"
	"strings"

	"github.com/openfgs/openfgs/internal/fgs"
)

// PasswordIterations is the PBKDF2 iteration count of new password hashes.
const PasswordIterations = 100_000

const (
	passwordPrefix  = "$pbkdf2-sha256$i="
	passwordSaltLen = 16
	passwordKeyLen  = 32
	maxIterations   = 10_000_000 // refuse to burn minutes on a corrupt hash
)

var b64 = base64.RawStdEncoding

// HashPassword returns a salted PBKDF2-HMAC-SHA256 hash of pw in the form
// $pbkdf2-sha256$i=<iterations>$<salt>$<key>, for CheckPassword.
func HashPassword(pw string) (string, error) {
	salt := make([]byte, passwordSaltLen)
	rand.Read(salt)
	key, err := pbkdf2.Key(sha256.New, pw, salt, PasswordIterations, passwordKeyLen)
	if err != nil {
		return "", fgs.E("auth.HashPassword", err)
	}
	return passwordPrefix + strconv.Itoa(PasswordIterations) + "$" +
		b64.EncodeToString(salt) + "$" + b64.EncodeToString(key), nil
}

// CheckPassword reports whether pw matches hash, a value from
// HashPassword. A malformed hash matches nothing.
func CheckPassword(hash, pw string) bool {
	iter, salt, want, ok := parsePasswordHash(hash)
	if !ok {
		return false
	}
	got, err := pbkdf2.Key(sha256.New, pw, salt, iter, len(want))
	if err != nil {
		return false
	}
	return subtle.ConstantTimeCompare(got, want) == 1
}

// noUserHash is a well-formed hash of the current cost that no password
// matches in practice (its key is all zero bytes).
var noUserHash = passwordPrefix + strconv.Itoa(PasswordIterations) + "$" +
	b64.EncodeToString(make([]byte, passwordSaltLen)) + "$" + b64.EncodeToString(make([]byte, passwordKeyLen))

// CheckNoUser spends the time CheckPassword spends on a stored hash and
// reports false. A server calls it when the user (or domain) asked for
// does not exist, so that how long the answer takes does not tell.
func CheckNoUser(pw string) bool {
	CheckPassword(noUserHash, pw)
	return false
}

// parsePasswordHash splits a HashPassword value.
func parsePasswordHash(hash string) (iter int, salt, key []byte, ok bool) {
	rest, ok := strings.CutPrefix(hash, passwordPrefix)
	if !ok {
		return 0, nil, nil, false
	}
	parts := strings.Split(rest, "$")
	if len(parts) != 3 {
		return 0, nil, nil, false
	}
	iter, err := strconv.Atoi(parts[0])
	if err != nil || iter < 1 || iter > maxIterations {
		return 0, nil, nil, false
	}
	salt, err = b64.Strict().DecodeString(parts[1])
	if err != nil || len(salt) == 0 {
		return 0, nil, nil, false
	}
	// The key length is fixed: a shorter one would be a prefix of the right
	// key and match, so a truncated hash must match nothing.
	key, err = b64.Strict().DecodeString(parts[2])
	if err != nil || len(key) != passwordKeyLen {
		return 0, nil, nil, false
	}
	return iter, salt, key, true
}
