package body

import (
	"errors"
	"strings"
	"testing"
)

func TestCheckJSON(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		in    string
		depth int
		keys  int
		want  error
	}{
		{name: "a flat object passes", in: `{"a":1,"b":"x"}`, depth: 1, keys: 2},
		{name: "nesting at the limit passes", in: `{"a":[{"b":1}]}`, depth: 3, keys: 3},
		{name: "nesting over the limit fails", in: `{"a":[{"b":[]}]}`, depth: 3, keys: 10, want: ErrJSONTooDeep},
		{name: "keys over the limit fail", in: `{"a":1,"b":2,"c":3}`, depth: 5, keys: 2, want: ErrJSONTooManyKeys},
		{name: "array items count as keys", in: `[1,2,[3,4]]`, depth: 5, keys: 5},
		{name: "array items over the limit fail", in: `[1,2,[3,4]]`, depth: 5, keys: 4, want: ErrJSONTooManyKeys},
		{name: "brackets and commas inside strings do not count", in: `{"a":"[[[[,,,\"[[["}`, depth: 1, keys: 1},
		{name: "empty containers have no items", in: `[[],{},[]]`, depth: 2, keys: 3},
		{name: "malformed JSON is left to validation", in: `{"a":`, depth: 1, keys: 1},
		{name: "stray closers do not underflow", in: `]]]]{"a":[1]}`, depth: 2, keys: 2},
		{name: "a scalar document passes", in: `"just a string"`, depth: 1, keys: 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := CheckJSON([]byte(tc.in), tc.depth, tc.keys)
			if !errors.Is(err, tc.want) || (tc.want == nil && err != nil) {
				t.Fatalf("CheckJSON(%s) = %v, want %v", tc.in, err, tc.want)
			}
		})
	}
}

func FuzzCheckJSON(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":[1,2,{"b":"c\"]"}]}`, `[[[[[[`, `"\`, `,,,,`, `]]]`, strings.Repeat(`{"a":`, 50)} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		err := CheckJSON(b, 8, 64)
		if err != nil && !errors.Is(err, ErrJSONTooDeep) && !errors.Is(err, ErrJSONTooManyKeys) {
			t.Fatalf("unexpected error %v", err)
		}
		// Limits are monotonic: what passes tight limits passes looser ones.
		if err == nil && CheckJSON(b, 16, 128) != nil {
			t.Fatal("passes tight limits but fails loose ones")
		}
	})
}

func BenchmarkCheckJSON(b *testing.B) {
	body := []byte(`{"name":"Ada Lovelace","email":"ada@example.com","role":"admin","tags":["a","b","c"],"address":{"street":"1 Main St","city":"London"}}`)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if err := CheckJSON(body, 32, 10000); err != nil {
			b.Fatal(err)
		}
	}
}
