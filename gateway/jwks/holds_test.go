package jwks_test

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"

	"github.com/portcullis/portcullis/gateway/internal/gwtest"
)

// TestHoldsMemo: the memo is kept across a refresh of an unchanged
// document, renewed by a changed one that still holds the key, and never
// answers for an index that dropped the key.
func TestHoldsMemo(t *testing.T) {
	t.Parallel()
	old, next, other := gwtest.NewECKey(t), gwtest.NewECKey(t), gwtest.NewECKey(t)
	f := newFixture(t, nil, old)
	kid := kidOf(t, old)
	key, err := f.lookup(t, kid, jwa.ES256())
	if err != nil {
		t.Fatal(err)
	}
	var held atomic.Uint64
	holds := func() bool { return f.set.Holds(f.clock.Now(), kid, jwa.ES256(), key, &held) }
	// refetch forces a fetch: an unknown kid after the cooldown.
	refetch := func() {
		f.clock.Advance(31 * time.Second)
		_, _ = f.lookup(t, kidOf(t, other), jwa.ES256())
	}
	if !holds() || held.Load() == 0 {
		t.Fatalf("fresh key: holds %v, memo %d", holds(), held.Load())
	}
	first := held.Load()
	before := f.srv.Hits()
	refetch()
	if f.srv.Hits() == before {
		t.Fatal("no refetch")
	}
	if !holds() || held.Load() != first {
		t.Fatalf("unchanged document: holds %v, memo %d, want %d", holds(), held.Load(), first)
	}
	f.srv.SetKeys(t, old, next)
	refetch()
	if !holds() || held.Load() == first {
		t.Fatalf("changed document with the key: holds %v, memo %d (was %d)", holds(), held.Load(), first)
	}
	f.srv.SetKeys(t, next)
	refetch()
	if holds() {
		t.Fatal("a document without the key still holds it")
	}
}
