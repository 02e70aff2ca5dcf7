package ratelimit

import (
	"context"
	"encoding/binary"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// shards split each LRU so that concurrent requests rarely wait for the
// same lock.
const shards = 16

// Local is a Store in this process's memory: per limit (and for the
// authentication failures) at most maxKeys keys, the least recently used
// evicted first, so a flood of distinct keys cannot grow it (an evicted
// bucket starts full again, as a new caller's would).
type Local struct {
	maxKeys int
	now     func() int64

	mu      sync.RWMutex
	buckets map[string]*lruSet[int64] // by limit: key → tat

	failures *lruSet[failure]
	blocked  *lruSet[int64] // key → end of the block
	// lastEnd is the latest end of any block set (l.now's time): once it
	// has passed, no key is blocked, whatever entries the LRU still holds.
	lastEnd atomic.Int64
}

type failure struct {
	count int
	until int64 // end of the window
}

// NewLocal returns a Local keeping at most maxKeys keys per limit. now is
// its clock in nanoseconds; nil: the monotonic time since NewLocal.
func NewLocal(maxKeys int, now func() int64) *Local {
	if now == nil {
		start := time.Now()
		now = func() int64 { return int64(time.Since(start)) }
	}
	return &Local{maxKeys: maxKeys, now: now, buckets: map[string]*lruSet[int64]{},
		failures: newLRUSet[failure](maxKeys), blocked: newLRUSet[int64](maxKeys)}
}

// MaxKeys is the bound it was built with.
func (l *Local) MaxKeys() int { return l.maxKeys }

// Take implements Store.
func (l *Local) Take(_ context.Context, ns string, key Digest, s Spec) (Result, error) {
	l.mu.RLock()
	b := l.buckets[ns]
	l.mu.RUnlock()
	if b == nil {
		l.mu.Lock()
		if b = l.buckets[ns]; b == nil {
			b = newLRUSet[int64](l.maxKeys)
			l.buckets[ns] = b
		}
		l.mu.Unlock()
	}
	sh := b.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	now := l.now()
	tat, _ := sh.lru.Get(key) // a new key's 0 is a full bucket
	tat, r := gcra(tat, now, s)
	sh.lru.Add(key, tat)
	return r, nil
}

// Fail implements Store.
func (l *Local) Fail(_ context.Context, key Digest, max int, window, blockFor time.Duration) (bool, error) {
	now := l.now()
	sh := l.failures.shard(key)
	sh.mu.Lock()
	f, ok := sh.lru.Get(key)
	if !ok || now >= f.until {
		f = failure{until: now + int64(window)}
	}
	f.count++
	reached := f.count >= max
	if reached {
		sh.lru.Remove(key)
	} else {
		sh.lru.Add(key, f)
	}
	sh.mu.Unlock()
	if reached {
		end := now + int64(blockFor)
		// Raised before the entry is added: a concurrent noneBlocked
		// that misses the block saw it before it existed.
		for {
			last := l.lastEnd.Load()
			if end <= last || l.lastEnd.CompareAndSwap(last, end) {
				break
			}
		}
		bs := l.blocked.shard(key)
		bs.mu.Lock()
		bs.lru.Add(key, end)
		bs.mu.Unlock()
	}
	return reached, nil
}

// noneBlocked reports that no key is blocked: every block set so far has
// ended. It takes no lock, so the throttle check of an address costs
// nothing while nobody is blocked.
func (l *Local) noneBlocked() bool { return l.now() >= l.lastEnd.Load() }

// Blocked implements Store.
func (l *Local) Blocked(_ context.Context, key Digest) (time.Duration, error) {
	sh := l.blocked.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	until, ok := sh.lru.Peek(key)
	if !ok {
		return 0, nil
	}
	if left := until - l.now(); left > 0 {
		return time.Duration(left), nil
	}
	sh.lru.Remove(key)
	return 0, nil
}

// lruSet is an LRU of at most n keys in shards.
type lruSet[V any] struct{ s [shards]shard[V] }

type shard[V any] struct {
	mu  sync.Mutex
	lru *simplelru.LRU[Digest, V]
}

func newLRUSet[V any](n int) *lruSet[V] {
	per := max(1, (n+shards-1)/shards)
	s := &lruSet[V]{}
	for i := range s.s {
		s.s[i].lru, _ = simplelru.NewLRU[Digest, V](per, nil) // fails only for per < 1
	}
	return s
}

// shard picks by the key's first bytes: keys are digests, evenly spread.
func (s *lruSet[V]) shard(key Digest) *shard[V] {
	return &s.s[binary.LittleEndian.Uint64(key[:8])%shards]
}

// len is the keys held, for tests.
func (s *lruSet[V]) len() int {
	n := 0
	for i := range s.s {
		s.s[i].mu.Lock()
		n += s.s[i].lru.Len()
		s.s[i].mu.Unlock()
	}
	return n
}
