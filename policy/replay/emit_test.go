package replay

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/portcullis/portcullis/policy/engine"
)

// TestEmitterTestsPassAgainstTheirBundle emits the logged decisions of
// logOf, made by readOnlyPolicy, and runs them against it (they pass) and
// against noReadPolicy (they fail).
func TestEmitterTestsPassAgainstTheirBundle(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		policy string
		pass   bool
	}{
		{"the bundle that made the log", readOnlyPolicy, true},
		{"a bundle that decides otherwise", noReadPolicy, false},
	}
	eng, _ := newEngine(t, readOnlyPolicy)
	em := &Emitter{Package: "portcullis.authz.replayed_test", Decision: "data.portcullis.authz.decision", Max: 10}
	if _, err := Run(context.Background(), Options{Engine: eng, Decision: em.Decision, Emit: em.Add},
		[]Input{{Name: "day.log", R: bytes.NewReader(logOf())}}); err != nil {
		t.Fatal(err)
	}
	var src bytes.Buffer
	if _, err := em.WriteTo(&src); err != nil {
		t.Fatal(err)
	}
	// r1 and r3 are one case; the refusal, the other rule's event and the
	// torn line are none.
	if em.Len() != 4 || !strings.Contains(src.String(), `{r | some r in d.reasons} == {"denied"}`) {
		t.Fatalf("%d tests:\n%s", em.Len(), src.String())
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, dir := newEngine(t, tc.policy)
			if err := os.WriteFile(filepath.Join(dir, "replayed_test.rego"), src.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			ok, err := engine.RunTests(context.Background(), []string{dir}, &out, engine.TestOptions{MaxBundleBytes: 1 << 20})
			if err != nil || ok != tc.pass {
				t.Fatalf("ok %v (want %v), err %v:\n%s\n%s", ok, tc.pass, err, out.String(), src.String())
			}
		})
	}
}

func TestAssertions(t *testing.T) {
	t.Parallel()
	tests := []struct{ result, want string }{
		{`true`, "d == true"},
		{`{"allow": false, "status": 429, "reasons": ["slow", "slow"]}`, `d["allow"] == false; d["status"] == 429; {r | some r in d.reasons} == {"slow"}`},
		{`{"allowed": false, "http_status": 418, "body": "no"}`, `d["allowed"] == false; d["http_status"] == 418; d["body"] == "no"`},
		{`"not a decision"`, ""},
	}
	for _, tc := range tests {
		t.Run(tc.result, func(t *testing.T) {
			t.Parallel()
			ev, err := ParseEvent([]byte(`{"decision_id":"x","input":{},"result":`+tc.result+`}`), nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(assertions(ev.Recorded.Result.(ast.Value)), "; "); got != tc.want {
				t.Fatalf("assertions %q, want %q", got, tc.want)
			}
		})
	}
}
