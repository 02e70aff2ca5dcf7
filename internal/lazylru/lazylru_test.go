package lazylru

import (
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	lru "github.com/hashicorp/golang-lru/v2"
)

// TestSmallCachesArePlainLRUs: with size <= 3 every hit that could change
// the order promotes, so the cache holds what golang-lru's holds after
// every operation of a random sequence.
func TestSmallCachesArePlainLRUs(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 7))
	for size := byte(0); size < 3; size++ {
		ops := make([]byte, 20000)
		for i := range ops {
			ops[i] = byte(rng.IntN(256))
		}
		ops[0] = size
		samePlainLRU(t, ops)
	}
}

// TestBoundAndRecency: the cache never holds more than size entries, Get
// returns the last value added, and an entry hit at least once every
// size/2 additions survives any number of other keys.
func TestBoundAndRecency(t *testing.T) {
	for _, size := range []int{4, 5, 10, 64, 1000} {
		c, _ := New[int, int](size)
		c.Add(-1, 42)
		for i := range 20 * size {
			c.Add(i, i)
			if i%(size/2) == 0 {
				if v, ok := c.Get(-1); !ok || v != 42 {
					t.Fatalf("size %d: the key hit every size/2 additions was evicted after %d", size, i)
				}
			}
			if c.Len() > size {
				t.Fatalf("size %d: %d entries", size, c.Len())
			}
		}
		c.Add(-1, 43)
		if v, _ := c.Get(-1); v != 43 {
			t.Fatalf("size %d: Get after a second Add = %d", size, v)
		}
		c.Remove(-1)
		if _, ok := c.Get(-1); ok {
			t.Fatalf("size %d: removed key still found", size)
		}
		// A key never hit again leaves within size additions.
		c.Add(-2, 0)
		for i := range size {
			c.Add(1_000_000+i, i)
		}
		if _, ok := c.Get(-2); ok {
			t.Fatalf("size %d: an unused key outlived size additions", size)
		}
	}
}

// TestPromotesWhenDrifted: an entry past the most recent half is moved to
// the front by a hit, so it outlives the entries added after it.
func TestPromotesWhenDrifted(t *testing.T) {
	const size = 10
	c, _ := New[int, int](size)
	for i := range size {
		c.Add(i, i)
	}
	c.Get(0) // 10 additions since its own: promoted
	c.Add(100, 0)
	if _, ok := c.Get(0); !ok {
		t.Fatal("the promoted entry was evicted")
	}
	if c.lru.Contains(1) {
		t.Fatal("the least recent entry was not evicted")
	}
	// 0 (one addition since its promotion) and 8 (four since its addition)
	// are in the most recent half: their hits above and here move nothing.
	c.Get(8)
	keys := c.lru.Keys()
	if want := []int{2, 3, 4, 5, 6, 7, 8, 9, 0, 100}; !slices.Equal(keys, want) {
		t.Fatalf("order (oldest first) %v, want %v", keys, want)
	}
}

func TestConcurrentUse(t *testing.T) {
	c, _ := New[int, int](8)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 5000 {
				k := (i * (g + 1)) % 20
				if v, ok := c.Get(k); ok && v != k {
					t.Errorf("Get(%d) = %d", k, v)
					return
				}
				c.Add(k, k)
				if i%7 == 0 {
					c.Remove(k)
				}
			}
		}()
	}
	wg.Wait()
	if c.Len() > 8 {
		t.Fatalf("%d entries", c.Len())
	}
}

// BenchmarkGetRotating: 1 000 keys hit in turn in a cache of 10 000 (the
// peer-style benchmark's tokens), against golang-lru's Get.
func BenchmarkGetRotating(b *testing.B) {
	keys := make([][32]byte, 1000)
	for i := range keys {
		keys[i][0], keys[i][1] = byte(i), byte(i>>8)
	}
	c, _ := New[[32]byte, *int](10000)
	plain, _ := lru.New[[32]byte, *int](10000)
	for _, k := range keys {
		c.Add(k, new(int))
		plain.Add(k, new(int))
	}
	for _, bc := range []struct {
		name string
		get  func([32]byte) (*int, bool)
	}{{"lazylru", c.Get}, {"golang-lru", plain.Get}} {
		b.Run(bc.name, func(b *testing.B) {
			i := 0
			for b.Loop() {
				bc.get(keys[i%len(keys)])
				i++
			}
		})
	}
}

// FuzzSmallCachesArePlainLRUs: any sequence of operations on a cache of 1
// to 3 entries leaves it holding what golang-lru holds.
func FuzzSmallCachesArePlainLRUs(f *testing.F) {
	f.Add([]byte{0, 0x80, 0x81, 0x82, 0x01, 0x83, 0x02, 0x40})
	f.Fuzz(samePlainLRU)
}

// samePlainLRU runs ops on a cache of 1+ops[0]%3 entries and on
// golang-lru's, each byte an operation (two bits of kind, three of key),
// and fails when they differ in a Get or in what they hold.
func samePlainLRU(t *testing.T, ops []byte) {
	if len(ops) == 0 {
		return
	}
	size := 1 + int(ops[0]%3)
	c, _ := New[byte, int](size)
	ref, _ := lru.New[byte, int](size)
	for i, op := range ops[1:] {
		k := op & 7
		switch op >> 6 {
		case 0, 1:
			v, ok := c.Get(k)
			rv, rok := ref.Get(k)
			if ok != rok || v != rv {
				t.Fatalf("size %d, op %d: Get(%d) = %d, %v; plain LRU %d, %v", size, i, k, v, ok, rv, rok)
			}
		case 2:
			c.Add(k, i)
			ref.Add(k, i)
		default:
			c.Remove(k)
			ref.Remove(k)
		}
		for k := range byte(8) {
			if got, want := c.lru.Contains(k), ref.Contains(k); got != want {
				t.Fatalf("size %d, op %d: holds %d: %v, plain LRU %v", size, i, k, got, want)
			}
		}
	}
}
