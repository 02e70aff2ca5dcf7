package decisionlog

import (
	"slices"
	"strings"
	"sync/atomic"
)

// orderSlots bounds a keyOrders: the key sets of the maps events carry
// are few (the same headers from the same clients, the same body fields
// of an operation), and more than this many only cost the sort again.
const orderSlots = 8

// renewEvery is how many events with an unknown key set, once every slot
// is filled, replace one slot: the cache follows a change of traffic, and
// an event allocates (the slot's copy of the keys) at most that rarely.
const renewEvery = 64

// keyOrders keeps the sorted key lists of maps events wrote, so the next
// map with the same keys is read by looking its keys up in that order
// (a small map's lookup is a scan of one group), not by iterating it
// (whose start draws a random number) and sorting its keys again, and its
// keys are copied encoded, not escaped again. A list is found by the keys
// themselves: a map of as many keys that has every key of the list has
// exactly those, so the pairs, and the line, are the ones sortedPairs
// gives. The lists are the package's, for every Logger and reload; slots
// hold immutable lists behind atomic pointers, so readers need no lock.
type keyOrders struct {
	slots  [orderSlots]atomic.Pointer[keyOrder]
	misses atomic.Uint32
}

// keyOrder is one remembered key list with its keys encoded:
// json[ends[i]:ends[i+1]] is the i-th member's name (keys[i], or
// keys[perm[i]] for headers) and colon, after a comma but for the first.
type keyOrder struct {
	keys []string
	perm []int
	json []byte
	ends []int
}

// Key orders of the input's string maps (headers, path parameters), its
// query, and the JSON objects of a body or claims.
var stringOrders, queryOrders, objectOrders = new(keyOrders), new(keyOrders), new(keyOrders)

// orderedPairs returns the members of m in key order, as sortedPairs does,
// appended to buf, read in a remembered order when o has m's keys; then
// that order is returned too, for the keys' encoding (see appendKey).
func orderedPairs[V any](o *keyOrders, buf []pair[V], m map[string]V) ([]pair[V], *keyOrder) {
	if len(m) == 0 || len(m) > keyBuf {
		return sortedPairs(buf, m), nil
	}
	for i := range o.slots {
		ko := o.slots[i].Load()
		if ko == nil {
			break
		}
		if len(ko.keys) != len(m) {
			continue
		}
		if ps, ok := lookupPairs(buf, m, ko.keys); ok {
			return ps, ko
		}
	}
	ps := sortedPairs(buf, m)
	remember(o, ps)
	return ps, nil
}

// appendKey appends the i-th member's name k of an object written in
// order ko (nil: an order not remembered) as appendName does, copied
// from ko's encoding when there is one.
func (ko *keyOrder) appendKey(b []byte, i int, k string) []byte {
	if ko != nil {
		return append(b, ko.json[ko.ends[i]:ko.ends[i+1]]...)
	}
	return appendName(b, i, k)
}

// appendName appends k as the name of an object's i-th member: a comma
// unless it is the first, the name as a JSON string, and a colon.
func appendName(b []byte, i int, k string) []byte {
	if i > 0 {
		b = append(b, ',')
	}
	return append(appendString(b, k), ':')
}

// lookupPairs returns the members of m under keys, in their order, and
// whether m has them all.
func lookupPairs[V any](buf []pair[V], m map[string]V, keys []string) ([]pair[V], bool) {
	ps := buf[:0]
	for _, k := range keys {
		v, ok := m[k]
		if !ok {
			return nil, false
		}
		ps = append(ps, pair[V]{k, v})
	}
	return ps, true
}

// remember keeps the keys of ps in o.
func remember[V any](o *keyOrders, ps []pair[V]) {
	slot, ok := o.free()
	if !ok {
		return
	}
	ko := &keyOrder{keys: make([]string, len(ps)), ends: make([]int, 1, len(ps)+1)}
	for i, p := range ps {
		// A copy: a key may be a slice of a larger string (a cached
		// token's compacted claims are one), which the slot, kept for the
		// process's life, would otherwise keep alive.
		ko.keys[i] = strings.Clone(p.k)
		ko.json = appendName(ko.json, i, p.k)
		ko.ends = append(ko.ends, len(ko.json))
	}
	o.slots[slot].Store(ko)
}

// free returns the slot of o a new order goes to: a free one or, once
// every renewEvery calls when none is free, one to replace; false: none.
func (o *keyOrders) free() (int, bool) {
	for i := range o.slots {
		if o.slots[i].Load() == nil {
			return i, true
		}
	}
	n := o.misses.Add(1)
	if n%renewEvery != 0 {
		return 0, false
	}
	return int(n/renewEvery) % orderSlots, true
}

// headerOrders are the orders of request_context.http.headers: the
// configured header names a request had, in the order the event gives
// them (keys), with the order they are written in (perm, indexes into
// keys: sorted, a name given twice once) and their encoding.
var headerOrders = new(keyOrders)

// orderedHeaders returns the indexes of hs in the order sortedHeaders
// gives them, and the order, for the names' encoding (appendKey); nil and
// false when hs's names are not remembered (or too many to be).
func orderedHeaders(hs []Header) (*keyOrder, bool) {
	if len(hs) > keyBuf {
		return nil, false
	}
next:
	for i := range headerOrders.slots {
		ko := headerOrders.slots[i].Load()
		if ko == nil {
			break
		}
		if len(ko.keys) != len(hs) {
			continue
		}
		for j, k := range ko.keys {
			if hs[j].Name != k {
				continue next
			}
		}
		return ko, true
	}
	slot, ok := headerOrders.free()
	if !ok {
		return nil, false
	}
	var hb [keyBuf]Header
	sorted := sortedHeaders(hb[:0], hs)
	ko := &keyOrder{keys: make([]string, len(hs)), perm: make([]int, len(sorted)), ends: make([]int, 1, len(sorted)+1)}
	for j, h := range hs {
		ko.keys[j] = h.Name
	}
	for i, h := range sorted {
		ko.perm[i] = slices.IndexFunc(hs, func(x Header) bool { return x.Name == h.Name }) // the first, as sortedHeaders keeps
		ko.json = appendName(ko.json, i, h.Name)
		ko.ends = append(ko.ends, len(ko.json))
	}
	headerOrders.slots[slot].Store(ko)
	return ko, true
}
