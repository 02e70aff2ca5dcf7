package jwt

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
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
