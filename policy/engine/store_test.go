package engine

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/util"
)

// TestNewStoreHoldsWhatOPAWouldHold compares the store's tree with OPA's
// own conversion, value for value and number text for number text, and
// the Go value Data reads back with the decoded JSON.
func TestNewStoreHoldsWhatOPAWouldHold(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", maxSharedLen+1)
	tests := []struct{ name, json string }{
		{"empty", `{}`},
		{"scalars", `{"s": "a", "n": 1, "f": 1.50, "e": 1e3, "big": 123456789012345678901234567890, "neg": -0, "t": true, "f2": false, "z": null}`},
		{"a number and a string of the same text stay apart", `{"a": "1", "b": 1, "c": ["1", 1, "1.0", 1.0]}`},
		{"repeated keys and values", `{"u1": {"roles": ["r", "w"], "team": "t"}, "u2": {"roles": ["r"], "team": "t"}, "u3": {"team": "t", "roles": []}}`},
		{"long strings are not shared but kept", `{"a": "` + long + `", "b": "` + long + `"}`},
		{"nested arrays and objects", `{"a": [[1, [2, {"x": [null, {"y": "z"}]}]], {}], "b": {"c": {"d": {"e": [true]}}}}`},
		{"escaped and unicode keys", `{"\u00e9t\u00e9": "\"q\"", "a.b": {"": ""}}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var data, consumed map[string]any
			for _, p := range []*map[string]any{&data, &consumed} {
				if err := util.UnmarshalJSON([]byte(tc.json), p); err != nil {
					t.Fatal(err)
				}
			}
			want, err := ast.InterfaceToValue(data)
			if err != nil {
				t.Fatal(err)
			}
			_, got, err := newStore(consumed)
			if err != nil {
				t.Fatal(err)
			}
			// Compare takes 1 and 1.0 for one value; String shows the text.
			if ast.Compare(got, want) != 0 || got.String() != want.String() {
				t.Fatalf("store holds\n%v\nwant\n%v", got, want)
			}
			back, ok := lookup(got, nil)
			if !ok || !reflect.DeepEqual(back, data) {
				t.Fatalf("lookup = %#v, %v; want %#v", back, ok, data)
			}
		})
	}
}

func TestNewStoreSharesRepeatedTerms(t *testing.T) {
	t.Parallel()
	data := map[string]any{
		"a": map[string]any{"role": "reader", "n": json.Number("12345")},
		"b": map[string]any{"role": "reader", "n": json.Number("12345")},
	}
	_, obj, err := newStore(data)
	if err != nil {
		t.Fatal(err)
	}
	a, b := obj.Get(ast.StringTerm("a")).Value.(ast.Object), obj.Get(ast.StringTerm("b")).Value.(ast.Object)
	for _, k := range []string{"role", "n"} {
		if a.Get(ast.StringTerm(k)) != b.Get(ast.StringTerm(k)) {
			t.Errorf("%s: two terms for one value", k)
		}
	}
}

func TestLookup(t *testing.T) {
	t.Parallel()
	_, obj, err := newStore(map[string]any{"p": map[string]any{"c": map[string]any{"k": []any{"v"}}, "s": "x"}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path []string
		want any
		ok   bool
	}{
		{[]string{"p", "c"}, map[string]any{"k": []any{"v"}}, true},
		{[]string{"p", "s"}, "x", true},
		{[]string{"p", "nope"}, nil, false},
		{[]string{"p", "s", "deeper"}, nil, false},
		{[]string{"p", "c", "k", "0"}, nil, false}, // arrays are not paths
	}
	for _, tc := range tests {
		got, ok := lookup(obj, tc.path)
		if ok != tc.ok || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("lookup(%v) = %#v, %v; want %#v, %v", tc.path, got, ok, tc.want, tc.ok)
		}
	}
}
