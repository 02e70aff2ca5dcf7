package engine

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/portcullis/portcullis/policy/bundle"
)

func TestNewRefusesABrokenBundle(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		break_ func(t *testing.T, a, b string)
		want   string // substring of the error
	}{
		{"a syntax error is reported with file and line", func(t *testing.T, a, _ string) {
			writeFiles(t, a, map[string]string{"authz.rego": "package portcullis.authz\n\ndecision := true\n\ndecision if {{\n"})
		}, "authz.rego:6: rego_parse_error"},
		{"a compile error is reported with file and line", func(t *testing.T, a, _ string) {
			writeFiles(t, a, map[string]string{"authz.rego": "package portcullis.authz\n\ndecision := true\n\nx if not_a_function(1)\n"})
		}, "authz.rego:5: rego_type_error"},
		{"overlapping roots are refused", func(t *testing.T, _, b string) {
			writeFiles(t, b, map[string]string{".manifest": `{"revision": "b2", "roots": ["other", "portcullis/extra"]}`})
		}, "overlapping roots"},
		{"a package outside the roots is refused", func(t *testing.T, _, b string) {
			writeFiles(t, b, map[string]string{"x.rego": "package portcullis.sneaky\n\nallow := true\n"})
		}, "do not permit"},
		{"a removed decision rule is refused", func(t *testing.T, a, _ string) {
			writeFiles(t, a, map[string]string{"authz.rego": "package portcullis.authz\n\nother := true\n"})
		}, "decision rule"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := authzBundle(t, "a1", "decision := true")
			b := writeFiles(t, t.TempDir(), map[string]string{
				".manifest":  `{"revision": "b1", "roots": ["other"]}`,
				"other.rego": "package other\n\nx := 1\n",
			})
			newEngine(t, Options{Sources: sources(a, b)}) // the unbroken pair compiles
			tc.break_(t, a, b)
			_, err := New(context.Background(), withRules(Options{Sources: sources(a, b), Registerer: prometheus.NewPedanticRegistry()}))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New error = %v, want it to mention %q", err, tc.want)
			}
		})
	}
}

func TestStartupRefusesAnInvalidBundleWithItsLocation(t *testing.T) {
	t.Parallel()
	dir := authzBundle(t, "r", "decision := true\n\ndecision if {\n\tinput.x ==\n}")
	_, err := New(context.Background(), withRules(Options{Sources: sources(dir)}))
	if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "authz.rego")+":") {
		t.Fatalf("error = %v, want the file path with a line", err)
	}
}

func TestDataReturnsTheActiveBundleData(t *testing.T) {
	t.Parallel()
	e := newEngine(t, Options{Sources: sources(exampleBundle)})
	v, ok := e.Data("portcullis.consumers")
	consumers, isMap := v.(map[string]any)
	if !ok || !isMap || consumers["read-only-partner"] == nil || consumers["internal-service"] == nil {
		t.Fatalf("Data = %v, %v", v, ok)
	}
	if _, ok := e.Data("portcullis.nope.deeper"); ok {
		t.Error("missing path reported as present")
	}
}

func TestTarballBundle(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := filepath.Join(dir, "authz.tar.gz")
	writeTarball(t, p, testBundle("tar-1"))
	e := newEngine(t, Options{Sources: []bundle.Source{{Name: "main", Path: p}}})
	if d := e.Evaluate(context.Background(), typicalInput()); !d.Allow || d.Bundles["main"].Revision != "tar-1" {
		t.Errorf("decision = %+v", d)
	}
	if _, err := New(context.Background(), withRules(Options{Sources: []bundle.Source{{Path: p}}, MaxBundleBytes: 64})); err == nil {
		t.Error("a bundle over MaxBundleBytes was accepted")
	}
}

func TestRequireTests(t *testing.T) {
	t.Parallel()
	pass := "package portcullis.authz_test\n\nimport data.portcullis.authz\n\ntest_allows if authz.decision\n"
	fail := "package portcullis.authz_test\n\nimport data.portcullis.authz\n\ntest_denies if not authz.decision\n"
	tests := []struct {
		name    string
		test    string
		wantErr string
	}{
		{"passing tests activate the bundle", pass, ""},
		{"a failing test refuses the bundle and is named", fail, "data.portcullis.authz_test.test_denies: FAIL"},
		{"no tests refuses the bundle", "", "no test_ rules"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := authzBundle(t, "r", "decision := true")
			if tc.test != "" {
				writeFiles(t, dir, map[string]string{"authz_test.rego": tc.test})
			}
			_, err := New(context.Background(), withRules(Options{Sources: sources(dir), RequireTests: true}))
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Errorf("New error = %v, want %q", err, tc.wantErr)
			}
		})
	}
}

func TestTestRulesAreNotPartOfTheDecisionPolicy(t *testing.T) {
	t.Parallel()
	dir := authzBundle(t, "r", "decision := true")
	writeFiles(t, dir, map[string]string{"authz_test.rego": "package portcullis.authz\n\ndecision := false\n"})
	e := newEngine(t, Options{Sources: sources(dir)})
	if d := e.Evaluate(context.Background(), typicalInput()); !d.Allow || d.Err != nil {
		t.Errorf("a _test.rego file changed the decision: %+v", d)
	}
}

// resultCount reads the counter name{result=result} from reg.
func resultCount(t testing.TB, reg prometheus.Gatherer, name, result string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "result" && l.GetValue() == result {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	t.Fatalf("%s{result=%q} not registered", name, result)
	return 0
}
