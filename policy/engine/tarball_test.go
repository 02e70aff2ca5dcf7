package engine

import (
	"os"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	opabundle "github.com/open-policy-agent/opa/v1/bundle"
)

// testBundle is an in-memory bundle, as `opa build` would produce, whose
// decision is true.
func testBundle(revision string) *opabundle.Bundle {
	src := "package portcullis.authz\n\ndecision := true\n"
	roots := []string{"portcullis"}
	return &opabundle.Bundle{
		Manifest: opabundle.Manifest{Revision: revision, Roots: &roots},
		Data:     map[string]any{"portcullis": map[string]any{"consumers": map[string]any{}}},
		Modules: []opabundle.ModuleFile{{
			URL: "/authz.rego", Path: "/authz.rego", Raw: []byte(src),
			Parsed: ast.MustParseModuleWithOpts(src, ast.ParserOptions{RegoVersion: ast.RegoV1}),
		}},
	}
}

func writeTarball(t testing.TB, path string, b *opabundle.Bundle) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := opabundle.NewWriter(f).DisableFormat(true).Write(*b); err != nil {
		t.Fatal(err)
	}
}
