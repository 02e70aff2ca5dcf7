package jwks

import (
	"encoding/base64"
	"encoding/json"
	"math/big"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
)

// MinRSABits is the smallest RSA modulus accepted (NIST SP 800-131A
// disallows RSA-1024 signatures since 2013; issue 12, class 11). It is
// checked here and not left to the JOSE library's own floor, which is a
// process-wide setting that anything may lower.
const MinRSABits = 2048

// Reasons a key is left out of a key set: stable, snake_case metric labels.
const (
	// RejectRSATooSmall is an RSA key with a modulus under MinRSABits.
	RejectRSATooSmall = "rsa_too_small"
	// RejectRSAExponent is an RSA key with a public exponent under 3:
	// with e = 1 a signature is its own message, anyone can forge one.
	RejectRSAExponent = "rsa_exponent_invalid"
	// RejectCurveUnsupported is an EC or OKP key on a curve no allowed
	// algorithm uses (e.g. P-192, secp256k1, X25519, Ed448).
	RejectCurveUnsupported = "curve_unsupported"
	// RejectSymmetric is an HMAC secret in a key set: a published secret
	// is no secret, so it never verifies anything.
	RejectSymmetric = "symmetric"
	// RejectUnsupported is an entry of an unknown key type or one that
	// does not parse (RFC 7517 §5: ignore it, keep the rest).
	RejectUnsupported = "unsupported"
)

// Rejection is a key left out of a key set and why. It holds no key
// material, so it may be logged.
type Rejection struct {
	Source string // key file it came from, "" for a fetched document
	Index  int    // position in its document
	KID    string // "" when the key has none
	Reason string // one of the Reject* constants
	Bits   int    // RSA modulus size, 0 when not RSA or unknown
}

// Refuse tells whether key must be left out of a key set, and why. Keys
// that Usable would accept for some allowed algorithm are kept; Index of
// the returned Rejection is left for the caller.
func Refuse(key jwk.Key) (Rejection, bool) {
	r := Rejection{}
	r.KID, _ = key.KeyID()
	if jwk.IsUnsupportedKey(key) {
		// The entry did not parse: an RSA key under the JOSE library's own
		// 2048-bit floor lands here, as does an unknown curve or kty.
		r.Reason, r.Bits = classifyRaw(key)
		return r, true
	}
	switch key.KeyType() {
	case jwa.OctetSeq():
		r.Reason = RejectSymmetric
	case jwa.RSA():
		var e []byte
		r.Bits, e = rsaParams(key)
		switch {
		case r.Bits < MinRSABits:
			r.Reason = RejectRSATooSmall
		case new(big.Int).SetBytes(e).Cmp(big.NewInt(3)) < 0:
			r.Reason = RejectRSAExponent
		}
	case jwa.EC():
		var crv jwa.EllipticCurveAlgorithm
		if key.Get(jwk.ECDSACrvKey, &crv) != nil || (crv != jwa.P256() && crv != jwa.P384() && crv != jwa.P521()) {
			r.Reason = RejectCurveUnsupported
		}
	case jwa.OKP():
		var crv jwa.EllipticCurveAlgorithm
		if key.Get(jwk.OKPCrvKey, &crv) != nil || crv != jwa.Ed25519() {
			r.Reason = RejectCurveUnsupported
		}
	default:
		r.Reason = RejectUnsupported
	}
	return r, r.Reason != ""
}

// rsaParams returns the modulus size and the public exponent of an RSA
// key (0 and nil for what it lacks).
func rsaParams(key jwk.Key) (int, []byte) {
	k, ok := key.(interface {
		N() ([]byte, bool)
		E() ([]byte, bool)
	})
	if !ok {
		return 0, nil
	}
	n, _ := k.N()
	e, _ := k.E()
	return new(big.Int).SetBytes(n).BitLen(), e
}

// rawEntry holds the members of an unparsed entry that classifying it
// needs, read from its own JSON (the placeholder keeps it).
type rawEntry struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	N   string `json:"n"`
	E   string `json:"e"`
	Use string `json:"use"`
}

func rawMembers(key jwk.Key) (rawEntry, bool) {
	var m rawEntry
	raw, err := json.Marshal(key)
	if err != nil || json.Unmarshal(raw, &m) != nil {
		return m, false
	}
	return m, true
}

// forSignature tells whether key is not meant for another use than
// signatures: keys for encryption are dropped without being refused.
func forSignature(key jwk.Key) bool {
	u, ok := key.KeyUsage()
	if jwk.IsUnsupportedKey(key) {
		m, _ := rawMembers(key)
		u, ok = m.Use, m.Use != ""
	}
	return !ok || u == jwk.ForSignature.String()
}

// classifyRaw names why an unparsed entry was refused. Only kty, crv, e
// and the length of n are read.
func classifyRaw(key jwk.Key) (reason string, bits int) {
	m, ok := rawMembers(key)
	if !ok {
		return RejectUnsupported, 0
	}
	switch m.Kty {
	case "oct":
		return RejectSymmetric, 0
	case "RSA":
		n, err := base64.RawURLEncoding.DecodeString(m.N)
		if err != nil || len(n) == 0 {
			return RejectUnsupported, 0
		}
		if bits := new(big.Int).SetBytes(n).BitLen(); bits < MinRSABits {
			return RejectRSATooSmall, bits
		}
		if e, err := base64.RawURLEncoding.DecodeString(m.E); err == nil && new(big.Int).SetBytes(e).Cmp(big.NewInt(3)) < 0 {
			return RejectRSAExponent, 0
		}
	case "EC":
		if m.Crv != "P-256" && m.Crv != "P-384" && m.Crv != "P-521" {
			return RejectCurveUnsupported, 0
		}
	case "OKP":
		if m.Crv != "Ed25519" {
			return RejectCurveUnsupported, 0
		}
	}
	return RejectUnsupported, 0
}
