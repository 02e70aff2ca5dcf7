package engine

import (
	"context"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
)

func TestHeldDataIsOutOfReach(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, body string
		want       string // "" when the module compiles
	}{
		{"a rule reading the held object", "decision := {\"allow\": count(data.portcullis.consumers) > 0}", "authz.rego:3: data.portcullis.consumers reads data.portcullis.consumers"},
		{"a rule reading one consumer", "decision := {\"allow\": data.portcullis.consumers.alice.groups[0] == \"x\"}", "authz.rego:3:"},
		{"an import", "import data.portcullis.consumers as c\n\ndecision := {\"allow\": count(c) > 0}", "authz.rego:5:"},
		{"a rule reading the second held path", "decision := {\"allow\": count(data.portcullis.revoked_api_keys) == 0}", "authz.rego:3: data.portcullis.revoked_api_keys reads data.portcullis.revoked_api_keys"},
		{"a rule reading other data", "decision := {\"allow\": data.portcullis.settings.open == true}", ""},
		{"a rule reading the identity", "decision := {\"allow\": input.identity.consumer == \"alice\"}", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := authzBundle(t, "r", tc.body)
			writeFiles(t, dir, map[string]string{
				"portcullis/consumers/data.json": `{"alice": {"groups": ["x"]}}`,
				"portcullis/settings/data.json":  `{"open": true}`,
			})
			e, err := New(context.Background(), withRules(Options{Sources: sources(dir), Hold: []string{"portcullis.consumers", "portcullis.revoked_api_keys"}}))
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if held := e.TakeHeld(); len(held) != 1 || string(held[0].Raw) != `{"alice": {"groups": ["x"]}}` {
					t.Fatalf("TakeHeld() = %v", held)
				}
				if again := e.TakeHeld(); again != nil {
					t.Fatalf("second TakeHeld() = %v", again)
				}
				if _, ok := e.Data("portcullis.consumers"); ok {
					t.Fatal("held data is in the engine's data")
				}
				if v, ok := e.Data("portcullis.settings.open"); !ok || v != true {
					t.Fatalf("other data: %v, %v", v, ok)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// The compiler refuses most refs that stop above the held path from a
// package below it as recursive, so reaches is tested on its own.
func TestReaches(t *testing.T) {
	t.Parallel()
	held := []string{"portcullis", "consumers"}
	tests := []struct {
		ref  string
		want bool
	}{
		{"data.portcullis.consumers", true},
		{"data.portcullis.consumers.alice.keys[0]", true},
		{"data.portcullis[x]", true},
		{"data[x].consumers", true},
		{"data.portcullis", true},
		{"data", true},
		{"data.portcullis.settings", false},
		{"data.other.consumers", false},
		{"data.portcullis[1]", false},
	}
	for _, tc := range tests {
		ref := ast.MustParseRef(tc.ref)
		if got := reaches(ref, held); got != tc.want {
			t.Errorf("reaches(%s) = %v, want %v", tc.ref, got, tc.want)
		}
	}
}
