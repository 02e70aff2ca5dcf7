package apikey

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/keygen"
	"github.com/portcullis/portcullis/policy/bundle"
)

var base = []string{"portcullis", "consumers"}

// held makes a held file at base plus rel (a consumer name, or "" for the
// consumers object).
func held(rel, raw string) bundle.HeldFile {
	p := base
	name := "bundle/portcullis/consumers/data.json"
	if rel != "" {
		p = append(append([]string{}, base...), rel)
		name = "bundle/portcullis/consumers/" + rel + "/data.json"
	}
	return bundle.HeldFile{Path: p, File: name, Raw: []byte(raw), Sum: sha256.Sum256([]byte(raw))}
}

func consumerJSONOf(secret, id string, groups ...string) string {
	return fmt.Sprintf(`{"groups": [%s], "keys": [{"id": %q, "hash": %q}]}`, quoteAll(groups), id, Hash(secret))
}

func quoteAll(s []string) string {
	q := make([]string, len(s))
	for i, v := range s {
		q[i] = fmt.Sprintf("%q", v)
	}
	return strings.Join(q, ", ")
}

func found(x *Index, secret string) (*entry, bool) {
	sum := sha256.Sum256([]byte(secret))
	return x.lookup(&sum)
}

func TestUpdateLayouts(t *testing.T) {
	t.Parallel()
	obj := `{"a": ` + consumerJSONOf("ka", "1", "g") + `, "b": ` + consumerJSONOf("kb", "2") + `}`
	tests := []struct {
		name  string
		files []bundle.HeldFile
	}{
		{"one file for the consumers object", []bundle.HeldFile{held("", obj)}},
		{"a file per consumer", []bundle.HeldFile{held("a", consumerJSONOf("ka", "1", "g")), held("b", consumerJSONOf("kb", "2"))}},
		{"both, for different consumers", []bundle.HeldFile{held("", `{"a": `+consumerJSONOf("ka", "1", "g")+`}`), held("b", consumerJSONOf("kb", "2"))}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			x, err := Update(nil, base, revBase, tc.files)
			if err != nil {
				t.Fatal(err)
			}
			if x.Len() != 2 {
				t.Fatalf("Len = %d, want 2", x.Len())
			}
			e, ok := found(x, "ka")
			if !ok || e.cons.name != "a" || e.id != "1" || len(e.cons.groups) != 1 || e.cons.groups[0] != "g" {
				t.Fatalf("key ka: %+v, %v", e, ok)
			}
			if _, ok := found(x, "nope"); ok {
				t.Fatal("unknown key found")
			}
		})
	}
}

func TestUpdateReusesAndDiffs(t *testing.T) {
	t.Parallel()
	const n = 5000
	dir := t.TempDir()
	if err := keygen.Write(dir, n, keygen.OneFile, nil); err != nil {
		t.Fatal(err)
	}
	read := func() bundle.HeldFile {
		raw, err := os.ReadFile(filepath.Join(dir, "data.json"))
		if err != nil {
			t.Fatal(err)
		}
		return bundle.HeldFile{Path: base, File: "data.json", Raw: raw, Sum: sha256.Sum256(raw)}
	}
	x1, err := Update(nil, base, revBase, []bundle.HeldFile{read()})
	if err != nil || x1.Len() != n {
		t.Fatalf("first: %v, %v", x1, err)
	}
	if x2, err := Update(x1, base, revBase, []bundle.HeldFile{read()}); err != nil || x2 != x1 {
		t.Fatalf("unchanged files: got a new index (%v)", err)
	}
	if err := keygen.Revoke(dir, 7, n, keygen.OneFile); err != nil {
		t.Fatal(err)
	}
	x3, err := Update(x1, base, revBase, []bundle.HeldFile{read()})
	if err != nil {
		t.Fatal(err)
	}
	if x3.Len() != n-1 {
		t.Fatalf("after revoking one: Len = %d", x3.Len())
	}
	if _, ok := found(x3, keygen.Key(7)); ok {
		t.Fatal("revoked key still in the new index")
	}
	if _, ok := found(x1, keygen.Key(7)); !ok {
		t.Fatal("the previous index changed")
	}
	for _, i := range []int{0, 6, 8, n - 1} {
		if _, ok := found(x3, keygen.Key(i)); !ok {
			t.Fatalf("key %d lost", i)
		}
	}
	copied := 0
	for b := range x1.buckets {
		if len(x1.buckets[b]) > 0 && (len(x3.buckets[b]) == 0 || &x1.buckets[b][0] != &x3.buckets[b][0]) {
			copied++
		}
	}
	if copied != 1 {
		t.Fatalf("revoking one key copied %d buckets, want 1", copied)
	}
}

func TestUpdateChangesAValue(t *testing.T) {
	t.Parallel()
	x1, err := Update(nil, base, revBase, []bundle.HeldFile{held("a", consumerJSONOf("ka", "1", "g")), held("b", consumerJSONOf("kb", "2"))})
	if err != nil {
		t.Fatal(err)
	}
	x2, err := Update(x1, base, revBase, []bundle.HeldFile{held("a", consumerJSONOf("ka", "1", "h")), held("b", consumerJSONOf("kb", "2"))})
	if err != nil {
		t.Fatal(err)
	}
	if e, _ := found(x2, "ka"); e == nil || e.cons.groups[0] != "h" {
		t.Fatalf("changed groups not applied: %+v", e)
	}
	if e, _ := found(x1, "ka"); e == nil || e.cons.groups[0] != "g" {
		t.Fatalf("previous index changed: %+v", e)
	}
	x3, err := Update(x2, base, revBase, []bundle.HeldFile{held("b", consumerJSONOf("kb", "2"))})
	if err != nil || x3.Len() != 1 {
		t.Fatalf("removed file: %v, %v", x3, err)
	}
	if _, ok := found(x3, "ka"); ok {
		t.Fatal("key of a removed file still found")
	}
	// A key moving from one consumer to another is a change, not a duplicate.
	x4, err := Update(x3, base, revBase, []bundle.HeldFile{held("c", consumerJSONOf("kb", "2"))})
	if err != nil {
		t.Fatal(err)
	}
	if e, _ := found(x4, "kb"); e == nil || e.cons.name != "c" {
		t.Fatalf("moved key: %+v", e)
	}
}

func TestUpdateRefuses(t *testing.T) {
	t.Parallel()
	good := held("a", consumerJSONOf("ka", "1"))
	prev, err := Update(nil, base, revBase, []bundle.HeldFile{good})
	if err != nil {
		t.Fatal(err)
	}
	deep := held("a", "{}")
	deep.Path = append(append([]string{}, base...), "a", "keys")
	tests := []struct {
		name  string
		files []bundle.HeldFile
		want  string
	}{
		{"a misspelt field", []bundle.HeldFile{held("", `{"a": {"keys": [{"id": "1", "hash": "`+Hash("k")+`", "expires": 1}]}}`)}, `consumers["a"].keys[0].expires: unknown field`},
		{"a bad hash in a consumer's own file", []bundle.HeldFile{held("b", `{"keys": [{"id": "1", "hash": "sha256:ab"}]}`)}, `consumers["b"].keys[0].hash: want "sha256:"`},
		{"a hash twice in one file", []bundle.HeldFile{held("", `{"a": `+consumerJSONOf("k", "1")+`, "b": `+consumerJSONOf("k", "2")+`}`)}, `consumers["b"].keys[0].hash: same hash as consumers["a"].keys[0] (id "1")`},
		{"a hash in two files", []bundle.HeldFile{good, held("b", consumerJSONOf("ka", "2"))}, `consumers["b"]: key id "2" has the same hash as consumers["a"] (id "1")`},
		{"a consumer in two files", []bundle.HeldFile{good, held("", `{"a": {}}`)}, `consumers["a"]: is in both`},
		{"data below a consumer", []bundle.HeldFile{deep}, "put each consumer's data.json in a directory named after it"},
		{"a file that is not JSON", []bundle.HeldFile{held("", "{\n\"a\": {,\n}")}, "bundle/portcullis/consumers/data.json:2:"},
		{"an id twice", []bundle.HeldFile{held("a", `{"keys": [{"id": "1", "hash": "`+Hash("x")+`"}, {"id": "1", "hash": "`+Hash("y")+`"}]}`)}, `consumers["a"].keys[1].id: "1" is used twice`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for _, p := range []*Index{nil, prev} {
				_, err := Update(p, base, revBase, tc.files)
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("got %v, want an error containing %q", err, tc.want)
				}
			}
			if _, ok := found(prev, "ka"); !ok || prev.Len() != 1 {
				t.Fatal("a refused update changed the previous index")
			}
		})
	}
	var je *bundle.JSONError
	if _, err := Update(nil, base, revBase, []bundle.HeldFile{held("", "[")}); !errors.As(err, &je) {
		t.Fatalf("syntax error %v is not located", err)
	}
}

// BenchmarkUpdate measures a first activation and a one-key revocation
// of n consumers in one file, and the heap the index holds per key.
// At 1 M: go test ./gateway/authn/apikey -run x -bench Update/1M -benchtime 1x
func BenchmarkUpdate(b *testing.B) {
	for _, n := range []int{10, 10_000, 100_000, 1_000_000} {
		b.Run(count(n), func(b *testing.B) {
			dir := b.TempDir()
			if err := keygen.Write(dir, n, keygen.OneFile, nil); err != nil {
				b.Fatal(err)
			}
			file := func() bundle.HeldFile {
				raw, err := os.ReadFile(filepath.Join(dir, "data.json"))
				if err != nil {
					b.Fatal(err)
				}
				return bundle.HeldFile{Path: base, File: "data.json", Raw: raw, Sum: sha256.Sum256(raw)}
			}
			full := file()
			if err := keygen.Revoke(dir, n/2, n, keygen.OneFile); err != nil {
				b.Fatal(err)
			}
			revoked := file()
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			x, err := Update(nil, base, revBase, []bundle.HeldFile{full})
			if err != nil {
				b.Fatal(err)
			}
			runtime.GC()
			runtime.ReadMemStats(&after)
			heap := float64(after.HeapAlloc-before.HeapAlloc) / float64(n)
			b.ResetTimer()
			for b.Loop() {
				if _, err := Update(x, base, revBase, []bundle.HeldFile{revoked}); err != nil {
					b.Fatal(err)
				}
			}
			runtime.KeepAlive(x)
			b.ReportMetric(heap, "heapB/key")
		})
	}
}

func count(n int) string {
	switch {
	case n >= 1_000_000:
		return fmt.Sprintf("%dM", n/1_000_000)
	case n >= 1000:
		return fmt.Sprintf("%dk", n/1000)
	}
	return fmt.Sprint(n)
}

// TestUpdateFingerprints changes one file in ways the in-order
// fingerprint diff must see: a value changed in place, a run of keys
// removed longer than its window, keys inserted and reordered.
func TestUpdateFingerprints(t *testing.T) {
	t.Parallel()
	obj := func(ids []int, groups map[int]string) bundle.HeldFile {
		parts := make([]string, len(ids))
		for j, i := range ids {
			g := "g"
			if groups[i] != "" {
				g = groups[i]
			}
			parts[j] = fmt.Sprintf("%q: %s", keygen.Consumer(i), consumerJSONOf(keygen.Key(i), fmt.Sprint(i), g))
		}
		return held("", "{"+strings.Join(parts, ", ")+"}")
	}
	span := func(from, to int) []int {
		var s []int
		for i := from; i < to; i++ {
			s = append(s, i)
		}
		return s
	}
	x, err := Update(nil, base, revBase, []bundle.HeldFile{obj(span(0, 100), nil)})
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name   string
		ids    []int
		groups map[int]string
	}{
		{"one group changed in place", span(0, 100), map[int]string{50: "h"}},
		{"20 keys removed", append(span(0, 30), span(50, 100)...), map[int]string{50: "h"}},
		{"keys inserted", append(append(span(0, 30), span(200, 205)...), span(50, 100)...), map[int]string{50: "h"}},
		{"reordered", append(span(50, 100), append(span(0, 30), span(200, 205)...)...), map[int]string{50: "h", 0: "z"}},
	}
	for _, st := range steps {
		if x, err = Update(x, base, revBase, []bundle.HeldFile{obj(st.ids, st.groups)}); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		want, err := Update(nil, base, revBase, []bundle.HeldFile{obj(st.ids, st.groups)})
		if err != nil {
			t.Fatal(err)
		}
		if x.Len() != want.Len() {
			t.Fatalf("%s: %d keys, want %d", st.name, x.Len(), want.Len())
		}
		for i := range 205 {
			got, ok := found(x, keygen.Key(i))
			w, wok := found(want, keygen.Key(i))
			if ok != wok || ok && !got.same(w) {
				t.Errorf("%s: key %d: got %v %+v, want %v %+v", st.name, i, ok, got, wok, w)
			}
		}
	}
}

// FuzzScanAgreesWithNewIndex: a key file read from its raw bytes (the
// strict scanner, falling back to the generic decoder where it declines)
// is accepted exactly when the decoded value is accepted by NewIndex, and
// gives the same keys, consumers, groups, ids and validity.
func FuzzScanAgreesWithNewIndex(f *testing.F) {
	f.Add(`{"a": ` + consumerJSONOf("ka", "1", "g") + `, "b": ` + consumerJSONOf("kb", "2") + `}`)
	f.Add(`{"p": {"groups": ["g", "h"], "keys": [{"id": "a", "hash": "` + Hash("k") + `", "not_before": "2026-01-01T00:00:00Z", "expires_at": 1900000000}]}}`)
	f.Add(`{"p": {"keys": [{"id": "a", "hash": "` + strings.ToUpper(Hash("k")[7:]) + `"}]}}`)
	f.Add(`{"p": {"keys": [{"id": "a\u0062", "hash": "` + Hash("k") + `", "expires_at": 1.5e9}]}}`)
	f.Add(`{"p": {"keys": [{"id": "a", "hash": "` + Hash("k") + `"}, {"id": "a", "hash": "` + Hash("j") + `"}]}}`)
	f.Add(`{"p": {"keys": [{"id": "a", "hash": "` + Hash("k") + `", "expires": 1}]}}`)
	f.Add(`{"p": {}, "p": {}}`)
	f.Add(`{} `)
	f.Fuzz(func(t *testing.T, raw string) {
		if !json.Valid([]byte(raw)) {
			return // the raw path refuses it with its line; there is no value for NewIndex
		}
		want, wantErr := NewIndex(decode(t, raw))
		got, gotErr := Update(nil, base, []string{"portcullis", "revoked_api_keys"}, []bundle.HeldFile{held("", raw)})
		if (wantErr == nil) != (gotErr == nil) {
			t.Fatalf("NewIndex err %v, from the raw bytes err %v", wantErr, gotErr)
		}
		if wantErr != nil {
			return
		}
		if got.Len() != want.Len() {
			t.Fatalf("%d keys from the raw bytes, %d from NewIndex", got.Len(), want.Len())
		}
		for _, b := range want.buckets {
			for _, w := range b {
				g, ok := got.lookup(&w.hash)
				if !ok {
					t.Fatalf("key %q of %q missing from the raw bytes' index", w.id, w.cons.name)
				}
				if g.id != w.id || g.nbf != w.nbf || g.exp != w.exp || g.cons.name != w.cons.name || !slices.Equal(g.cons.groups, w.cons.groups) {
					t.Fatalf("from the raw bytes %+v %+v, from NewIndex %+v %+v", *g, *g.cons, w, *w.cons)
				}
			}
		}
	})
}
