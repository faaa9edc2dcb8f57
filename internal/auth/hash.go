package auth

import (
	"crypto/sha256"
	"encoding/hex"
	"sync"

	"github.com/emmansun/gmsm/sm3"
)

// hashKind names the two digests the SDK signers use. Both have a 32-byte
// output and a 64-byte block, which the HMAC below relies on.
type hashKind uint8

const (
	hashSHA256 hashKind = iota
	hashSM3
)

const (
	digestSize = 32
	blockSize  = 64
)

func (h hashKind) sum(data []byte) [digestSize]byte {
	if h == hashSM3 {
		return sm3.Sum(data)
	}
	return sha256.Sum256(data)
}

// hmacSum computes HMAC (RFC 2104) of msg under key with h, using scratch
// as working space so that the hot path does not allocate. It returns the
// MAC and scratch, which may have grown.
func hmacSum[K string | []byte](h hashKind, key K, msg, scratch []byte) ([digestSize]byte, []byte) {
	var k [blockSize]byte
	if len(key) > blockSize {
		scratch = append(scratch[:0], key...)
		d := h.sum(scratch)
		copy(k[:], d[:])
	} else {
		copy(k[:], key)
	}
	scratch = scratch[:0]
	for _, b := range k {
		scratch = append(scratch, b^0x36)
	}
	scratch = append(scratch, msg...)
	inner := h.sum(scratch)
	scratch = scratch[:0]
	for _, b := range k {
		scratch = append(scratch, b^0x5c)
	}
	scratch = append(scratch, inner[:]...)
	return h.sum(scratch), scratch
}

// hmac is hmacSum with a string key.
func (h hashKind) hmac(key string, msg, scratch []byte) ([digestSize]byte, []byte) {
	return hmacSum(h, key, msg, scratch)
}

// v11Key derives the V11-HMAC-SHA256 signing key: the lower-case hex of
// HKDF-SHA256(secret = SK, salt = AK, info = scope, length 32) (RFC 5869;
// one expansion block suffices for 32 bytes). msg and scratch are
// working space, returned as they may have grown.
func v11Key(sk, ak, scope string, msg, scratch []byte) (key [2 * digestSize]byte, _, _ []byte) {
	msg = append(msg[:0], sk...)
	prk, scratch := hashSHA256.hmac(ak, msg, scratch) // an empty salt is the all-zero key either way
	msg = append(msg[:0], scope...)
	msg = append(msg, 1)
	okm, scratch := hmacSum(hashSHA256, prk[:], msg, scratch)
	hex.Encode(key[:], okm[:])
	return key, msg, scratch
}

// buffers is the per-request working memory of a verification, pooled.
type buffers struct {
	a, b, c []byte
}

// maxPooled keeps one unusually large request from pinning its buffers.
const maxPooled = 64 << 10

var bufPool = sync.Pool{New: func() any {
	return &buffers{a: make([]byte, 0, 1024), b: make([]byte, 0, 256), c: make([]byte, 0, 128)}
}}

func getBuffers() *buffers { return bufPool.Get().(*buffers) }

func putBuffers(b *buffers) {
	if cap(b.a) > maxPooled || cap(b.b) > maxPooled || cap(b.c) > maxPooled {
		return
	}
	b.a, b.b, b.c = b.a[:0], b.b[:0], b.c[:0]
	bufPool.Put(b)
}
