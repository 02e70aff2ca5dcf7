// Package migratetest holds the report assertions of the importers' tests.
package migratetest

import (
	"strconv"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/migrate"
)

// Has tells whether the report has the item spec, "what=outcome@line":
// what is a suffix of the item's What, "@line" is optional.
func Has(p *migrate.Plan, spec string) bool {
	what, rest, _ := strings.Cut(spec, "=")
	out, line, _ := strings.Cut(rest, "@")
	for _, it := range p.Report {
		if strings.HasSuffix(it.What, what) && it.Outcome == migrate.Outcome(out) && (line == "" || line == strconv.Itoa(it.Line)) {
			return true
		}
	}
	return false
}

// Dump is the report in the form Has reads, one item a line, for failure messages.
func Dump(p *migrate.Plan) string {
	var b strings.Builder
	for _, it := range p.Report {
		b.WriteString(it.What + "=" + string(it.Outcome) + "@" + strconv.Itoa(it.Line) + ": " + it.Detail + "\n")
	}
	return b.String()
}

// Import reads src as the one input file name with read.
func Import(t *testing.T, read func([]migrate.Input) (*migrate.Plan, error), name, src string) *migrate.Plan {
	t.Helper()
	p, err := read([]migrate.Input{{Name: name, Data: []byte(src)}})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// Case is one row of an importer's per-plugin table.
type Case struct {
	Name string
	// Plugins is the input's plugin configuration, which Run wraps into a
	// configuration with one route.
	Plugins string
	// Check, when set, looks at the one route and the plan.
	Check func(t *testing.T, r *migrate.Route, p *migrate.Plan)
	// Report, when set, is an item the report must have (see Has).
	Report string
	// Complete is whether nothing may be reported as not mapped.
	Complete bool
}

// Run imports every case with read, wrapped into one route by wrap, and
// checks that it gives one route, the case's report item and completeness.
func Run(t *testing.T, read func([]migrate.Input) (*migrate.Plan, error), wrap func(string) string, cases []Case) {
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			t.Parallel()
			p := Import(t, read, "input.yaml", wrap(tc.Plugins))
			if len(p.Routes) != 1 {
				t.Fatalf("routes %+v\n%s", p.Routes, Dump(p))
			}
			if tc.Check != nil {
				tc.Check(t, &p.Routes[0], p)
			}
			if tc.Report != "" && !Has(p, tc.Report) {
				t.Errorf("no report item %s:\n%s", tc.Report, Dump(p))
			}
			if p.Report.Complete() != tc.Complete {
				t.Errorf("complete %v, want %v:\n%s", p.Report.Complete(), tc.Complete, Dump(p))
			}
		})
	}
}
