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
	rest, ok := strings.CutPrefix(hash, passwordPrefix)
	if !ok {
		return false
	}
	parts := strings.Split(rest, "$")
	if len(parts) != 3 {
		return false
	}
	iter, err := strconv.Atoi(parts[0])
	if err != nil || iter < 1 || iter > maxIterations {
		return false
	}
	salt, err := b64.Strict().DecodeString(parts[1])
	if err != nil || len(salt) == 0 {
		return false
	}
	// The key length is fixed: a shorter one would be a prefix of the right
	// key and match, so a truncated hash must match nothing.
	want, err := b64.Strict().DecodeString(parts[2])
	if err != nil || len(want) != passwordKeyLen {
		return false
	}
	got, err := pbkdf2.Key(sha256.New, pw, salt, iter, len(want))
	if err != nil {
		return false
	}
	return subtle.ConstantTimeCompare(got, want) == 1
}
