package body

import (
	"errors"
	"net/http"
	"slices"
	"testing"

	"github.com/portcullis/portcullis/gateway/problem"
)

func TestCheckContentType(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		lines []string
		bad   bool
	}{
		{"none", nil, false},
		{"one type", []string{"application/json"}, false},
		{"one type with parameters", []string{"application/json; charset=utf-8"}, false},
		{"a comma inside a quoted parameter", []string{`multipart/form-data; boundary="a,b"`}, false},
		{"an escaped quote before a quoted comma", []string{`text/plain; x="a\",b"`}, false},
		{"two lines", []string{"application/json", "text/plain"}, true},
		{"two equal lines", []string{"application/json", "application/json"}, true},
		{"two lines, one empty", []string{"application/json", ""}, true},
		{"a comma-joined list", []string{"application/json, text/plain"}, true},
		{"a comma-joined list without space", []string{"text/plain,application/json"}, true},
		{"a comma after parameters", []string{"application/json; charset=utf-8, application/xml"}, true},
		{"a comma after a quoted parameter", []string{`text/plain; x="a", application/json`}, true},
		{"a trailing comma", []string{"application/json,"}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := http.Header{}
			for _, l := range tc.lines {
				h.Add("Content-Type", l)
			}
			err := CheckContentType(h)
			if (err != nil) != tc.bad {
				t.Fatalf("CheckContentType(%q) = %v, want bad=%v", tc.lines, err, tc.bad)
			}
			if p, ok := errors.AsType[*problem.Problem](err); tc.bad && (!ok || p.Status != 400 || p.Reason != ReasonContentTypeAmbig) {
				t.Fatalf("problem = %+v", p)
			}
		})
	}
}

// headerCases are header maps as a server builds them and as code may
// (non-canonical keys set directly, empty value lists).
var headerCases = []http.Header{
	{},
	{"Content-Type": {"application/json"}},
	{"Content-Type": {"a/b", "c/d"}, "Content-Encoding": {"gzip", "identity"}},
	{"Content-Type": {}, "Content-Encoding": {}},
	{"content-type": {"x/y"}, "CONTENT-ENCODING": {"gzip"}},
	{"Content-Type": {""}, "content-type": {"x/y"}},
}

// TestHeaderLookupsAreGetAndValues holds the direct lookups by the
// canonical names to http.Header's Get and Values.
func TestHeaderLookupsAreGetAndValues(t *testing.T) {
	t.Parallel()
	for _, h := range headerCases {
		headerLookupDiff(t, h)
	}
}

func FuzzHeaderLookupsAreGetAndValues(f *testing.F) {
	f.Add("Content-Type", "application/json", "Content-Encoding", "gzip")
	f.Add("content-type", "a", "CONTENT-ENCODING", "")
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2 string) {
		h := http.Header{}
		h[k1] = append(h[k1], v1)
		h[k2] = append(h[k2], v2)
		h.Add(k1, v2)
		headerLookupDiff(t, h)
	})
}

func headerLookupDiff(t *testing.T, h http.Header) {
	t.Helper()
	if got, want := ContentType(h), h.Get("Content-Type"); got != want {
		t.Fatalf("%v: ContentType %q, Get %q", h, got, want)
	}
	if got, want := h["Content-Type"], h.Values("Content-Type"); !slices.Equal(got, want) {
		t.Fatalf("%v: Content-Type %q, Values %q", h, got, want)
	}
	if got, want := h["Content-Encoding"], h.Values("Content-Encoding"); !slices.Equal(got, want) {
		t.Fatalf("%v: Content-Encoding %q, Values %q", h, got, want)
	}
}
