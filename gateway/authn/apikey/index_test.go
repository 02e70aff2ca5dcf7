package apikey

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestNewIndexRejectsBadShapes(t *testing.T) {
	t.Parallel()
	good := Hash("k")
	tests := []struct {
		name string
		data string
		want string
	}{
		{"consumers that are not an object", `[]`, "consumers: want an object, got an array"},
		{"a consumer that is not an object", `{"p": "x"}`, `consumers["p"]: want an object, got a string`},
		{"groups that are not strings", `{"p": {"groups": [1]}}`, `consumers["p"].groups[0]: want a non-empty string`},
		{"keys that are not an array", `{"p": {"keys": {}}}`, `consumers["p"].keys: want an array, got an object`},
		{"a key without id", `{"p": {"keys": [{"hash": "` + good + `"}]}}`, `consumers["p"].keys[0].id: want a non-empty string`},
		{"a hash without prefix", `{"p": {"keys": [{"id": "a", "hash": "` + good[7:] + `"}]}}`, `consumers["p"].keys[0].hash: want "sha256:" and 64 hex digits`},
		{"a short hash", `{"p": {"keys": [{"id": "a", "hash": "sha256:abcd"}]}}`, `consumers["p"].keys[0].hash`},
		{"a hash with non-hex digits", `{"p": {"keys": [{"id": "a", "hash": "sha256:` + strings.Repeat("zz", 32) + `"}]}}`, `consumers["p"].keys[0].hash`},
		{"a misspelt field", `{"p": {"keys": [{"id": "a", "hash": "` + good + `", "expires": "2027-01-01T00:00:00Z"}]}}`, `consumers["p"].keys[0].expires: unknown field`},
		{"a bad time", `{"p": {"keys": [{"id": "a", "hash": "` + good + `", "expires_at": "tomorrow"}]}}`, `consumers["p"].keys[0].expires_at: want an RFC 3339 time`},
		{"a time that is a boolean", `{"p": {"keys": [{"id": "a", "hash": "` + good + `", "not_before": true}]}}`, `consumers["p"].keys[0].not_before: want RFC 3339 or Unix seconds, got a boolean`},
		{"expiry before not_before", `{"p": {"keys": [{"id": "a", "hash": "` + good + `", "not_before": "2027-01-01T00:00:00Z", "expires_at": "2026-01-01T00:00:00Z"}]}}`, `expires_at: is not after not_before`},
		{"a hash shared by two consumers", `{"p": {"keys": [{"id": "a", "hash": "` + good + `"}]}, "q": {"keys": [{"id": "b", "hash": "` + good + `"}]}}`, `consumers["q"].keys[0].hash: same hash as consumers["p"].keys[0] (id "a")`},
		{"a key id used twice by one consumer", `{"p": {"keys": [{"id": "a", "hash": "` + good + `"}, {"id": "a", "hash": "` + Hash("other") + `"}]}}`, `consumers["p"].keys[1].id: "a" is used twice`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := NewIndex(decode(t, tc.data))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestNewIndexAcceptsGoodShapes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		data any
		keys int
	}{
		{"nil data is an empty index", nil, 0},
		{"a consumer without keys", decode(t, `{"p": {"groups": ["g"]}}`), 0},
		{"upper-case hex and json.Number times", decode(t, `{"p": {"keys": [{"id": "a", "hash": "sha256:`+strings.ToUpper(Hash("k")[7:])+`", "expires_at": 1900000000}]}}`), 1},
		{"float64 times from a plain decode", map[string]any{"p": map[string]any{"keys": []any{map[string]any{"id": "a", "hash": Hash("k"), "not_before": float64(1700000000)}}}}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			x, err := NewIndex(tc.data)
			if err != nil {
				t.Fatal(err)
			}
			if x.Len() != tc.keys {
				t.Fatalf("Len = %d, want %d", x.Len(), tc.keys)
			}
		})
	}
}

func TestGenerateRoundTrips(t *testing.T) {
	t.Parallel()
	key, rec, err := Generate("partner", []string{"read-access"}, "partner-2026-04")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(key, KeyPrefix) || len(key) != len(KeyPrefix)+43 {
		t.Fatalf("key %q: want pk_ and 43 base64url characters", key)
	}
	raw, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(raw), key) {
		t.Fatal("record contains the key itself")
	}
	x, err := NewIndex(decode(t, string(raw)))
	if err != nil {
		t.Fatalf("record does not load: %v", err)
	}
	a := New(Options{})
	a.SetIndex(x)
	id, err := a.Authenticate(t.Context(), apiKey(key))
	if err != nil || id.Consumer != "partner" || id.KeyID != "partner-2026-04" {
		t.Fatalf("generated key: identity %+v, err %v", id, err)
	}
	other, _, _ := Generate("partner", nil, "k2")
	if other == key {
		t.Fatal("two generated keys are equal")
	}
	if _, _, err := Generate("", nil, "k"); err == nil {
		t.Error("empty consumer accepted")
	}
	if _, _, err := Generate("c", nil, ""); err == nil {
		t.Error("empty key id accepted")
	}
}

func FuzzNewIndex(f *testing.F) {
	f.Add(`{"p": {"groups": ["g"], "keys": [{"id": "a", "hash": "` + Hash("k") + `", "not_before": "2026-01-01T00:00:00Z", "expires_at": 1900000000}]}}`)
	f.Add(`{"p": {"keys": [{"id": "a", "hash": "sha256:"}]}}`)
	f.Add(`{"p": {"keys": [{"id": "a", "hash": "` + Hash("k") + `", "expires_at": 1e308}]}}`)
	f.Add(`{"": {}}`)
	f.Add(`[1, "x", null]`)
	f.Add(`null`)
	f.Fuzz(func(t *testing.T, s string) {
		d := json.NewDecoder(strings.NewReader(s))
		d.UseNumber()
		var v any
		if d.Decode(&v) != nil {
			return
		}
		x, err := NewIndex(v)
		if err != nil {
			return
		}
		for _, b := range x.buckets {
			for _, k := range b {
				if k.cons.name == "" || k.id == "" {
					t.Fatalf("accepted key without consumer or id: %+v", k)
				}
			}
		}
	})
}

func decode(t testing.TB, s string) any {
	t.Helper()
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		t.Fatal(err)
	}
	return v
}
