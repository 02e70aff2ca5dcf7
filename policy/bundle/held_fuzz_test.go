package bundle

import (
	"bytes"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// FuzzHeldSpan checks the scan that cuts held data out of a data file's
// bytes against encoding/json, which OPA's reader decodes with: whenever
// heldSpan claims a span of a valid document, the span is the value a
// decode finds at the path (the last of repeated keys), and the document
// with the span replaced by null decodes to the same tree with null there.
func FuzzHeldSpan(f *testing.F) {
	for _, seed := range []struct{ raw, path string }{
		{`{"portcullis": {"consumers": {"a": {"keys": []}}, "other": [1]}}`, "portcullis.consumers"},
		{`{"portcullis": {"consumers": {"a": 1}}, "portcullis": {"consumers": {"b": 2}}}`, "portcullis.consumers"},
		{`{"p": {"c": 1, "c": 2}}`, "p.c"},
		{`{"p\u0020": {"c": "x"}, "p ": {"c": "y"}}`, "p .c"},
		{`{"a": [{"b": 1}], "b": {"c": null}}`, "b.c"},
		{`{"a": {"b": {"c": {}}}} trailing`, "a.b"},
		{`[{"a": 1}]`, "a"},
	} {
		f.Add([]byte(seed.raw), seed.path)
	}
	f.Fuzz(func(t *testing.T, raw []byte, dotted string) {
		rest := strings.Split(dotted, ".")
		if len(rest) > 4 {
			return
		}
		start, end, ok := heldSpan(raw, rest)
		if !ok || !json.Valid(raw) {
			return
		}
		if start < 0 || end > len(raw) || start > end {
			t.Fatalf("span [%d:%d] outside %d bytes", start, end, len(raw))
		}
		whole := decodeAny(t, raw)
		want, found := lookup(whole, rest)
		if !found {
			t.Fatalf("span [%d:%d] for %q, but a decode finds nothing there", start, end, dotted)
		}
		if got := decodeAny(t, raw[start:end]); !reflect.DeepEqual(got, want) {
			t.Fatalf("span holds %s, a decode finds %v at %q", raw[start:end], want, dotted)
		}
		cut := decodeAny(t, slices.Concat(raw[:start], []byte("null"), raw[end:]))
		setPath(whole, rest, nil)
		if !reflect.DeepEqual(cut, whole) {
			t.Fatalf("cutting the span changes more than %q: %v, want %v", dotted, cut, whole)
		}
	})
}

func decodeAny(t *testing.T, b []byte) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("decode %q: %v", b, err)
	}
	return v
}

func lookup(v any, rest []string) (any, bool) {
	for _, k := range rest {
		obj, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = obj[k]; !ok {
			return nil, false
		}
	}
	return v, true
}

func setPath(v any, rest []string, to any) {
	for _, k := range rest[:len(rest)-1] {
		v = v.(map[string]any)[k]
	}
	v.(map[string]any)[rest[len(rest)-1]] = to
}
