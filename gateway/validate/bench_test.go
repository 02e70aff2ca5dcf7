package validate

import (
	"testing"

	"github.com/portcullis/portcullis/gateway/config"
	"github.com/portcullis/portcullis/gateway/input"
)

// BenchmarkCheckGetPathQuery measures the validator alone on the GET of
// make bench (i): a path parameter with a pattern and an integer query
// parameter, its query already parsed by input.Routed.
func BenchmarkCheckGetPathQuery(b *testing.B) {
	v := newValidator(b, config.RouteOpenAPI{Spec: "../../tests/bench/peer-openapi.yaml"})
	r := request("GET", "/api/v1/users/bench-user-00042?limit=10", "", "")
	c := v.current.Load()
	// The query as input.Routed leaves it, parsed, before this stage.
	var routed input.Doc
	input.New(input.Options{Secret: func(string) bool { return false }}).Routed(&routed, r, &config.Route{})
	b.ReportAllocs()
	for b.Loop() {
		in := routed
		if _, p := v.check(c, r, &in, &buffered{Read: true}); p != nil {
			b.Fatal(p)
		}
	}
}
