package body

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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

		// Duplicate members.
		{name: "distinct members pass", in: `{"role":"user","roles":["a"],"rolE2":1}`},
		{name: "a duplicate member fails", in: `{"role":"admin","role":"user"}`, want: ErrJSONDuplicateKey},
		{name: "a duplicate with whitespace fails", in: "{ \"role\" : 1 ,\n\t\"role\":2}", want: ErrJSONDuplicateKey},
		{name: "a nested duplicate fails", in: `{"a":{"b":{"role":1,"x":2,"role":3}}}`, want: ErrJSONDuplicateKey},
		{name: "a duplicate inside an array fails", in: `[{"ok":1},{"role":1,"role":2}]`, want: ErrJSONDuplicateKey},
		{name: "the same name in sibling objects passes", in: `[{"role":1},{"role":2}]`},
		{name: "the same name at two depths passes", in: `{"role":{"role":1}}`},
		{name: "an escaped duplicate fails", in: `{"role":1,"r\u006fle":2}`, want: ErrJSONDuplicateKey},
		{name: "an escaped slash duplicate fails", in: `{"a/b":1,"a\/b":2}`, want: ErrJSONDuplicateKey},
		{name: "a case variant fails", in: `{"role":"user","Role":"admin"}`, want: ErrJSONDuplicateKey},
		{name: "an upper-case variant fails", in: `{"isAdmin":false,"ISADMIN":true}`, want: ErrJSONDuplicateKey},
		{name: "a long s variant fails", in: `{"isAdmin":false,"i\u017fAdmin":true}`, want: ErrJSONDuplicateKey},
		{name: "a raw long s variant fails", in: "{\"isAdmin\":false,\"i\u017fAdmin\":true}", want: ErrJSONDuplicateKey},
		{name: "a Kelvin sign variant fails", in: `{"kind":1,"\u212aind":2}`, want: ErrJSONDuplicateKey},
		{name: "invalid UTF-8 names that decode alike fail", in: "{\"a\xff\":1,\"a\xfe\":2}", want: ErrJSONDuplicateKey},
		{name: "a duplicate after many members fails", in: manyMembers(40, "k7"), want: ErrJSONDuplicateKey},
		{name: "a case variant after many members fails", in: manyMembers(40, "K39"), want: ErrJSONDuplicateKey},
		{name: "many distinct members pass", in: manyMembers(40, "other")},
		{name: "colons and braces in values are not names", in: `{"a":"\"a\":1","b":"{\"a\":2}"}`},

		// Trailing data.
		{name: "trailing whitespace passes", in: "{\"a\":1}\n\r\t "},
		{name: "a second document fails", in: `{"a":1}{"a":2}`, want: ErrJSONTrailingData},
		{name: "a second document after a newline fails", in: "{\"role\":\"user\"}\n{\"role\":\"admin\"}", want: ErrJSONTrailingData},
		{name: "a stray closer fails", in: `{"a":1}}`, want: ErrJSONTrailingData},
		{name: "garbage after an array fails", in: `[1,2]x`, want: ErrJSONTrailingData},
		{name: "a second scalar fails", in: `1 2`, want: ErrJSONTrailingData},
		{name: "a number glued to a second one fails", in: `1-2`, want: ErrJSONTrailingData},
		{name: "a literal after a number fails", in: `0true`, want: ErrJSONTrailingData},
		{name: "numbers with fractions and exponents pass", in: `[-0.5e+10,1E-3,0,12.25]`},
		{name: "a second string fails", in: `"a" "b"`, want: ErrJSONTrailingData},
		{name: "a NUL after the value fails", in: "{}\x00", want: ErrJSONTrailingData},
		{name: "a comma after the value fails", in: `{"a":1},{"a":2}`, want: ErrJSONTrailingData},
		{name: "an empty body passes", in: ``},
		{name: "whitespace only passes", in: "  \n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			loose := tc.depth == 0 && tc.keys == 0
			if loose { // the case is about something other than the limits
				tc.depth, tc.keys = 1000, 1<<20
			}
			err := CheckJSON([]byte(tc.in), tc.depth, tc.keys)
			if loose && tc.want == nil && err == nil && strings.HasPrefix(tc.in, "{") {
				// What passes the scan has no member encoding/json would bind twice.
				if dup, trailing, _ := reference([]byte(tc.in)); dup || trailing {
					t.Fatalf("reference finds dup=%v trailing=%v", dup, trailing)
				}
			}
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
	for _, s := range []string{`{"a":1,"A":2}`, `{"a":1,"\u0061":2}`, `{"a":1} {}`, `[{"x":1},{"x":1}]`, manyMembers(20, "k3")} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		err := CheckJSON(b, 8, 64)
		if err != nil && !errors.Is(err, ErrJSONTooDeep) && !errors.Is(err, ErrJSONTooManyKeys) &&
			!errors.Is(err, ErrJSONDuplicateKey) && !errors.Is(err, ErrJSONTrailingData) {
			t.Fatalf("unexpected error %v", err)
		}
		// Against encoding/json's tokens, wherever the document starts with
		// a valid value: a member repeated ignoring case, and data after the
		// value, are found exactly when they are there.
		if dup, trailing, ok := reference(b); ok {
			loose := CheckJSON(b, 1000, 1<<20)
			switch {
			case (dup || trailing) && loose == nil:
				t.Fatalf("%q: dup=%v trailing=%v not found", b, dup, trailing)
			case errors.Is(loose, ErrJSONDuplicateKey) && !dup:
				t.Fatalf("%q: a duplicate found where encoding/json sees none", b)
			case errors.Is(loose, ErrJSONTrailingData) && !trailing:
				t.Fatalf("%q: trailing data found where encoding/json sees none", b)
			}
		}
		// Limits are monotonic: what passes tight limits passes looser ones.
		if err == nil && CheckJSON(b, 16, 128) != nil {
			t.Fatal("passes tight limits but fails loose ones")
		}
	})
}

// manyMembers is an object of n members k0..k(n-1), then one named last.
func manyMembers(n int, last string) string {
	var sb strings.Builder
	sb.WriteByte('{')
	for i := range n {
		fmt.Fprintf(&sb, `"k%d":%d,`, i, i)
	}
	fmt.Fprintf(&sb, `%q:0}`, last)
	return sb.String()
}

// reference walks the first JSON value of b with encoding/json's tokens
// and reports a member name repeated ignoring case (bytes.EqualFold) in
// one object, and data after the value. ok is false when b does not
// start with a valid value.
func reference(b []byte) (dup, trailing, ok bool) {
	dec := json.NewDecoder(bytes.NewReader(b))
	var walk func() bool
	walk = func() bool {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		switch tok {
		case json.Delim('{'):
			var names []string
			for dec.More() {
				k, err := dec.Token()
				if err != nil {
					return false
				}
				for _, n := range names {
					if strings.EqualFold(n, k.(string)) {
						dup = true
					}
				}
				names = append(names, k.(string))
				if !walk() {
					return false
				}
			}
			_, err = dec.Token()
			return err == nil
		case json.Delim('['):
			for dec.More() {
				if !walk() {
					return false
				}
			}
			_, err = dec.Token()
			return err == nil
		}
		return true
	}
	if !walk() {
		return false, false, false
	}
	_, err := dec.Token()
	return dup, err != io.EOF, true
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
