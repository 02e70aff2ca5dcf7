package engine

import (
	"os/exec"
	"strings"
	"testing"
)

// TestPolicyNeverImportsGateway keeps the dependency arrow one way
// (STYLE.md §1), like Tailscale's tstest/deptest.
func TestPolicyNeverImportsGateway(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("go", "list", "-e", "-deps", "github.com/portcullis/portcullis/policy/...").Output()
	if err != nil {
		t.Skipf("go list: %v", err)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if strings.HasPrefix(pkg, "github.com/portcullis/portcullis/gateway/") {
			t.Errorf("policy/... depends on %s", pkg)
		}
	}
}
