package tests

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestDecisionLogRequestHeaders: decision_log.headers reach
// request_context.http.headers by name, sorted, each name once, absent
// ones left out. (That credentials never do is TestDecisionLogNeverLeaksSecrets'.)
func TestDecisionLogRequestHeaders(t *testing.T) {
	up := newUpstream(t, "api")
	g := startGateway(t, dlRouteConfig(up, `  headers: [X-Tenant, User-Agent, X-Absent, X-Tenant]
  file: {path: decisions.log}`))
	resp := g.do("GET", "/api/h", nil, map[string]string{"User-Agent": "probe/1", "X-Tenant": "blue"})
	if readAll(t, resp); resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	id := resp.Header.Get("X-Decision-Id")
	evs := waitEvents(t, "file", []string{id}, 10*time.Second, func() []dlEvent { return fileEvents(filepath.Join(g.dir, "decisions.log")) })
	line := string(evs[id][0].raw)
	want := `"request_context":{"http":{"headers":{"User-Agent":["probe/1"],"X-Tenant":["blue"]}}}`
	if !strings.Contains(line, want) {
		t.Fatalf("the event lacks %s:\n%s", want, line)
	}
}
