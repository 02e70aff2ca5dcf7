package decisionlog

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portcullis/portcullis/policy"
)

// precodedIdentities are identities of every shape the event writes: none,
// anonymous, claims with escapes and numbers, a certificate, a consumer,
// empty and nil slices.
func precodedIdentities() map[string]*policy.Identity {
	return map[string]*policy.Identity{
		"null":      nil,
		"anonymous": policy.Anonymous(),
		"jwt": {Authenticated: true, Method: policy.MethodJWT, Subject: "alice", Issuer: "https://idp.example.com",
			Groups: []string{"admin", "dev"}, Scopes: []string{"orders:write"}, KeyID: "k1", Claims: benchClaims()},
		"escapes": {Authenticated: true, Method: policy.MethodJWT, Subject: "b\"o\\b\n\u2028é", Issuer: "<iss>",
			Groups: []string{}, Claims: map[string]any{"x": "a\tb", "n": json.Number("1.5e3"), "nested": map[string]any{"k": []any{true, nil}}}},
		"introspection": {Authenticated: true, Method: policy.MethodIntrospection, Subject: "svc", Consumer: "client-7",
			Scopes: []string{"a", "b"}, Claims: map[string]any{"client_id": "client-7"}},
		"certificate": {Authenticated: true, Method: policy.MethodClientCert, Subject: "CN=svc", Consumer: "svc",
			Certificate: &policy.Certificate{Subject: "CN=svc", Issuer: "CN=ca", Serial: "0a", FingerprintSHA256: "sha256:00",
				DNSNames: []string{"svc.local"}, NotAfter: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}},
	}
}

// precodedCached is id as a token cache hands it out: with an identity
// cell of its own, empty until an event fills it.
func precodedCached(id *policy.Identity) *policy.Identity {
	if id == nil {
		return nil
	}
	c := *id
	c.JSON = new(policy.Encoded)
	return &c
}

// TestPrecodedEventsMatchTheFieldByFieldPath: an event written from a
// cached identity's held bytes is byte-identical to the one written field
// by field from an identity without cells, for its first and its later
// events, with erase pointers and a mask rule, and through a second logger
// (a reload: the cells outlive the logger that filled them).
func TestPrecodedEventsMatchTheFieldByFieldPath(t *testing.T) {
	t.Parallel()
	optsOf := map[string]Options{
		"plain":  {},
		"erased": {Erase: []string{"/input/identity/claims/sub", "/input/identity/subject"}},
		"masked": {Masker: &fakeMasker{ops: []policy.MaskOp{
			{Op: "remove", Path: "/input/identity/groups"},
			policyUpsert("/input/identity/claims/role", "***"),
		}}},
	}
	for idName, id := range precodedIdentities() {
		for optName, opts := range optsOf {
			event := func(id *policy.Identity) *Event {
				ev := goldenEvent()
				in := benchGoInput()
				in.Identity = id
				ev.Input = in
				return ev
			}
			want := logLine(t, opts, event(id))
			t.Run(idName+"/"+optName, func(t *testing.T) {
				t.Parallel()
				cached := precodedCached(id)
				for i, o := range []Options{opts, {}, opts} { // first fill, another logger, then held bytes
					got := logLine(t, o, event(cached))
					if o.Erase == nil && o.Masker == nil {
						if w := logLine(t, o, event(id)); got != w {
							t.Fatalf("event %d:\n got %s\nwant %s", i, got, w)
						}
						continue
					}
					if got != want {
						t.Fatalf("event %d:\n got %s\nwant %s", i, got, want)
					}
				}
			})
		}
	}
}

// TestIdentityCellHoldsTheIdentityObject: the held bytes are exactly the
// identity object the field-by-field path writes, claims included.
func TestIdentityCellHoldsTheIdentityObject(t *testing.T) {
	t.Parallel()
	id := precodedIdentities()["jwt"]
	want, err := appendIdentity(nil, id)
	if err != nil {
		t.Fatal(err)
	}
	c := *id
	c.JSON = new(policy.Encoded)
	in := benchGoInput()
	in.Identity = &c
	if _, err := appendInput(nil, in); err != nil {
		t.Fatal(err)
	}
	held, err := c.JSON.Get(func() ([]byte, error) { return []byte("not filled"), nil })
	if err != nil || string(held) != string(want) {
		t.Fatalf("held %q (%v), want %q", held, err, want)
	}
	if !strings.Contains(string(held), `"jti":"5f0c2a8e`) {
		t.Fatalf("identity %s: want the claims in the identity's bytes", held)
	}
}

// TestHeldBundlesMatchAFreshEncoding: one Logger that sees the bundles of
// several generations, in turn and back again (reloads, and requests of
// the old generation still finishing), with identities of every kind and
// erased and masked events between them, writes each event byte for byte
// as a Logger that never saw a bundles map before.
func TestHeldBundlesMatchAFreshEncoding(t *testing.T) {
	t.Parallel()
	gens := []map[string]policy.BundleID{
		{"main": {Revision: "rev-7", Hash: "9f86d0"}, "authz": {Revision: "abc123", Hash: "60303a"}},
		{"main": {Revision: "rev-8", Hash: "b\"ad\\"}, "authz": {Revision: "abc123", Hash: "60303a"}}, // same size
		{"main": {Revision: "rev-9", Hash: strings.Repeat("e3", 32)}},
		nil,
	}
	ids := precodedIdentities()
	names := make([]string, 0, len(ids))
	for n := range ids {
		names = append(names, n)
	}
	optsOf := []Options{{}, {Erase: []string{"/input/request/body"}}, {Masker: &fakeMasker{ops: []policy.MaskOp{policyUpsert("/input/route/name", "x")}}}}
	for oi, opts := range optsOf {
		var out syncBuffer
		l := newTestLogger(t, opts, StdoutOptions{W: &out})
		var want []string
		for i, g := range []int{0, 0, 1, 0, 2, 3, 2, 1, 1, 0} {
			ev := goldenEvent()
			ev.Bundles = gens[g]
			in := benchGoInput()
			in.Identity = precodedCached(ids[names[i%len(names)]])
			ev.Input = in
			want = append(want, logLine(t, opts, ev))
			l.Log(context.Background(), ev)
		}
		closeLogger(t, l)
		compareLines(t, fmt.Sprintf("options %d", oi), out.String(), want)
	}
}

// TestHeldBundlesConcurrently: events of two generations logged at once
// (a reload under load) each carry their own generation's bundles.
func TestHeldBundlesConcurrently(t *testing.T) {
	t.Parallel()
	gens := []map[string]policy.BundleID{{"main": {Revision: "old", Hash: "01"}}, {"main": {Revision: "new", Hash: "02"}}}
	var out syncBuffer
	l := newTestLogger(t, Options{}, StdoutOptions{W: &out})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 200 {
				g := (w + i) % 2
				l.Log(context.Background(), &Event{DecisionID: fmt.Sprintf("%d-%d", g, i), Bundles: gens[g], Path: "p"})
			}
		})
	}
	wg.Wait()
	closeLogger(t, l)
	for _, line := range strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n") {
		rev := `"revision":"old"`
		if strings.HasPrefix(line[strings.Index(line, `"decision_id":"`)+15:], "1-") {
			rev = `"revision":"new"`
		}
		if !strings.Contains(line, rev) {
			t.Fatalf("event of the wrong generation's bundles: %s", line)
		}
	}
}

// FuzzIdentityCell: for any identity strings and claims, the input logged
// from a cached identity's cell, by the event that fills it and the next,
// is the input logged field by field.
func FuzzIdentityCell(f *testing.F) {
	f.Add("alice", "https://idp", "admin", "orders:write", "k1", "", `{"a":[1,2,{"b":null}]}`, true)
	f.Add("b\"\\\n\u2028", "\xff", "", "", "", "client", `"str"`, false)
	f.Fuzz(func(t *testing.T, sub, iss, group, scope, kid, consumer, claims string, authenticated bool) {
		id := &policy.Identity{Authenticated: authenticated, Method: policy.MethodJWT, Subject: sub, Issuer: iss,
			Groups: []string{group}, Scopes: []string{scope, sub}, KeyID: kid, Consumer: consumer}
		var c any
		d := json.NewDecoder(strings.NewReader(claims))
		d.UseNumber()
		if d.Decode(&c) == nil {
			id.Claims = map[string]any{sub: c, "iss": iss}
		}
		in := benchGoInput()
		in.Identity = id
		want, wantErr := appendInput(nil, in)
		cached := *id
		cached.JSON = new(policy.Encoded)
		in.Identity = &cached
		for _, event := range []string{"first", "second"} {
			got, err := appendInput(nil, in)
			if (err != nil) != (wantErr != nil) || string(got) != string(want) {
				t.Fatalf("%s event from the cell: %s (%v), want %s (%v)", event, got, err, want, wantErr)
			}
		}
	})
}
