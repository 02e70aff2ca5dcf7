package decisionlog

import (
	"slices"
	"sync/atomic"

	"github.com/portcullis/portcullis/policy"
)

// encodedRoute is input.route of one name, operation id and tags, encoded
// around the path parameters (the only part that differs per request):
// head is `{"name":…,"operation_id":…,"path_params":`, tail
// `,"tags":[…]}`.
type encodedRoute struct {
	name, operationID string
	tags              []string // a copy: the caller's slice may change
	head, tail        []byte
}

// routeSlots bounds routeTable: a gateway's routes times their operations
// seen beyond it are encoded per event, as before the table.
const routeSlots = 16

// routeTable keeps the encodings of the routes events name. Every event of
// a route has the same name, operation id and tags (the route's and its
// OpenAPI operation's), so they are copied, not escaped, per event. An
// entry is found by comparing those values (cheap: they are mostly the
// same strings as the entry's, and a string compared with itself is
// compared by address), never by a pointer or a generation, so it is right
// for every Logger and every reload: the table is the package's. A slot is
// filled once and never replaced, so no event allocates once the routes
// are in (or the table is full) and readers need no lock; after reloads
// that rename routes, the names no event uses any more keep their slots.
type routeTable struct {
	slots [routeSlots]atomic.Pointer[encodedRoute]
}

var routes = new(routeTable)

// get returns the entry of rt, filling a free slot for it if it has none;
// nil when the table is full.
func (t *routeTable) get(rt *policy.Route) *encodedRoute {
	for i := range t.slots {
		e := t.slots[i].Load()
		if e == nil {
			e = newEncodedRoute(rt)
			if t.slots[i].CompareAndSwap(nil, e) {
				return e
			}
			e = t.slots[i].Load() // another event filled it first
		}
		if e.name == rt.Name && e.operationID == rt.OperationID && slices.Equal(e.tags, rt.Tags) {
			return e
		}
	}
	return nil
}

func newEncodedRoute(rt *policy.Route) *encodedRoute {
	e := &encodedRoute{name: rt.Name, operationID: rt.OperationID, tags: slices.Clone(rt.Tags)}
	e.head = appendRouteHead(nil, rt)
	e.tail = appendRouteTail(nil, rt)
	return e
}
