package ratelimit

import (
	"context"
	"time"
)

// Store keeps the counters of rate limits and of authentication failures.
// Keys are digests ([Key]), never raw values; ns names the limit whose
// bucket it is, so two limits never share one.
type Store interface {
	// Take takes one request from the bucket of key under limit ns.
	Take(ctx context.Context, ns string, key Digest, s Spec) (Result, error)
	// Fail counts one authentication failure of key; when that makes max
	// within window, key is blocked for blockFor and Fail returns true.
	Fail(ctx context.Context, key Digest, max int, window, blockFor time.Duration) (bool, error)
	// Blocked is how long key stays blocked; 0 when it is not.
	Blocked(ctx context.Context, key Digest) (time.Duration, error)
}
