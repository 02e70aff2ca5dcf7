package decisionlog

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
)

// get resolves parts in doc, for checking remove and upsert.
func get(doc any, parts []string) (any, bool) {
	for _, p := range parts {
		switch v := doc.(type) {
		case map[string]any:
			c, ok := v[p]
			if !ok {
				return nil, false
			}
			doc = c
		case []any:
			i, ok := index(p, len(v))
			if !ok {
				return nil, false
			}
			doc = v[i]
		default:
			return nil, false
		}
	}
	return doc, true
}

func decode(t *testing.T, s string) any {
	var v any
	dec := json.NewDecoder(bytes.NewReader([]byte(s)))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		t.Skip()
	}
	return v
}

func TestParsePointer(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		in    string
		root  string
		parts []string
		err   bool
	}{
		{"the input root alone", "/input", "input", []string{}, false},
		{"a nested result field", "/result/a/0", "result", []string{"a", "0"}, false},
		{"escapes decode in order", "/input/a~1b/~01", "input", []string{"a/b", "~1"}, false},
		{"an empty token is a key", "/input//x", "input", []string{"", "x"}, false},
		{"no leading slash", "input", "", nil, true},
		{"another root", "/labels/app", "", nil, true},
		{"a dangling tilde", "/input/a~", "", nil, true},
		{"an empty pointer", "", "", nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p, err := parsePointer(tc.in)
			if (err != nil) != tc.err {
				t.Fatalf("err = %v, want error %v", err, tc.err)
			}
			if err == nil && (p.root != tc.root || !reflect.DeepEqual(p.parts, tc.parts) || p.raw != tc.in) {
				t.Errorf("got %+v", p)
			}
		})
	}
}

func FuzzPointer(f *testing.F) {
	f.Add("/input/a/b", `{"a":{"b":1,"c":[1,2]}}`, `"x"`)
	f.Add("/input/a/c/1", `{"a":{"b":1,"c":[1,2]}}`, `null`)
	f.Add("/result/0/~1", `[{"/":true}]`, `{"k":[]}`)
	f.Add("/input/x/y/z", `{}`, `1.5e3`)
	f.Add("/input/01", `[1,2]`, `2`)
	f.Add("/input", `"s"`, `[]`)
	f.Add("/input/a~", `{}`, `1`)
	f.Fuzz(func(t *testing.T, ptr, docJSON, valJSON string) {
		p, err := parsePointer(ptr)
		if err != nil {
			return
		}
		val := decode(t, valJSON)

		d := &doc{input: decode(t, docJSON), result: decode(t, docJSON)}
		before, _ := json.Marshal(d.target(p.root))
		had, _ := get(*d.target(p.root), p.parts)
		_, defined := get(*d.target(p.root), p.parts)
		d.erase(p)
		if defined != (len(d.erased) == 1) {
			t.Fatalf("erase recorded %v for a path defined=%v (value %v)", d.erased, defined, had)
		}
		if !defined {
			if after, _ := json.Marshal(d.target(p.root)); !bytes.Equal(before, after) {
				t.Fatalf("erasing an undefined path changed the document: %s -> %s", before, after)
			}
		}

		d = &doc{input: decode(t, docJSON), result: decode(t, docJSON)}
		if err := d.apply(policyUpsert(ptr, val)); err != nil {
			t.Fatalf("apply: %v", err)
		}
		if len(d.masked) == 1 {
			got, ok := get(*d.target(p.root), p.parts)
			if !ok || !reflect.DeepEqual(got, val) {
				t.Fatalf("after upsert %s = %v (defined %v), want %v", ptr, got, ok, val)
			}
		}
		if _, err := appendJSON(nil, d.input); err != nil {
			t.Fatalf("masked document not encodable: %v", err)
		}
	})
}
