package jwt

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"unsafe"
)

func TestDecodeObject(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		wantErr bool
	}{
		{name: "a flat object decodes", in: `{"alg":"RS256","kid":"a"}`},
		{name: "nested objects and arrays decode", in: `{"a":{"b":[1,"x",null,true]}}`},
		{name: "a top-level duplicate is refused", in: `{"a":1,"a":2}`, wantErr: true},
		{name: "a nested duplicate is refused", in: `{"a":{"b":1,"b":1}}`, wantErr: true},
		{name: "an escaped duplicate is refused", in: `{"exp":1,"\u0065xp":2}`, wantErr: true},
		{name: "keys differing in case are distinct", in: `{"exp":1,"EXP":2}`},
		{name: "an array is refused", in: `[1]`, wantErr: true},
		{name: "trailing data is refused", in: `{} {}`, wantErr: true},
		{name: "deep nesting is refused", in: strings.Repeat(`{"a":`, maxJSONDepth+1) + "1" + strings.Repeat("}", maxJSONDepth+1), wantErr: true},
		{name: "truncated JSON is refused", in: `{"a":`, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := decodeObject([]byte(tc.in))
			if (err != nil) != tc.wantErr {
				t.Fatalf("decodeObject(%s) err = %v, wantErr %v", tc.in, err, tc.wantErr)
			}
		})
	}
}

// FuzzDecodeHeader checks that decodeSegment never panics and that what it
// accepts, encoding/json reads the same way.
func FuzzDecodeHeader(f *testing.F) {
	for _, s := range []string{
		"eyJhbGciOiJSUzI1NiJ9", "eyJhbGciOiJub25lIn0", "e30", "W10", "", "eyJhIjoxLCJhIjoyfQ", "!!!",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, seg string) {
		m, err := decodeSegment(seg, maxHeaderBytes)
		if err != nil {
			return
		}
		raw, _ := b64.DecodeString(seg)
		var want map[string]any
		if err := json.Unmarshal(raw, &want); err != nil {
			t.Fatalf("decodeSegment accepted what encoding/json refuses: %v", err)
		}
		if !reflect.DeepEqual(m, want) {
			t.Fatalf("decodeSegment = %v, encoding/json = %v", m, want)
		}
	})
}

func TestCompactClaimsShareOneString(t *testing.T) {
	t.Parallel()
	for _, payload := range []string{
		`{}`,
		`{"sub": "alice", "iss": "https://issuer.example", "aud": ["api", "web"], "exp": 1893499800, "admin": true, "x": null}`,
		`{"sub": "", "nested": {"a": {"b": ["deep", 1.5, {"c": "d"}]}}, "dup": "alice", "alice": "dup"}`,
		`{"groups": ["user-group", "user-group"], "ünï": "cödé \u0000 \"q\""}`,
	} {
		decoded, err := decodeObject([]byte(payload))
		if err != nil {
			t.Fatal(err)
		}
		got := compact(decoded)
		if !reflect.DeepEqual(got, decoded) {
			t.Fatalf("%s: compact changed the claims:\n got %#v\nwant %#v", payload, got, decoded)
		}
		// Every key and string value lies in one region no longer than all
		// of them together: one allocation.
		var lo, hi uintptr
		var total int
		var visit func(v any)
		see := func(s string) {
			if s == "" {
				return
			}
			p := uintptr(unsafe.Pointer(unsafe.StringData(s)))
			if lo == 0 || p < lo {
				lo = p
			}
			hi, total = max(hi, p+uintptr(len(s))), total+len(s)
		}
		visit = func(v any) {
			switch v := v.(type) {
			case string:
				see(v)
			case json.Number:
				see(string(v))
			case []any:
				for _, e := range v {
					visit(e)
				}
			case map[string]any:
				for k, e := range v {
					see(k)
					visit(e)
				}
			}
		}
		visit(got)
		if hi-lo > uintptr(total) {
			t.Fatalf("%s: the strings span %d bytes for %d bytes of text: not one allocation", payload, hi-lo, total)
		}
	}
}
