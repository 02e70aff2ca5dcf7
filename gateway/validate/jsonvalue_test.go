package validate

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/getkin/kin-openapi/openapi3filter"
)

var jsonCases = []struct {
	doc  string
	fast bool // decodeValue takes it
}{
	{`{"name":"Ada","email":"ada@example.com","role":"admin"}`, true},
	{` {"a" : [1, -0, 0.5, -1.25e+10, 2E-3, true, false, null, {}, []], "b": {"c": ""}} `, true},
	{`[]`, true}, {`{}`, true}, {`"x"`, true}, {`0`, true}, {`null`, true}, {"\t[\r\n1\n]\n", true},
	{`12345678901234567890123456789`, true}, {`1e400`, true},
	{``, false}, {` `, false}, {`{`, false}, {`[1,]`, false}, {`{"a":1,}`, false}, {`{"a" 1}`, false},
	{`01`, false}, {`1.`, false}, {`.5`, false}, {`1e`, false}, {`-`, false}, {`+1`, false}, {`tru`, false},
	{`truex`, false}, {`{"a":1} {}`, false}, {`{"a":1,"a":2}`, false}, {`"a\"b"`, false}, {`"\u00e9"`, false},
	{"\"caf\xc3\xa9\"", false}, {"\"\xff\"", false}, {"\"a\x01\"", false}, {`{"a":nul}`, false}, {`[1 2]`, false},
	{`NaN`, false}, {`{1:2}`, false},
}

// kinJSON is what kin-openapi decodes raw into, and whether it can.
func kinJSON(raw []byte) (any, bool) {
	v, err := openapi3filter.JSONBodyDecoder(bytes.NewReader(raw), nil, nil, nil)
	return v, err == nil
}

func checkDecodeValue(t *testing.T, raw []byte) bool {
	t.Helper()
	got, ok := decodeValue(raw)
	if !ok {
		return false
	}
	want, wok := kinJSON(raw)
	if !wok || !reflect.DeepEqual(got, want) {
		t.Fatalf("decodeValue(%q) = %#v, kin-openapi's decoder: %#v (decodes: %v)", raw, got, want, wok)
	}
	return true
}

func TestDecodeValueIsKinOpenAPIsDecoding(t *testing.T) {
	t.Parallel()
	for _, tc := range jsonCases {
		if fast := checkDecodeValue(t, []byte(tc.doc)); fast != tc.fast {
			t.Errorf("decodeValue(%q) takes it: %v, want %v", tc.doc, fast, tc.fast)
		}
	}
	deep := bytes.Repeat([]byte("["), maxFastDepth+1)
	deep = append(deep, bytes.Repeat([]byte("]"), maxFastDepth+1)...)
	if checkDecodeValue(t, deep) || !checkDecodeValue(t, deep[1:len(deep)-1]) {
		t.Errorf("decodeValue takes nesting up to %d only", maxFastDepth)
	}
}

func FuzzDecodeValue(f *testing.F) {
	for _, tc := range jsonCases {
		f.Add([]byte(tc.doc))
	}
	f.Fuzz(func(t *testing.T, raw []byte) { checkDecodeValue(t, raw) })
}
