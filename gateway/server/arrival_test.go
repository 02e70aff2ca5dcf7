package server

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
)

// loggedEvents flushes srv's file decision log and returns its events by
// decision id.
func loggedEvents(t *testing.T, srv *Server) map[string]map[string]any {
	t.Helper()
	_ = srv.gen.Load().Close(context.Background())
	b, err := os.ReadFile(srv.boot.DecisionLog.File.Path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]any{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var ev map[string]any
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("%v: %s", err, line)
		}
		out[ev["decision_id"].(string)] = ev
	}
	return out
}

// TestEveryRefusalIsLoggedWithTheRequestFacts: requests no route took
// (no route, a limit, a rejected path) are logged with method, path, host
// and client address. (Heads the listener refuses reach ServeHTTP too: see
// tests/hardening_conn_test.go.)
func TestEveryRefusalIsLoggedWithTheRequestFacts(t *testing.T) {
	srv, _ := jwtPipeline(t, 0, true)
	many := httptest.NewRequest("GET", "/api/v1/users", nil)
	for i := range 101 {
		many.Header.Set("X-H-"+strconv.Itoa(i), "v")
	}
	tests := []struct {
		name         string
		r            *http.Request
		status       int
		path, raw    string
		method, host string
	}{
		{"no route", httptest.NewRequest("PUT", "http://Gw.Example:8080/nowhere?token=t", nil), 404, "/nowhere", "", "PUT", "gw.example"}, // the normalized host routing used,
		{"a rejected path", httptest.NewRequest("GET", "/api/v1/%2e%2e/admin", nil), 400, "", "/api/v1/%2e%2e/admin", "GET", "example.com"},
		{"a target over the limit", httptest.NewRequest("GET", "/api/v1/"+strings.Repeat("a", 9000), nil), 414, "", "/api/v1/" + strings.Repeat("a", 2040), "GET", "example.com"},
		{"too many header fields", many, 431, "", "/api/v1/users", "GET", "example.com"},
	}
	ids := make([]string, len(tests))
	for i, tc := range tests {
		tc.r.RemoteAddr = "198.51.100.7:4242"
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, tc.r)
		if w.Code != tc.status {
			t.Fatalf("%s: got %d, want %d: %s", tc.name, w.Code, tc.status, w.Body)
		}
		ids[i] = w.Header().Get(DecisionIDHeader)
	}
	evs := loggedEvents(t, srv)
	check := func(t *testing.T, ev map[string]any, status int, method, path, raw, host, remote string) {
		t.Helper()
		line, _ := json.Marshal(ev)
		in, _ := ev["input"].(map[string]any)
		req, _ := in["request"].(map[string]any)
		p, _ := ev["portcullis"].(map[string]any)
		if req["method"] != method || req["host"] != host || req["remote_addr"] != remote || ev["requested_by"] != remote {
			t.Fatalf("event lacks method/host/client: %s", line)
		}
		if gotPath, ok := req["path"]; (path != "") != ok || (ok && gotPath != path) {
			t.Fatalf("input.request.path = %v, want %q: %s", gotPath, path, line)
		}
		if gotRaw, _ := p["raw_path"].(string); gotRaw != raw {
			t.Fatalf("portcullis.raw_path = %.80q, want %.80q: %.300s", gotRaw, raw, line)
		}
		if p["status"] != float64(status) {
			t.Fatalf("status %v, want %d", p["status"], status)
		}
		if strings.Contains(string(line), "secret") || strings.Contains(string(line), "token=") {
			t.Fatalf("the query reached the log: %s", line)
		}
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev := evs[ids[i]]
			if ev == nil {
				t.Fatalf("no event for %s", ids[i])
			}
			check(t, ev, tc.status, tc.method, tc.path, tc.raw, tc.host, "198.51.100.7:4242")
		})
	}
}
