package decisionlog

import (
	"reflect"
	"sync/atomic"

	"github.com/portcullis/portcullis/policy"
)

// encodedBundles is the bundles object of one Event.Bundles map, encoded,
// followed by the path member of the events that had that map: n bytes of
// the bundles object, then `,"path":…` of path. It holds the map itself,
// so while it is kept no other map can be made at the same address: the
// address is a sound key.
type encodedBundles struct {
	m    map[string]policy.BundleID
	path string
	n    int
	b    []byte
}

// bundlesCell keeps the encoding of the last bundles map a Logger wrote.
// The engine hands every decision of a compiled policy the same map, never
// modified (policy.Decision.Bundles), so every event of a generation finds
// its bytes here: its names, revisions and 64-hex hashes are copied, not
// sorted and escaped per event. A reload brings a new map, encoded by its
// first event; the Logger outlives generations, so the key is the map, not
// a generation. The generation's decision path rides along: it is the
// next member of the event and as constant; it is compared by value.
type bundlesCell struct {
	p atomic.Pointer[encodedBundles]
}

// appendTo appends the bundles object of m and the path member of path.
func (c *bundlesCell) appendTo(b []byte, m map[string]policy.BundleID, path string) []byte {
	e := c.p.Load()
	if e == nil || len(e.m) != len(m) || reflect.ValueOf(e.m).Pointer() != reflect.ValueOf(m).Pointer() {
		e = &encodedBundles{m: m, path: path, b: appendBundles(nil, m)}
		e.n = len(e.b)
		e.b = appendPath(e.b, path)
		c.p.Store(e)
	}
	if e.path != path {
		return appendPath(append(b, e.b[:e.n]...), path)
	}
	return append(b, e.b...)
}

// appendPath appends the event's path member.
func appendPath(b []byte, path string) []byte {
	return appendString(append(b, `,"path":`...), path)
}
