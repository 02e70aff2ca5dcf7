package replay

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/portcullis/portcullis/policy/bundle"
	"github.com/portcullis/portcullis/policy/engine"
)

// readOnlyPolicy lets API-key consumers in read-access GET and full-access
// do anything: the shape of bundles/portcullis.
const readOnlyPolicy = `package portcullis.authz

decision := {"allow": true} if allow
else := {"allow": false, "reasons": {"denied"}}

allow if {
	input.identity.method == "api_key"
	input.identity.groups[_] == "full-access"
}

allow if {
	input.identity.method == "api_key"
	input.request.method == "GET"
	input.identity.groups[_] == "read-access"
}
`

// noReadPolicy is readOnlyPolicy without the read-access rule.
const noReadPolicy = `package portcullis.authz

decision := {"allow": true} if allow
else := {"allow": false, "reasons": {"read_denied"}}

allow if {
	input.identity.method == "api_key"
	input.identity.groups[_] == "full-access"
}
`

// newEngine compiles rego as the one module of a bundle directory.
func newEngine(t testing.TB, rego string) (*engine.Engine, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "candidate")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "authz.rego"), []byte(rego), 0o644); err != nil {
		t.Fatal(err)
	}
	eng, err := engine.New(context.Background(), engine.Options{
		Sources: []bundle.Source{{Name: "candidate", Path: dir}}, Query: "data.portcullis.authz.decision",
		Timeout: time.Second, MaxBundleBytes: 1 << 20, MaskRule: "data.system.log.mask", DropRule: "data.system.log.drop",
		DecisionCacheSize: 1000,
	})
	if err != nil {
		t.Fatal(err)
	}
	return eng, dir
}

// event is a decision-log event as the gateway writes it: allowed is the
// policy's decision; a nil result means the policy was not evaluated and
// outcome says why.
func event(id, method, group string, result any, outcome string) []byte {
	input := map[string]any{
		"version": 2,
		"request": map[string]any{"id": "req-" + id, "method": method, "path": "/api/v1/users", "segments": []string{"api", "v1", "users"}},
		"route":   map[string]any{"name": "users-api"},
		"identity": map[string]any{"authenticated": true, "method": "api_key", "subject": "partner-" + group,
			"groups": []string{group}},
	}
	reasons := []string{outcome}
	ev := map[string]any{
		"decision_id": id, "path": "portcullis/authz/decision", "input": input,
		"portcullis": map[string]any{"reasons": reasons, "route": "users-api", "subject": "partner-" + group},
	}
	if result != nil {
		ev["result"] = result
		if r, ok := result.(map[string]any); ok && r["reasons"] != nil {
			ev["portcullis"].(map[string]any)["reasons"] = append(reasons, r["reasons"].([]string)...)
		}
	}
	b, err := json.Marshal(ev)
	if err != nil {
		panic(err)
	}
	return b
}

var (
	allowed = map[string]any{"allow": true}
	denied  = map[string]any{"allow": false, "reasons": []string{"denied"}}
)
