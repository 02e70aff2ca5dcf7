package apikey

import (
	"context"
	"crypto/sha256"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/portcullis/portcullis/gateway/problem"
	"github.com/portcullis/portcullis/policy/bundle"
)

var revBase = []string{"portcullis", "revoked_api_keys"}

// revokedFile makes the held file of the revocation list.
func revokedFile(raw string) bundle.HeldFile {
	return bundle.HeldFile{Path: revBase, File: "bundle/portcullis/revoked_api_keys/data.json", Raw: []byte(raw), Sum: sha256.Sum256([]byte(raw))}
}

func TestRevocationList(t *testing.T) {
	t.Parallel()
	keys := held("", `{"a": `+consumerJSONOf("ka", "1", "g")+`, "b": `+consumerJSONOf("kb", "2")+`, "c": `+consumerJSONOf("kc", "3")+`}`)
	tests := []struct {
		name    string
		list    string
		revoked []string // of ka, kb, kc
	}{
		{"no list", "", nil},
		{"an empty list", `[]`, nil},
		{"null", `null`, nil},
		{"by hash", `[{"hash": "` + Hash("kb") + `", "reason": "leaked"}]`, []string{"kb"}},
		{"by hash in upper case", `[{"hash": "` + HashPrefix + strings.ToUpper(Hash("kb")[len(HashPrefix):]) + `"}]`, []string{"kb"}},
		{"by consumer and id", `[{"consumer": "a", "id": "1"}]`, []string{"ka"}},
		{"both ways", `[{"consumer": "c", "id": "3"}, {"hash": "` + Hash("kb") + `"}]`, []string{"kb", "kc"}},
		// Revoking first and removing the key later is the normal order.
		{"unknown consumer, id and hash", `[{"consumer": "gone", "id": "1"}, {"consumer": "a", "id": "9"}, {"hash": "` + Hash("nobody") + `"}]`, nil},
		{"the right consumer, another's id", `[{"consumer": "a", "id": "2"}]`, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			files := []bundle.HeldFile{keys}
			if tc.list != "" {
				files = append(files, revokedFile(tc.list))
			}
			x, err := Update(nil, base, revBase, files)
			if err != nil {
				t.Fatal(err)
			}
			a := New(Options{})
			a.SetIndex(x)
			for _, k := range []string{"ka", "kb", "kc"} {
				_, err := a.Authenticate(context.Background(), apiKey(k))
				want := strings.Contains(strings.Join(tc.revoked, " "), k)
				if p := problem.As(err); want && (p == nil || p.Reason != ReasonInvalid || p.Status != 401) {
					t.Errorf("%s: got %v, want 401 %s", k, err, ReasonInvalid)
				} else if !want && err != nil {
					t.Errorf("%s: %v, want accepted", k, err)
				}
			}
		})
	}
}

func TestRevokedCountedAndLikeUnknown(t *testing.T) {
	t.Parallel()
	x, err := Update(nil, base, revBase, []bundle.HeldFile{held("a", consumerJSONOf("ka", "1")), revokedFile(`[{"consumer": "a", "id": "1"}]`)})
	if err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	a := New(Options{Registerer: prometheus.NewRegistry(), Logger: zerolog.New(&log).Level(zerolog.DebugLevel)})
	a.SetIndex(x)
	_, revoked := a.Authenticate(context.Background(), apiKey("ka"))
	_, unknown := a.Authenticate(context.Background(), apiKey("nobody"))
	if r, u := problem.As(revoked), problem.As(unknown); r == nil || u == nil || r.Reason != u.Reason || r.Status != u.Status || r.Detail != u.Detail {
		t.Errorf("revoked %v and unknown %v differ", revoked, unknown)
	}
	if got := value(t, a.results.WithLabelValues("revoked")); got != 1 {
		t.Errorf(`result="revoked" = %v, want 1`, got)
	}
	if got := value(t, a.results.WithLabelValues(ReasonInvalid)); got != 1 {
		t.Errorf("result=%q = %v, want 1 (the unknown key only)", ReasonInvalid, got)
	}
	if l := log.String(); !strings.Contains(l, `"key_id":"1"`) || !strings.Contains(l, `"revoked":true`) || strings.Contains(l, "ka") {
		t.Errorf("debug log %s: want key id 1 and revoked, never the key", l)
	}
}

func TestRevocationListReloads(t *testing.T) {
	t.Parallel()
	keys := held("", `{"a": `+consumerJSONOf("ka", "1")+`, "b": `+consumerJSONOf("kb", "2")+`}`)
	x1, err := Update(nil, base, revBase, []bundle.HeldFile{keys, revokedFile(`[]`)})
	if err != nil {
		t.Fatal(err)
	}
	if x, err := Update(x1, base, revBase, []bundle.HeldFile{keys, revokedFile(`[]`)}); err != nil || x != x1 {
		t.Fatalf("nothing changed: got a new index (%v)", err)
	}
	x2, err := Update(x1, base, revBase, []bundle.HeldFile{keys, revokedFile(`[{"consumer": "a", "id": "1"}]`)})
	if err != nil {
		t.Fatal(err)
	}
	// Only the list changed: the key buckets are x1's own.
	if &x2.buckets[0] != &x1.buckets[0] || x2.files[""] != x1.files[""] {
		t.Error("a change to the list alone rebuilt the key index")
	}
	if e, _ := found(x2, "ka"); !x2.revoked.has(e) || x1.revoked.has(e) {
		t.Error("ka: want revoked in x2 only (x1 unchanged)")
	}
	// A key change keeps the list.
	x3, err := Update(x2, base, revBase, []bundle.HeldFile{held("", `{"a": `+consumerJSONOf("ka", "1")+`}`), revokedFile(`[{"consumer": "a", "id": "1"}]`)})
	if err != nil {
		t.Fatal(err)
	}
	if e, _ := found(x3, "ka"); x3.revoked != x2.revoked || !x3.revoked.has(e) {
		t.Error("a change to the keys lost the list")
	}
	// Dropping the list restores the key.
	x4, err := Update(x3, base, revBase, []bundle.HeldFile{held("", `{"a": `+consumerJSONOf("ka", "1")+`}`)})
	if err != nil {
		t.Fatal(err)
	}
	if e, _ := found(x4, "ka"); x4.revoked.has(e) {
		t.Error("the list is gone but ka is still revoked")
	}
}

func TestRevocationListRefuses(t *testing.T) {
	t.Parallel()
	keys := held("a", consumerJSONOf("ka", "1"))
	tests := []struct {
		name, list, want string
	}{
		{"not an array", `{"hash": "x"}`, "revoked_api_keys: want an array, got an object"},
		{"not an object", `["` + Hash("ka") + `"]`, "revoked_api_keys[0]: want an object, got a string"},
		{"unknown field", `[{"hash": "` + Hash("ka") + `", "reasn": "x"}]`, "revoked_api_keys[0].reasn: unknown field"},
		{"bad hash", `[{"hash": "sha256:abc"}]`, `revoked_api_keys[0].hash: want "sha256:" and 64 hex digits`},
		{"hash without prefix", `[{"hash": "` + Hash("ka")[len(HashPrefix):] + `"}]`, `revoked_api_keys[0].hash: want "sha256:"`},
		{"hash not a string", `[{"hash": 1}]`, "revoked_api_keys[0].hash: want a string, got a number"},
		{"both ways", `[{"hash": "` + Hash("ka") + `", "consumer": "a", "id": "1"}]`, "revoked_api_keys[0]: name a key by hash or by consumer and id, not both"},
		{"consumer alone", `[{"consumer": "a"}]`, "revoked_api_keys[0]: a key named by consumer needs both consumer and id"},
		{"empty id", `[{"consumer": "a", "id": ""}]`, "revoked_api_keys[0]: consumer and id must not be empty"},
		{"nothing", `[{"reason": "why"}]`, "revoked_api_keys[0]: name a key by hash, or by consumer and id"},
		{"second entry", `[{"consumer": "a", "id": "1"}, {"hash": "x"}]`, "revoked_api_keys[1].hash:"},
		{"syntax", `[{"hash": }]`, "revoked_api_keys/data.json:1:"},
	}
	prev, err := Update(nil, base, revBase, []bundle.HeldFile{keys})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, p := range []*Index{nil, prev} {
				_, err := Update(p, base, revBase, []bundle.HeldFile{keys, revokedFile(tc.list)})
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("got %v, want %q", err, tc.want)
				}
			}
			if e, _ := found(prev, "ka"); prev.revoked.has(e) {
				t.Error("a refused list changed the running index")
			}
		})
	}
	deep := revokedFile(`[]`)
	deep.Path = append(append([]string{}, revBase...), "more")
	if _, err := Update(nil, base, revBase, []bundle.HeldFile{keys, deep}); err == nil || !strings.Contains(err.Error(), "put the list in one data.json") {
		t.Errorf("a file below the list: got %v", err)
	}
	var re *RevocationError
	if _, err := Update(nil, base, revBase, []bundle.HeldFile{keys, revokedFile(`[{}, {"hash": 1}]`)}); !errors.As(err, &re) || re.Index != 0 {
		t.Errorf("got %v, want a *RevocationError at index 0", err)
	}
}

func BenchmarkAuthenticateWithRevocations(b *testing.B) {
	x, err := Update(nil, base, revBase, []bundle.HeldFile{
		held("bench", consumerJSONOf("pk_bench", "k", "g")),
		revokedFile(`[{"consumer": "other", "id": "1"}, {"hash": "` + Hash("other") + `"}]`),
	})
	if err != nil {
		b.Fatal(err)
	}
	a := New(Options{Now: func() time.Time { return t0 }})
	a.SetIndex(x)
	ctx, cred := context.Background(), apiKey("pk_bench")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.Authenticate(ctx, cred); err != nil {
			b.Fatal(err)
		}
	}
}

func FuzzRevocationList(f *testing.F) {
	for _, s := range []string{`[]`, `null`, `[{"hash": "` + Hash("k") + `", "reason": "r"}]`, `[{"consumer": "a", "id": "1"}]`, `[{"hash": 1}]`, `{}`, `[`} {
		f.Add(s)
	}
	keys := held("a", consumerJSONOf("ka", "1"))
	f.Fuzz(func(t *testing.T, list string) {
		x, err := Update(nil, base, revBase, []bundle.HeldFile{keys, revokedFile(list)})
		if err != nil {
			return
		}
		if x.Len() != 1 {
			t.Fatalf("the list changed the key count to %d", x.Len())
		}
		e, ok := found(x, "ka")
		if !ok {
			t.Fatal("the list removed the key from the index")
		}
		_ = x.revoked.has(e)
	})
}

func TestRevocationListOneErrorPerMistake(t *testing.T) {
	t.Parallel()
	_, err := Update(nil, base, revBase, []bundle.HeldFile{revokedFile(`[{"consumer": "a", "idd": "1"}, {"hash": "x"}]`)})
	var got []string
	for _, e := range unjoin(err) {
		got = append(got, e.Error())
	}
	want := []string{"revoked_api_keys[0].idd: unknown field (want hash, consumer, id, reason)", `revoked_api_keys[1].hash: want "sha256:" and 64 hex digits`}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
