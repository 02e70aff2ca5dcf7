package validate

import (
	"testing"

	"github.com/portcullis/portcullis/gateway/config"
	"github.com/portcullis/portcullis/policy"
)

// BenchmarkCheckGetPathQuery measures the validator alone on the GET of
// make bench (i): a path parameter with a pattern and an integer query
// parameter.
func BenchmarkCheckGetPathQuery(b *testing.B) {
	v := newValidator(b, config.RouteOpenAPI{Spec: "../../tests/bench/peer-openapi.yaml"})
	r := request("GET", "/api/v1/users/bench-user-00042?limit=10", "", "")
	c := v.current.Load()
	b.ReportAllocs()
	for b.Loop() {
		var in policy.Input
		if _, p := v.check(c, r, &in, &buffered{Read: true}); p != nil {
			b.Fatal(p)
		}
	}
}
