package body

import (
	"errors"
	"net/http"
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
