package jwks

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
)

// keySet is an immutable index of verification keys, built once per fetch.
type keySet struct {
	byKID     map[string][]jwk.Key
	all       []jwk.Key
	byIdent   map[string]jwk.Key // public JWK JSON -> key, to reuse unchanged keys
	digest    [32]byte           // SHA-256 of the document, zero for fallback keys
	fetchedAt time.Time
	// gen names the index's contents: an unchanged document's fresher copy
	// keeps it, any other new index gets the next one (never 0), so equal
	// gens mean equal keys (see Set.Holds).
	gen uint64
}

// gens numbers the indexes of every Set.
var gens atomic.Uint64

// errNoKeys is returned when a document holds no key usable for signatures.
var errNoKeys = errors.New("no signature verification keys")

// newKeySet indexes the public form of every asymmetric signing key in src
// and returns the keys it refused (see [Refuse]). Keys meant for
// encryption are dropped without a word: a JWKS may rightly carry them.
// A key whose public JWK is unchanged from prev keeps prev's key object,
// so that a verified-token cache can tell an unchanged key by identity.
func newKeySet(src jwk.Set, at time.Time, prev *keySet) (*keySet, []Rejection, error) {
	ks := &keySet{byKID: make(map[string][]jwk.Key, src.Len()), byIdent: make(map[string]jwk.Key, src.Len()), fetchedAt: at, gen: gens.Add(1)}
	var rejected []Rejection
	for i := range src.Len() {
		k, ok := src.Key(i)
		if !ok {
			continue
		}
		if !forSignature(k) {
			continue
		}
		if r, refused := Refuse(k); refused {
			r.Index = i
			rejected = append(rejected, r)
			continue
		}
		pub, err := k.PublicKey()
		if err != nil {
			return nil, nil, fmt.Errorf("public key %d: %w", i, err)
		}
		ident, err := json.Marshal(pub)
		if err != nil {
			return nil, nil, fmt.Errorf("public key %d: %w", i, err)
		}
		if old, ok := prev.reuse(string(ident)); ok {
			pub = old
		}
		ks.byIdent[string(ident)] = pub
		ks.all = append(ks.all, pub)
		if kid, ok := pub.KeyID(); ok && kid != "" {
			ks.byKID[kid] = append(ks.byKID[kid], pub)
		}
	}
	if len(ks.all) == 0 {
		return nil, rejected, errNoKeys
	}
	return ks, rejected, nil
}

// reuse returns prev's key with the same public JWK, if any. A nil
// receiver has none.
func (ks *keySet) reuse(ident string) (jwk.Key, bool) {
	if ks == nil {
		return nil, false
	}
	k, ok := ks.byIdent[ident]
	return k, ok
}

// find returns the key for kid, preferring one usable for alg. With an empty
// kid it returns the only key usable for alg, if there is exactly one.
func (ks *keySet) find(kid string, alg jwa.SignatureAlgorithm) (jwk.Key, bool) {
	if kid == "" {
		var found jwk.Key
		for _, k := range ks.all {
			if Usable(k, alg) {
				if found != nil {
					return nil, false
				}
				found = k
			}
		}
		return found, found != nil
	}
	keys := ks.byKID[kid]
	if len(keys) == 0 {
		return nil, false
	}
	for _, k := range keys {
		if Usable(k, alg) {
			return k, true
		}
	}
	// The caller checks Usable and reports the mismatch; the kid is known,
	// so this must not count as an unknown kid and force a refetch.
	return keys[0], true
}
