package engine

import (
	"slices"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/topdown"
)

// smallCacheLimit is the number of cached rule values up to which
// smallCache searches a list; beyond it, it moves to OPA's own cache.
const smallCacheLimit = 64

// smallCache is the topdown.VirtualCache of one evaluation: the values of
// the rules it has evaluated, in a stack of frames (a frame per `with`).
// A decision evaluates a few dozen rules at most, and comparing that many
// refs costs less than OPA's cache, which builds a trie of hash maps (a
// node per ref segment) on every Put. A policy that caches more values
// than smallCacheLimit continues in OPA's cache, so no policy becomes
// quadratic.
type smallCache struct {
	frames  []int // start of each frame in entries; frames[0] == 0
	entries []cacheEntry
	big     topdown.VirtualCache // after the overflow
}

type cacheEntry struct {
	ref       ast.Ref
	value     *ast.Term
	undefined bool
}

func newSmallCache() *smallCache {
	return &smallCache{frames: make([]int, 1, 4), entries: make([]cacheEntry, 0, 16)}
}

func (c *smallCache) Push() {
	if c.big != nil {
		c.big.Push()
		return
	}
	c.frames = append(c.frames, len(c.entries))
}

func (c *smallCache) Pop() {
	if c.big != nil {
		c.big.Pop()
		return
	}
	top := len(c.frames) - 1
	clear(c.entries[c.frames[top]:])
	c.entries = c.entries[:c.frames[top]]
	c.frames = c.frames[:top]
}

// find returns the index of ref in the top frame, or -1.
func (c *smallCache) find(ref ast.Ref) int {
	for i := len(c.entries) - 1; i >= c.frames[len(c.frames)-1]; i-- {
		if c.entries[i].ref.Equal(ref) {
			return i
		}
	}
	return -1
}

// Get returns (value, false) for a cached value, (nil, true) for a cached
// undefined result and (nil, false) when ref is not cached.
func (c *smallCache) Get(ref ast.Ref) (*ast.Term, bool) {
	if c.big != nil {
		return c.big.Get(ref)
	}
	i := c.find(ref)
	switch {
	case i < 0:
		return nil, false
	case c.entries[i].undefined:
		return nil, true
	}
	return c.entries[i].value, false
}

// Put caches value for ref; a nil value records an undefined result.
func (c *smallCache) Put(ref ast.Ref, value *ast.Term) {
	if c.big != nil {
		c.big.Put(ref, value)
		return
	}
	if i := c.find(ref); i >= 0 {
		// As in OPA's cache, an undefined mark stays.
		if value != nil {
			c.entries[i].value = value
		} else {
			c.entries[i].undefined = true
		}
		return
	}
	e := cacheEntry{value: value, undefined: value == nil}
	if len(c.entries) == smallCacheLimit {
		c.overflow()
		c.big.Put(ref, value)
		return
	}
	e.ref = slices.Clone(ref) // the caller may reuse its slice
	c.entries = append(c.entries, e)
}

// overflow moves every frame into OPA's cache.
func (c *smallCache) overflow() {
	c.big = topdown.NewVirtualCache() // with the first frame pushed
	for f, start := range c.frames {
		if f > 0 {
			c.big.Push()
		}
		end := len(c.entries)
		if f+1 < len(c.frames) {
			end = c.frames[f+1]
		}
		for _, e := range c.entries[start:end] {
			if e.value != nil {
				c.big.Put(e.ref, e.value)
			}
			if e.undefined {
				c.big.Put(e.ref, nil)
			}
		}
	}
	c.frames, c.entries = nil, nil
}

// Keys returns the refs with a value in the top frame.
func (c *smallCache) Keys() []ast.Ref {
	if c.big != nil {
		return c.big.Keys()
	}
	var keys []ast.Ref
	for _, e := range c.entries[c.frames[len(c.frames)-1]:] {
		if e.value != nil {
			keys = append(keys, e.ref)
		}
	}
	return keys
}
