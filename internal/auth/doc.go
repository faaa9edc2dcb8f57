// Package auth verifies who a request comes from: SDK request signatures,
// IAM-style tokens, and passwords. It also mints the random identifiers
// and keys the rest of openfgs hands out.
//
// # Signatures
//
// [Verifier] checks the Authorization header that the Huawei Cloud SDKs
// put on every request. All five signing schemes of the Go SDK are
// understood:
//
//	SDK-HMAC-SHA256        HMAC-SHA256 keyed with the secret key (the default)
//	SDK-HMAC-SM3           the same with SM3
//	SDK-ECDSA-P256-SHA256  ECDSA on P-256 with a key derived from AK/SK
//	SDK-SM2-SM3            SM2 with SM3 and a key derived from AK/SK
//	V11-HMAC-SHA256        HMAC-SHA256 keyed with HKDF(SK, AK, date/region/service)
//
// The canonical request is rebuilt from the decoded URL path, the raw
// query, the signed headers (host comes from the request's Host) and the
// body, exactly as the SDK builds it. Beyond what the SDK itself checks,
// the verifier insists that X-Sdk-Date is signed and within MaxSkew of
// the server clock, that an X-Sdk-Content-Sha256 / X-Sdk-Content-Sm3
// header is signed and either says UNSIGNED-PAYLOAD or matches the body,
// and that a temporary credential's security token is sent, signed and
// current. The elliptic-curve schemes need d·G for a key d derived from
// the secret key; the public keys are cached per (scheme, AK, SK).
//
// [Verifier.Begin] does every check the headers allow, so that a server
// can refuse a request before it reads the body; [Pending.Finish] checks
// the signature over the body's digest once the body is in.
//
// Every verification failure is an [fgs.Error] of kind
// [fgs.Unauthorized] with code FSS.0401 and a message safe to send back.
//
// # Tokens
//
// [Tokens] issues and checks stateless IAM-style tokens for X-Auth-Token.
// A token is the ASCII string
//
//	"v1." + base64url(JSON claims) + "." + base64url(HMAC-SHA256(Key, "v1." + base64url(JSON claims)))
//
// with unpadded base64url. The JSON object holds the [Claims] fields
// (times as Unix seconds). The MAC covers the version and the payload, so
// neither can be altered without the key; expiry is part of the payload
// and is enforced by [Tokens.Verify].
//
// # Passwords
//
// [HashPassword] stores a password as
//
//	$pbkdf2-sha256$i=<iterations>$<base64 salt>$<base64 key>
//
// (standard base64 without padding, a 16-byte random salt, a 32-byte
// key). [CheckPassword] reads the iteration count from the hash, so the
// default can be raised later without invalidating stored hashes.
// [CheckNoUser] spends the same work when there is no user to check, and
// [Throttle] limits guessing per source address and per user.
package auth
