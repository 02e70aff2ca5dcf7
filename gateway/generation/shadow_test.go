package generation

import (
	"slices"
	"strings"
	"testing"
)

// withShadow adds policy.shadow with the fixture's candidate/ bundle.
func withShadow(s string) string {
	return strings.Replace(s, "  watch: false\n", "  watch: false\n  shadow: {bundles: [{name: main, path: candidate}]}\n", 1)
}

func TestShadowIsBuiltLikeTheEnforcedPolicy(t *testing.T) {
	t.Parallel()
	candidate := func(f *fixture, rego string) {
		f.write("candidate/authz.rego", rego)
		f.write("candidate/.manifest", `{"revision": "c1", "roots": ["portcullis"]}`)
	}
	t.Run("a valid candidate is a shadow evaluator, watched", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		candidate(f, "package portcullis.authz\n\ndecision := false\n")
		cfg := f.config(withShadow)
		g, err := build(t, cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		if g.Shadow == nil || g.Shadow.Status().Bundles[0].Revision != "c1" {
			t.Fatalf("shadow = %+v", g.Shadow)
		}
		if !slices.Contains(Files(cfg), cfg.Policy.Shadow.Bundles[0].Path) {
			t.Errorf("Files %v does not watch the candidate", Files(cfg))
		}
		// The candidate's evaluations are not the enforced policy's.
		if g.Engine.Status().Bundles[0].Revision != "r1" {
			t.Errorf("enforced bundles = %+v", g.Engine.Status().Bundles)
		}
	})
	t.Run("no policy.shadow is no shadow", func(t *testing.T) {
		t.Parallel()
		g, err := build(t, newFixture(t).config(nil), nil)
		if err != nil || g.Shadow != nil {
			t.Fatalf("shadow %v, %v", g.Shadow, err)
		}
	})
	for _, tc := range []struct{ name, rego, want string }{
		{"a candidate with a Rego error refuses the generation", "package portcullis.authz\n\ndecision if {{\n", "policy.shadow: "},
		{"a candidate without the decision rule refuses the generation", "package portcullis.authz\n\nother := true\n", "policy.shadow: no bundle defines the decision rule"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			candidate(f, tc.rego)
			g, err := build(t, f.config(withShadow), nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Build = %v, %v; want an error with %q", g, err, tc.want)
			}
		})
	}
}
