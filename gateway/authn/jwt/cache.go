package jwt

import (
	"crypto/sha256"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"

	"github.com/portcullis/portcullis/internal/lazylru"
	"github.com/portcullis/portcullis/policy"
)

// maxCacheTTL bounds how long a verified token is cached.
const maxCacheTTL = 5 * time.Minute

// cached is a verified token. The identity is shared by every hit and
// must be treated as read-only.
type cached struct {
	id       *policy.Identity
	iss      *issuer
	validity validity
	deadline time.Time // min(exp, verification time + maxCacheTTL)
	// kid, alg and key are what verified the token: a hit is honoured only
	// while the issuer's key set still holds that very key.
	kid string
	alg jwa.SignatureAlgorithm
	key jwk.Key
	// held is the key set's memo of the last index found to hold key
	// (see jwks.Set.Holds).
	held atomic.Uint64
}

// tokenCache maps SHA-256(token) to its verified identity; the raw token
// is never stored. It is a size-bounded LRU with a deadline per entry:
// expirable.LRU has one TTL for all entries and starts a goroutine that is
// never stopped, which would leak one per config reload. A hit promotes an
// entry only once it has left the most recent half (see lazylru): a
// thousand clients' tokens in rotation are hits under a read lock.
type tokenCache struct {
	lru *lazylru.Cache[[32]byte, *cached]
}

// newTokenCache returns a cache of size entries, or nil when size < 1.
func newTokenCache(size int) (*tokenCache, error) {
	if size < 1 {
		return nil, nil
	}
	c, err := lazylru.New[[32]byte, *cached](size)
	if err != nil {
		return nil, err
	}
	return &tokenCache{lru: c}, nil
}

// cacheKey is SHA-256(token). The digest reads the token's bytes in place:
// []byte(token) copies a token of hundreds of bytes to the heap on every
// request (the compiler's copy-free conversion does not apply across the
// digest's calls), only to hash it. Sum256 never writes to its argument.
func cacheKey(token string) [32]byte {
	return sha256.Sum256(unsafe.Slice(unsafe.StringData(token), len(token)))
}

// get returns the entry for key unless its deadline has passed.
func (c *tokenCache) get(key [32]byte, now time.Time) (*cached, bool) {
	e, ok := c.lru.Get(key)
	if !ok {
		return nil, false
	}
	if !now.Before(e.deadline) {
		c.lru.Remove(key)
		return nil, false
	}
	return e, true
}

// keyHeld tells whether the key that verified e is still in its issuer's
// key set; if not (a refresh dropped its kid or changed its material), the
// entry is removed and the token must be verified again, which fails for a
// retired key. HMAC secrets change only with the config, which builds a new
// issuer and so misses the cache anyway.
func (c *tokenCache) keyHeld(key [32]byte, e *cached, now time.Time) bool {
	if e.iss.keys == nil || e.iss.keys.Holds(now, e.kid, e.alg, e.key, &e.held) {
		return true
	}
	c.lru.Remove(key)
	return false
}

// add caches e until min(exp, now+maxCacheTTL).
func (c *tokenCache) add(key [32]byte, e *cached, now time.Time) {
	e.deadline = now.Add(maxCacheTTL)
	if exp := e.validity.exp; !exp.IsZero() && exp.Before(e.deadline) {
		e.deadline = exp
	}
	c.lru.Add(key, e)
}
