package decisionlog

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/portcullis/portcullis/policy"
)

// withOldPaths runs f with the package's tables (routes, key and header
// orders) full of entries no event matches and far from a renewal, so
// every event takes the field-by-field path the tables replaced: the
// reference the differential tests compare with. Not for parallel tests:
// it swaps the package's tables.
func withOldPaths(f func()) {
	r, s, q, o, h := routes, stringOrders, queryOrders, objectOrders, headerOrders
	defer func() { routes, stringOrders, queryOrders, objectOrders, headerOrders = r, s, q, o, h }()
	routes = new(routeTable)
	for i := range routes.slots {
		routes.slots[i].Store(&encodedRoute{name: "\x00never"})
	}
	full := func() *keyOrders {
		o := new(keyOrders)
		for i := range o.slots {
			o.slots[i].Store(&keyOrder{}) // no keys: no map or header list of an event has none
		}
		return o
	}
	stringOrders, queryOrders, objectOrders, headerOrders = full(), full(), full(), full()
	f()
}

// withoutCells is ev with its identity stripped of the cell of a cached
// token: the identity written field by field.
func withoutCells(ev *Event) *Event {
	c := *ev
	if in, ok := ev.Input.(*policy.Input); ok && in.Identity != nil {
		ic := *in
		id := *in.Identity
		id.JSON = nil
		ic.Identity = &id
		c.Input = &ic
	}
	return &c
}

// cloned is s in new memory: a reload's config decodes the same names
// into new strings, so the tables must not depend on a string's address.
func cloned(ss []string) []string {
	if ss == nil {
		return nil
	}
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = strings.Clone(s)
	}
	return out
}

// diffEvent is the i-th event of the differential tests: routes,
// operations, tags, path parameters, configured headers, request headers,
// queries, bodies, identities (with and without cells, callers the event
// states otherwise), bundles and paths varied independently, escapes and
// invalid UTF-8 among them; reload says the route and header names are
// new strings of the same text. ids are cached identities shared by every
// event, as a token cache shares them.
func diffEvent(i int, ids []*policy.Identity, reload bool) *Event {
	routesOf := []policy.Route{
		{Name: "orders", OperationID: "createOrder", PathParams: map[string]string{"id": "42"}, Tags: []string{"shop"}},
		{Name: "orders", OperationID: "getOrder", PathParams: map[string]string{"id": "7"}, Tags: []string{"shop"}},
		{Name: "users", Tags: []string{}},
		{Name: "q\"uote\u2028\xff", OperationID: "op\n", Tags: []string{"a", "b\\"}, PathParams: map[string]string{"k\"": "v\n", "a": "b"}},
		{Name: "orders", OperationID: "createOrder", PathParams: map[string]string{"id": "42"}, Tags: []string{"shop", "more"}},
	}
	headerSets := [][]Header{
		{{"User-Agent", []string{"curl/8"}}},
		{{"X-Request-Id", []string{"req-1"}}, {"User-Agent", []string{"curl/8"}}},
		{{"User-Agent", []string{"x\"y"}}, {"X-Request-Id", []string{"a", "b"}}},
		{{"X-B", []string{"1"}}, {"A", []string{"2"}}, {"X-B", []string{"3"}}},
		{{"N\u00e9\"\xfe", []string{"\x01"}}},
		nil,
	}
	many := map[string]string{}
	for k := range keyBuf + 1 {
		many[fmt.Sprintf("x-h%02d", k)] = fmt.Sprint(k)
	}
	requestHeaders := []map[string]string{
		{"content-type": "application/json", "user-agent": "curl/8"},
		{"content-type": "text/plain", "user-agent": "Go-http-client/1.1"},
		{"content-type": "x", "accept": "y"},
		{"a\"\u2029": "\n", "b": ""},
		many,
		nil,
	}
	queries := []map[string][]string{{"expand": {"items"}}, {"expand": {"a", "b\""}, "page": {"2"}}, nil, {"page": {}}}
	bodies := []func() any{
		func() any {
			return map[string]any{"card": map[string]any{"number": "4111111111111111", "cvc": "123"}, "qty": 2.0, "note": "a\nb"}
		},
		func() any { return map[string]any{"qty": 3.0, "note": "n", "card": "none"} },
		func() any { return map[string]any{"k\"ey": map[string]any{"\xff": []any{map[string]any{"x": true}}}} },
		func() any { return nil },
	}
	paths := []string{"portcullis/authz/decision", "other/\"path\""}

	ev := goldenEvent()
	ev.DecisionID = fmt.Sprintf("event-%03d", i)
	in := benchGoInput()
	in.Route = routesOf[i%len(routesOf)]
	ev.RequestHeaders = slices.Clone(headerSets[i%len(headerSets)])
	if reload {
		in.Route.Name, in.Route.OperationID, in.Route.Tags = strings.Clone(in.Route.Name), strings.Clone(in.Route.OperationID), cloned(in.Route.Tags)
		for j := range ev.RequestHeaders {
			ev.RequestHeaders[j].Name = strings.Clone(ev.RequestHeaders[j].Name)
		}
	}
	in.Request.Headers = requestHeaders[(i/2)%len(requestHeaders)]
	in.Request.Query = queries[i%len(queries)]
	in.Request.Body = bodies[(i/3)%len(bodies)]()
	in.Request.WireMethod = []string{"POST", "GET", "BREW\"", ""}[i%4]
	in.Request.Method = []string{"POST", "GET", "PATCH", "brew"}[(i/2)%4]
	in.Request.Scheme = []string{"https", "http", "gopher\n"}[i%3]
	in.Identity = ids[i%len(ids)]
	ev.Input = in
	ev.Route = in.Route.Name
	ev.Subject, ev.Consumer, ev.AuthnMethod = "", "", ""
	if id := in.Identity; id != nil {
		ev.Subject, ev.Consumer, ev.AuthnMethod = id.Subject, id.Consumer, id.Method // as logDecision sets them
	}
	if i%7 == 0 {
		ev.Subject = "someone else" // an event that says otherwise is written as it says
	}
	ev.Bundles = diffBundles[(i/4)%len(diffBundles)] // a generation's map for a few events, under either path
	ev.Path = paths[i%len(paths)]
	return ev
}

// diffBundles are the bundles maps of diffEvent's generations: the same
// maps event after event, as the engine hands them out.
var diffBundles = []map[string]policy.BundleID{{"main": {Revision: "rev-7", Hash: "9f86d0"}}, {"main": {Revision: "rev-8", Hash: "a\"b"}, "x": {}}, nil}

// cachedIdentities are precodedIdentities with the cell of a token cache,
// and without.
func cachedIdentities() []*policy.Identity {
	idsOf := precodedIdentities()
	var ids []*policy.Identity
	for _, name := range slices.Sorted(maps.Keys(idsOf)) {
		ids = append(ids, precodedCached(idsOf[name]), idsOf[name]) // with a cell and without
	}
	return ids
}

// TestTablesMatchTheFieldByFieldPath: events logged through the package's
// tables (routes, remembered key and header orders, the caller cell, the
// path beside the bundles) by a Logger per generation, the next generation
// with the same names in new strings (a reload), with plain, erased and
// masked events, are byte for byte the events written field by field.
// Fails when a table entry is found for a route, map or header list it
// was not made for, or writes other bytes.
func TestTablesMatchTheFieldByFieldPath(t *testing.T) {
	ids := cachedIdentities()
	gens := []Options{
		{},
		{Erase: []string{"/input/request/body/card", "/input/identity/subject"}},
		{Masker: &fakeMasker{ops: []policy.MaskOp{policyUpsert("/input/route/name", "x"), {Op: "remove", Path: "/input/request/headers"}}}},
		{},
	}
	const perGen = 90
	for g, opts := range gens {
		var out syncBuffer
		l := newTestLogger(t, opts, StdoutOptions{W: &out})
		var want []string
		for i := range perGen {
			ev := diffEvent(g*perGen+i, ids, g%2 == 1)
			withOldPaths(func() { want = append(want, logLine(t, opts, withoutCells(ev))) })
			l.Log(context.Background(), ev)
		}
		closeLogger(t, l)
		compareLines(t, fmt.Sprintf("generation %d", g), out.String(), want)
	}
}

// compareLines fails t unless out's lines are want.
func compareLines(t *testing.T, what, out string, want []string) {
	t.Helper()
	got := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(got) != len(want) {
		t.Fatalf("%s: %d lines, want %d", what, len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("%s, event %d:\n got %s\nwant %s", what, i, got[i], want[i])
		}
	}
}

// TestTablesFillAndRenew: more routes, map key sets and header lists than
// the tables hold, then some of the first again: a full table writes
// events field by field, renewed slots hold the later key sets, and every
// event is byte for byte the field-by-field one.
func TestTablesFillAndRenew(t *testing.T) {
	var out syncBuffer
	l := newTestLogger(t, Options{}, StdoutOptions{W: &out})
	var want []string
	n := routeSlots + orderSlots*renewEvery/4
	for i := range 2 * n {
		k := i % n
		if i >= n {
			k = (i * 7) % n
		}
		ev := &Event{DecisionID: fmt.Sprint(i), Timestamp: goldenEvent().Timestamp, Path: "p", Input: &policy.Input{
			Route: policy.Route{Name: fmt.Sprintf("route-%d", k), Tags: []string{fmt.Sprint(k % 3)}},
			Request: policy.Request{Method: "GET", Path: "/", Headers: map[string]string{fmt.Sprintf("h-%d", k): "v", "user-agent": "curl"},
				Query: map[string][]string{fmt.Sprintf("q%d", k%11): {"1"}}},
		}, RequestHeaders: []Header{{fmt.Sprintf("H-%d", k%13), []string{"v"}}, {"User-Agent", []string{"curl"}}}}
		withOldPaths(func() { want = append(want, logLine(t, Options{}, ev)) })
		l.Log(context.Background(), ev)
	}
	closeLogger(t, l)
	compareLines(t, "filling and renewing", out.String(), want)
}

// TestTablesConcurrently: goroutines logging events of different routes,
// key sets and header lists at once (the race detector watches the
// tables' slots) each get their own event's bytes.
func TestTablesConcurrently(t *testing.T) {
	ids := cachedIdentities()
	const kinds = 12
	want := map[string]string{}
	events := make([]*Event, kinds)
	for k := range kinds {
		events[k] = diffEvent(k, ids, false)
		withOldPaths(func() { want[events[k].DecisionID] = logLine(t, Options{}, withoutCells(events[k])) })
	}
	var out syncBuffer
	l := newTestLogger(t, Options{}, StdoutOptions{W: &out})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 150 {
				l.Log(context.Background(), events[(w*5+i)%kinds])
			}
		})
	}
	wg.Wait()
	closeLogger(t, l)
	for _, line := range strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n") {
		id := line[strings.Index(line, `"decision_id":"`)+15:]
		id = id[:strings.IndexByte(id, '"')]
		if line != want[id] {
			t.Fatalf("event %s:\n got %s\nwant %s", id, line, want[id])
		}
	}
}

// TestAppendWordIsAppendString: the constants are appendString's bytes,
// and anything else is left to appendString.
func TestAppendWordIsAppendString(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "http", "https",
		"", "get", "GET ", "POST\n", "HTTPS", "CONNECT", "\"", "h\xfftp"} {
		if got, want := string(appendWord([]byte("x"), s)), string(appendString([]byte("x"), s)); got != want {
			t.Errorf("appendWord(%q) = %s, want %s", s, got, want)
		}
	}
}

// FuzzRememberedOrders: for maps of any keys written in turn (the same
// keys again, other values, one key changed, one more), the objects
// written through the remembered orders are those sortedPairs and
// appendName write; so are request_context header lists of any names.
func FuzzRememberedOrders(f *testing.F) {
	f.Add("content-type", "user-agent", "accept", "v\n")
	f.Add("a\"", "\xff", "\u2028", "")
	f.Add("same", "same", "x", "y")
	f.Fuzz(func(t *testing.T, k1, k2, k3, v string) {
		old := func(m map[string]string) string {
			b := []byte{'{'}
			for i, p := range sortedPairs(nil, m) {
				b = appendString(appendName(b, i, p.k), p.v)
			}
			return string(append(b, '}'))
		}
		for i, m := range []map[string]string{{k1: v, k2: v}, {k1: v + "2", k2: v}, {k1: v, k3: v}, {k1: v, k2: v, k3: v}, {k2: v}, {k1: v, k2: v}} {
			for range 2 {
				if got, want := string(appendStringMap(nil, m)), old(m); got != want {
					t.Fatalf("map %d: %s, want %s", i, got, want)
				}
			}
		}
		oldHeaders := func(hs []Header) string {
			var b []byte
			for i, h := range sortedHeaders(nil, hs) {
				b = appendStrings(appendName(b, i, h.Name), h.Values)
			}
			return string(b)
		}
		for i, hs := range [][]Header{{{k1, []string{v}}, {k2, []string{"2"}}}, {{k2, []string{v}}, {k1, nil}}, {{k1, nil}, {k3, []string{v}}, {k1, []string{"dup"}}}} {
			for range 2 {
				if got, want := string(appendHeaderMembers(nil, hs)), oldHeaders(hs); got != want {
					t.Fatalf("headers %d: %s, want %s", i, got, want)
				}
			}
		}
	})
}
