package decisionlog

import "sync/atomic"

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
// (whose start draws a random number) and sorting its keys again. A list
// is found by the keys themselves: a map of as many keys that has every
// key of the list has exactly those, so the pairs, and the line, are the
// ones sortedPairs gives. The lists are the package's, for every Logger
// and reload; slots hold immutable lists behind atomic pointers, so
// readers need no lock.
type keyOrders struct {
	slots  [orderSlots]atomic.Pointer[[]string]
	misses atomic.Uint32
}

// Key orders of the input's string maps (headers, path parameters), its
// query, and the JSON objects of a body or claims.
var stringOrders, queryOrders, objectOrders keyOrders

// orderedPairs returns the members of m in key order, as sortedPairs does,
// appended to buf, reading them in a remembered order when o has m's keys.
func orderedPairs[V any](o *keyOrders, buf []pair[V], m map[string]V) []pair[V] {
	if len(m) == 0 || len(m) > keyBuf {
		return sortedPairs(buf, m)
	}
	for i := range o.slots {
		ks := o.slots[i].Load()
		if ks == nil {
			break
		}
		if len(*ks) != len(m) {
			continue
		}
		if ps, ok := lookupPairs(buf, m, *ks); ok {
			return ps
		}
	}
	ps := sortedPairs(buf, m)
	remember(o, ps)
	return ps
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

// remember keeps the keys of ps in a free slot of o or, once every
// renewEvery such events when none is free, in place of one of them.
func remember[V any](o *keyOrders, ps []pair[V]) {
	slot := -1
	for i := range o.slots {
		if o.slots[i].Load() == nil {
			slot = i
			break
		}
	}
	if slot < 0 {
		n := o.misses.Add(1)
		if n%renewEvery != 0 {
			return
		}
		slot = int(n/renewEvery) % orderSlots
	}
	ks := make([]string, len(ps))
	for i, p := range ps {
		ks[i] = p.k
	}
	o.slots[slot].Store(&ks)
}
