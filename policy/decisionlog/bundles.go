package decisionlog

import (
	"reflect"
	"sync/atomic"

	"github.com/portcullis/portcullis/policy"
)

// encodedBundles is the bundles object of one Event.Bundles map, encoded.
// It holds the map itself, so while it is kept no other map can be made at
// the same address: the address is a sound key.
type encodedBundles struct {
	m map[string]policy.BundleID
	b []byte
}

// bundlesCell keeps the encoding of the last bundles map a Logger wrote.
// The engine hands every decision of a compiled policy the same map, never
// modified (policy.Decision.Bundles), so every event of a generation finds
// its bytes here: its names, revisions and 64-hex hashes are copied, not
// sorted and escaped per event. A reload brings a new map, encoded by its
// first event; the Logger outlives generations, so the key is the map, not
// a generation.
type bundlesCell struct {
	p atomic.Pointer[encodedBundles]
}

// appendTo appends the bundles object of m.
func (c *bundlesCell) appendTo(b []byte, m map[string]policy.BundleID) []byte {
	if e := c.p.Load(); e != nil && len(e.m) == len(m) && reflect.ValueOf(e.m).Pointer() == reflect.ValueOf(m).Pointer() {
		return append(b, e.b...)
	}
	e := &encodedBundles{m: m, b: appendBundles(nil, m)}
	c.p.Store(e)
	return append(b, e.b...)
}
