package header

import (
	"strings"
	"testing"
)

// FuzzOverrideQuery checks that stripping leaves no _method parameter and
// never touches a query without one.
func FuzzOverrideQuery(f *testing.F) {
	for _, s := range []string{"a=1&_method=DELETE", "%5Fmethod=x", ".method=x;b=2", "_m%zzethod=1", "q=1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		out := withoutOverrideParam(raw)
		if hasOverrideParam(out) {
			t.Fatalf("withoutOverrideParam(%q) = %q still overrides", raw, out)
		}
		if len(out) > len(raw) || !hasOverrideParam(raw) && !strings.Contains(raw, out) {
			t.Fatalf("withoutOverrideParam(%q) = %q is not a part of it", raw, out)
		}
	})
}
