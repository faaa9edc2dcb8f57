package auth

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"errors"
	"math/big"
	"sync"

	"github.com/emmansun/gmsm/sm2"
)

// sm2UID is the signer identity the SDK's SM2 signatures are made with
// (the GB/T 32918 default).
var sm2UID = []byte("1234567812345678")

// nMinusTwo is n-2 for a curve of order n, as 32 big-endian bytes.
func nMinusTwo(n *big.Int) [32]byte {
	var out [32]byte
	new(big.Int).Sub(n, big.NewInt(2)).FillBytes(out[:])
	return out
}

var (
	p256Limit = nMinusTwo(elliptic.P256().Params().N)
	sm2Limit  = nMinusTwo(sm2.P256().Params().N)
)

// derivePrivate is the SDK's counter-mode KDF: for counter 0..255 it takes
// c = HMAC_h(SK, 00000001 || alg || 00 || AK || counter || 00000100) as a
// big-endian integer, and the first c <= n-2 gives d = c+1.
func derivePrivate(alg string, h hashKind, ak, sk string, limit *[32]byte) ([32]byte, error) {
	msg := make([]byte, 0, 4+len(alg)+1+len(ak)+1+4)
	var scratch []byte
	for counter := 0; counter <= 0xff; counter++ {
		msg = msg[:0]
		msg = append(msg, 0, 0, 0, 1)
		msg = append(msg, alg...)
		msg = append(msg, 0)
		msg = append(msg, ak...)
		msg = append(msg, byte(counter))
		msg = append(msg, 0, 0, 1, 0)
		var c [digestSize]byte
		c, scratch = h.hmac(sk, msg, scratch)
		if bytes.Compare(c[:], limit[:]) <= 0 {
			// c+1 cannot overflow: c <= n-2 < 2^256-1.
			for i := len(c) - 1; i >= 0; i-- {
				c[i]++
				if c[i] != 0 {
					break
				}
			}
			return c, nil
		}
	}
	return [32]byte{}, errors.New("auth: key derivation found no candidate")
}

// publicKeyFor derives the public key the SDK signs with for the P-256 or
// SM2 scheme alg.
func publicKeyFor(a *signAlg, ak, sk string) (*ecdsa.PublicKey, error) {
	switch a.kind {
	case kindECDSA:
		d, err := derivePrivate(a.name, hashSHA256, ak, sk, &p256Limit)
		if err != nil {
			return nil, err
		}
		priv, err := ecdh.P256().NewPrivateKey(d[:])
		if err != nil {
			return nil, err
		}
		return ecdsa.ParseUncompressedPublicKey(elliptic.P256(), priv.PublicKey().Bytes())
	case kindSM2:
		d, err := derivePrivate(a.name, hashSM3, ak, sk, &sm2Limit)
		if err != nil {
			return nil, err
		}
		priv, err := sm2.NewPrivateKey(d[:])
		if err != nil {
			return nil, err
		}
		return &priv.PublicKey, nil
	}
	return nil, errors.New("auth: not an elliptic-curve scheme")
}

// keyCacheSize bounds the cache of derived public keys. When it is full an
// arbitrary entry makes room (Go's map iteration order is random).
const keyCacheSize = 4096

var keyCache = struct {
	sync.RWMutex
	m map[[32]byte]*ecdsa.PublicKey
}{m: make(map[[32]byte]*ecdsa.PublicKey)}

// cachedPublicKey returns publicKeyFor(a, ak, sk), deriving it at most
// once while it stays cached. The cache key is a hash of all three, so a
// rotated secret key never meets a stale public key, and no secret is
// kept in the clear.
func cachedPublicKey(a *signAlg, ak, sk string) (*ecdsa.PublicKey, error) {
	h := sha256.New()
	h.Write([]byte(a.name))
	h.Write([]byte{0})
	h.Write([]byte(ak))
	h.Write([]byte{0})
	h.Write([]byte(sk))
	var id [32]byte
	h.Sum(id[:0])

	keyCache.RLock()
	pub, ok := keyCache.m[id]
	keyCache.RUnlock()
	if ok {
		return pub, nil
	}
	pub, err := publicKeyFor(a, ak, sk)
	if err != nil {
		return nil, err
	}
	keyCache.Lock()
	if len(keyCache.m) >= keyCacheSize {
		for k := range keyCache.m {
			delete(keyCache.m, k)
			break
		}
	}
	keyCache.m[id] = pub
	keyCache.Unlock()
	return pub, nil
}
