package engine

import (
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/portcullis/portcullis/policy"
)

// FuzzParseResult checks that no rule value can make a decision that
// allows with a status, carries a non-4xx status, or smuggles CR/LF into a
// header.
func FuzzParseResult(f *testing.F) {
	for _, s := range []string{
		`true`, `false`, `"x"`, `null`, `{"allow": true}`,
		`{"allow": false, "status": 418, "reasons": ["a"], "headers": {"x": "y"}, "response_headers": {"r": "1"}}`,
		`{"allowed": false, "http_status": 401, "body": "no", "request_headers_to_remove": ["x"]}`,
		`{"allow": false, "status": 4.5e2}`, `{"allow": false, "reasons": {"b", "a"}}`, `{"allow": true, "headers": {"a\r\nb": "c"}}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ast.ParseTerm(s)
		if err != nil || !v.IsGround() {
			return
		}
		var d policy.Decision
		if err := parseResult(v.Value, &d); err != nil {
			return
		}
		if d.Status != 0 && (d.Allow || d.Status < 400 || d.Status > 499) {
			t.Fatalf("status %d with allow %v", d.Status, d.Allow)
		}
		for _, hs := range []map[string]string{d.Headers, d.ResponseHeaders} {
			for k, v := range hs {
				if !validHeaderName(k) || strings.ContainsAny(v, "\r\n\x00") {
					t.Fatalf("bad header %q: %q", k, v)
				}
			}
		}
	})
}
