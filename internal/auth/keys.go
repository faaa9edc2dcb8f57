package auth

import (
	"crypto/rand"
	"encoding/hex"
)

const (
	upperAlnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	alnum      = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
)

// randomString returns n characters drawn uniformly from alphabet
// (at most 256 characters) with crypto/rand.
func randomString(alphabet string, n int) string {
	// Bytes at or above limit are thrown away so that every character is
	// equally likely.
	limit := 256 - 256%len(alphabet)
	out := make([]byte, 0, n)
	var buf [64]byte
	for len(out) < n {
		rand.Read(buf[:])
		for _, b := range buf {
			if int(b) < limit && len(out) < n {
				out = append(out, alphabet[int(b)%len(alphabet)])
			}
		}
	}
	return string(out)
}

// GenerateAccessKey returns a new access key: 20 upper-case letters and
// digits, like a Huawei Cloud AK.
func GenerateAccessKey() string { return randomString(upperAlnum, 20) }

// GenerateSecretKey returns a new secret key: 40 letters and digits.
func GenerateSecretKey() string { return randomString(alnum, 40) }

// GenerateID returns a new identifier: 32 lower-case hex digits (128
// random bits), like a Huawei Cloud project or domain id.
func GenerateID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
