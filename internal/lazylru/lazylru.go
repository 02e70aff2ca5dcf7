// Package lazylru is a size-bounded LRU cache whose hits move an entry to
// the front only once it has drifted out of the most recent half.
//
// golang-lru's Get takes the write lock and moves the entry to the front of
// its list on every hit; with many entries in rotation (a thousand clients'
// tokens, their decisions) the move touches three cold entries and is most
// of a hit's cost. Here a hit takes the read lock (Peek) and promotes only
// an entry that more than half the cache's size of additions and
// promotions have passed since its own: each of them pushes it back by at
// most one place, so an entry that was not promoted is still in the front
// half, far from eviction.
//
// Eviction order: the least recently added-or-promoted entry goes first,
// as in a plain LRU; what differs is that a hit on an entry in the front
// half does not count as a use. An entry is therefore sure to stay while it
// is hit at least once every size/2 additions and promotions (a plain LRU:
// every size-1). With size <= 3 the order is exactly a plain LRU's.
package lazylru

import (
	"sync/atomic"

	lru "github.com/hashicorp/golang-lru/v2"
)

// Cache maps K to V; at most size entries. It is safe for concurrent use.
type Cache[K comparable, V any] struct {
	lru  *lru.Cache[K, *entry[V]]
	half uint64
	// tick counts additions and promotions.
	tick atomic.Uint64
}

type entry[V any] struct {
	v V
	// used is the tick of the entry's addition or last promotion.
	used atomic.Uint64
}

// New returns a cache of size entries; size must be at least 1.
func New[K comparable, V any](size int) (*Cache[K, V], error) {
	c, err := lru.New[K, *entry[V]](size)
	if err != nil {
		return nil, err
	}
	return &Cache[K, V]{lru: c, half: uint64(max(size/2, 1))}, nil
}

// Get returns the value of key; a hit on an entry out of the most recent
// half makes it the most recent.
func (c *Cache[K, V]) Get(key K) (V, bool) {
	e, ok := c.lru.Peek(key)
	if !ok {
		var zero V
		return zero, false
	}
	if c.tick.Load()-e.used.Load() >= c.half {
		// Get moves it to the front (when still there: a concurrent
		// Remove or eviction may have taken it, and then e is still the
		// value that was found).
		c.lru.Get(key)
		e.used.Store(c.tick.Add(1))
	}
	return e.v, true
}

// Add sets key to v as the most recent entry, evicting the least recent
// one when the cache is full.
func (c *Cache[K, V]) Add(key K, v V) {
	e := &entry[V]{v: v}
	e.used.Store(c.tick.Add(1))
	c.lru.Add(key, e)
}

// Remove removes key.
func (c *Cache[K, V]) Remove(key K) { c.lru.Remove(key) }

// Len is the number of entries.
func (c *Cache[K, V]) Len() int { return c.lru.Len() }
