package fgs

import (
	"encoding/binary"
	"encoding/hex"
	"math/rand/v2"
)

// NewID returns a random UUID-shaped ID (request IDs, function IDs). IDs
// are not secrets; math/rand/v2's generator (ChaCha8, seeded by the
// runtime) makes them unpredictable enough and costs no system call,
// which matters on the invocation path.
func NewID() string {
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:8], rand.Uint64())
	binary.LittleEndian.PutUint64(b[8:], rand.Uint64())
	var out [36]byte
	hex.Encode(out[0:8], b[0:4])
	out[8] = '-'
	hex.Encode(out[9:13], b[4:6])
	out[13] = '-'
	hex.Encode(out[14:18], b[6:8])
	out[18] = '-'
	hex.Encode(out[19:23], b[8:10])
	out[23] = '-'
	hex.Encode(out[24:], b[10:])
	return string(out[:])
}
