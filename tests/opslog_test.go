package tests

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// logLines decodes the gateway's JSON log; every line must be JSON.
func logLines(t *testing.T, stderr string) []map[string]any {
	t.Helper()
	var lines []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(stderr), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line is not JSON: %v: %q", err, l)
		}
		lines = append(lines, m)
	}
	return lines
}

func linesWith(lines []map[string]any, msg string) []map[string]any {
	var out []map[string]any
	for _, l := range lines {
		if l["message"] == msg {
			out = append(out, l)
		}
	}
	return out
}

// TestOpsLogReadable checks the gateway's own JSON log as an operator reads
// it: RFC 3339 times, durations with units, a start-up summary, net/http's
// errors as structured lines, and one line for a failed reload.
func TestOpsLogReadable(t *testing.T) {
	t.Parallel()
	certs := newTestTLS(t)
	up := newUpstream(t, "api")
	g := startGateway(t, gatewayConfig{
		Listen: tlsListen,
		Body: fmt.Sprintf(`
log: {level: debug}
policy:
  bundles: [{name: main, path: bundle}]
  watch: false # the SIGHUP below is the one reload
decision_log:
  file: {path: decisions.log}
routes:
  - name: api
    match: {path_prefix: /api}
    upstream: %s
    authn: {anonymous: true}
  - name: other
    match: {path_prefix: /other}
    upstream: %[1]s
    authn: {anonymous: true}
`, up.URL),
		Files: withFiles(allowAllBundle, certs.files),
	})

	t.Run("the start-up line summarizes what runs", func(t *testing.T) {
		started := linesWith(logLines(t, g.stderr.String()), "portcullis started")
		if len(started) != 1 {
			t.Fatalf("%d start-up lines, want 1:\n%s", len(started), g.stderr.String())
		}
		s := started[0]
		want := map[string]any{
			"routes":             []any{"api", "other"},
			"bundles":            []any{"main@allow-all"},
			"tls":                true,
			"client_auth":        false,
			"decision_log_sinks": []any{"file"},
		}
		for k, v := range want {
			if got, _ := json.Marshal(s[k]); string(got) != mustJSON(t, v) {
				t.Errorf("start-up %s = %s, want %s", k, got, mustJSON(t, v))
			}
		}
		if c, ok := s["caches"].(map[string]any); !ok || c["jwt"] != float64(10000) || c["decision"] == nil {
			t.Errorf("start-up caches = %v, want the JWT cache size and the decision cache's state", s["caches"])
		}
	})

	t.Run("a TLS handshake error is a structured debug line", func(t *testing.T) {
		c, err := net.Dial("tcp", strings.TrimPrefix(g.proxy, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprint(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n") // plaintext to the TLS port
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, _ = c.Read(make([]byte, 512))
		c.Close()
		if !authnPoll(5*time.Second, func() bool {
			return strings.Contains(g.stderr.String(), "TLS handshake error")
		}) {
			t.Fatalf("no handshake error logged:\n%s", g.stderr.String())
		}
		for _, l := range linesWith(logLines(t, g.stderr.String()), "http server error") {
			if e, _ := l["error"].(string); strings.Contains(e, "TLS handshake error") && l["level"] != "debug" {
				t.Errorf("handshake error at %v, want debug: %v", l["level"], l)
			}
		}
	})

	t.Run("a failed reload is one line", func(t *testing.T) {
		before := len(logLines(t, g.stderr.String()))
		if err := os.WriteFile(filepath.Join(g.dir, "bundle", "authz.rego"), []byte("package portcullis.authz\n\ndecision := {\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		g.signal(syscall.SIGHUP)
		if !authnPoll(10*time.Second, func() bool { return strings.Contains(g.stderr.String(), "reload failed") }) {
			t.Fatalf("no reload failure logged:\n%s", g.stderr.String())
		}
		time.Sleep(300 * time.Millisecond) // anything else the failure would log
		var loud []map[string]any
		for _, l := range logLines(t, g.stderr.String())[before:] {
			if l["level"] != "debug" && l["level"] != "info" {
				loud = append(loud, l)
			}
		}
		if len(loud) != 1 || loud[0]["message"] != "reload failed; the running generation is kept" || loud[0]["error"] == "" {
			t.Errorf("reload failure logged as %d warning or error lines, want one with the error: %v", len(loud), loud)
		}
	})

	g.stop()
	lines := logLines(t, g.stderr.String())
	t.Run("times are RFC 3339 in UTC", func(t *testing.T) {
		for _, l := range lines {
			s, _ := l["time"].(string)
			ts, err := time.Parse(time.RFC3339Nano, s)
			if err != nil || ts.Location() != time.UTC || time.Since(ts) > time.Hour {
				t.Errorf("time %v: %v (want RFC 3339 UTC, recent)", l["time"], err)
			}
		}
	})
	t.Run("durations carry their unit", func(t *testing.T) {
		for msg, field := range map[string]string{"shutting down": "grace", "draining: /readyz fails, still accepting": "drain_delay"} {
			ls := linesWith(lines, msg)
			if len(ls) != 1 {
				t.Fatalf("%d %q lines", len(ls), msg)
			}
			if s, _ := ls[0][field].(string); !slices.Contains([]string{"10s", "10ms"}, s) {
				t.Errorf("%s = %v, want a duration string like 10s", field, ls[0][field])
			}
		}
	})
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestOpsLogConsoleNoColour runs the console format with stderr a pipe (the
// harness's buffer): no ANSI escapes, and readable times.
func TestOpsLogConsoleNoColour(t *testing.T) {
	t.Parallel()
	up := newUpstream(t, "api")
	g := startGateway(t, gatewayConfig{Body: fmt.Sprintf(`
log: {format: console}
policy:
  bundles: [{name: main, path: bundle}]
routes:
  - name: api
    match: {path_prefix: /api}
    upstream: %s
    authn: {anonymous: true}
`, up.URL), Files: allowAllBundle})
	g.stop()
	out := g.stderr.String()
	if strings.Contains(out, "\x1b[") {
		t.Errorf("console log to a pipe has ANSI escapes:\n%q", out)
	}
	first := strings.SplitN(out, " ", 2)[0]
	if _, err := time.Parse(time.RFC3339Nano, first); err != nil || !strings.Contains(out, "portcullis started") {
		t.Errorf("console line starts with %q (%v), want an RFC 3339 time; output:\n%s", first, err, out)
	}
}
