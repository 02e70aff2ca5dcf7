package decisionlog

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/portcullis/portcullis/policy"
)

var update = flag.Bool("update", false, "rewrite testdata golden files")

// typicalInput is an input document shaped like the gateway's.
func typicalInput() ast.Value {
	return ast.MustInterfaceToValue(map[string]any{
		"version": 1,
		"request": map[string]any{
			"id": "req-1", "method": "POST", "path": "/orders/42", "segments": []any{"orders", "42"},
			"host": "api.example.com", "scheme": "https",
			"query":   map[string]any{"expand": []any{"items"}},
			"headers": map[string]any{"content-type": "application/json", "user-agent": "curl/8"},
			"body":    map[string]any{"card": map[string]any{"number": "4111111111111111", "cvc": "123"}, "qty": 2, "note": "line1\nline2 \"q\" <b>"},
		},
		"route":      map[string]any{"name": "orders", "operation_id": "createOrder", "path_params": map[string]any{"id": "42"}},
		"identity":   map[string]any{"authenticated": true, "method": "jwt", "subject": "alice", "groups": []any{"admin", "dev"}, "scopes": []any{"orders:write"}},
		"validation": map[string]any{"valid": true, "errors": []any{}},
	})
}

func goldenEvent() *Event {
	return &Event{
		DecisionID:     "0b4c8f2e-6d1a-4c53-9a57-1f3a2b4c5d6e",
		Timestamp:      time.Date(2026, 3, 4, 5, 6, 7, 123456789, time.FixedZone("CET", 3600)),
		Path:           "portcullis/authz/decision",
		Input:          typicalInput(),
		Result:         ast.MustInterfaceToValue(map[string]any{"allow": false, "reasons": []any{"not_owner"}}),
		Bundles:        map[string]policy.BundleID{"main": {Revision: "rev-7", Hash: "9f86d0"}, "authz": {Revision: "abc123", Hash: "60303a"}},
		Allow:          false,
		Status:         403,
		Reasons:        []string{"not_owner"},
		Route:          "orders",
		Subject:        "alice",
		Consumer:       "shop",
		AuthnMethod:    "jwt",
		Latency:        1500 * time.Microsecond,
		EvalDuration:   210 * time.Microsecond,
		Error:          "",
		RequestedBy:    "192.0.2.7:51234",
		RequestHeaders: []Header{{"X-Request-Id", []string{"req-1"}}, {"User-Agent", []string{"curl/8"}}},
		TraceID:        "4bf92f3577b34da6a3ce929d0e0e4736",
	}
}

// logOne logs ev through a stdout sink with opts and returns the line.
func logOne(t *testing.T, opts Options, ev *Event) map[string]any {
	t.Helper()
	line := logLine(t, opts, ev)
	if line == "" {
		return nil
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(line), &m); err != nil {
		t.Fatalf("event is not JSON: %v\n%s", err, line)
	}
	return m
}

func logLine(t *testing.T, opts Options, ev *Event) string {
	t.Helper()
	var out syncBuffer
	l := newTestLogger(t, opts, StdoutOptions{W: &out})
	l.Log(context.Background(), ev)
	closeLogger(t, l)
	s := out.String()
	if strings.Count(s, "\n") > 1 {
		t.Fatalf("want at most one line, got %q", s)
	}
	return strings.TrimSuffix(s, "\n")
}

func TestEventShapeMatchesGolden(t *testing.T) {
	t.Parallel()
	line := logLine(t, Options{Version: "1.2.3", Labels: map[string]string{"app": "gw", "id": "ignored"},
		Erase: []string{"/input/request/body/card"}}, goldenEvent())
	line = strings.Replace(line, processID, "<process-id>", 1)
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, []byte(line), "", "  "); err != nil {
		t.Fatalf("event is not JSON: %v\n%s", err, line)
	}
	pretty.WriteByte('\n')
	path := filepath.Join("testdata", "event.golden.json")
	if *update {
		if err := os.WriteFile(path, pretty.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if !bytes.Equal(pretty.Bytes(), want) {
		t.Errorf("event differs from %s (go test -update to accept):\n%s", path, pretty.String())
	}
}

func TestEventFields(t *testing.T) {
	t.Parallel()
	fixed := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	tests := []struct {
		name  string
		ev    *Event
		check func(t *testing.T, m map[string]any)
	}{
		{
			name: "an event without id or time gets a UUID and the clock's time",
			ev:   &Event{Path: "p", Allow: true},
			check: func(t *testing.T, m map[string]any) {
				if id, _ := m["decision_id"].(string); len(id) != 36 {
					t.Errorf("decision_id = %q, want a UUID", id)
				}
				if m["timestamp"] != "2026-01-02T03:04:05.000000006Z" {
					t.Errorf("timestamp = %v", m["timestamp"])
				}
			},
		},
		{
			name: "absent input, result, bundles and headers are omitted and reasons are an empty array",
			ev:   &Event{DecisionID: "d", Path: "p", Status: 401},
			check: func(t *testing.T, m map[string]any) {
				for _, k := range []string{"input", "result", "bundles", "request_context", "error", "erased", "masked", "trace_id"} {
					if _, ok := m[k]; ok {
						t.Errorf("%s present: %v", k, m[k])
					}
				}
				p := m["portcullis"].(map[string]any)
				if r, ok := p["reasons"].([]any); !ok || len(r) != 0 {
					t.Errorf("reasons = %#v, want []", p["reasons"])
				}
			},
		},
		{
			name: "the forwarded path is written byte for byte, and only when there is one",
			ev:   &Event{DecisionID: "d", Path: "p", Status: 200, ForwardedPath: "/api/caf%C3%A9/a%21b"},
			check: func(t *testing.T, m map[string]any) {
				if p := m["portcullis"].(map[string]any); p["forwarded_path"] != "/api/caf%C3%A9/a%21b" {
					t.Errorf("forwarded_path = %#v", p["forwarded_path"])
				}
			},
		},
		{
			name: "a request not forwarded has no forwarded path",
			ev:   &Event{DecisionID: "d", Path: "p", Status: 403},
			check: func(t *testing.T, m map[string]any) {
				if p, ok := m["portcullis"].(map[string]any)["forwarded_path"]; ok {
					t.Errorf("forwarded_path = %#v", p)
				}
			},
		},
		{
			name: "an error is an object with a message",
			ev:   &Event{DecisionID: "d", Error: "context deadline reached"},
			check: func(t *testing.T, m map[string]any) {
				if e, _ := m["error"].(map[string]any); e["message"] != "context deadline reached" {
					t.Errorf("error = %v", m["error"])
				}
			},
		},
		{
			name: "a plain Go input is written as JSON",
			ev:   &Event{DecisionID: "d", Input: map[string]any{"a": []string{"x"}, "b": struct{ N int }{3}}},
			check: func(t *testing.T, m map[string]any) {
				got, _ := json.Marshal(m["input"])
				if string(got) != `{"a":["x"],"b":{"N":3}}` {
					t.Errorf("input = %s", got)
				}
			},
		},
		{
			name: "an unencodable input is erased, not written half",
			ev:   &Event{DecisionID: "d", Input: map[string]any{"f": func() {}}},
			check: func(t *testing.T, m map[string]any) {
				if _, ok := m["input"]; ok {
					t.Errorf("input present: %v", m["input"])
				}
				if e, _ := json.Marshal(m["erased"]); string(e) != `["/input"]` {
					t.Errorf("erased = %s", e)
				}
			},
		},
		{
			name: "an ast set becomes an array and a non-string key its JSON text",
			ev: &Event{DecisionID: "d", Input: ast.NewObject(
				[2]*ast.Term{ast.IntNumberTerm(1), ast.SetTerm(ast.StringTerm("x"))},
			)},
			check: func(t *testing.T, m map[string]any) {
				got, _ := json.Marshal(m["input"])
				if string(got) != `{"1":["x"]}` {
					t.Errorf("input = %s", got)
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m := logOne(t, Options{Now: func() time.Time { return fixed }}, tc.ev)
			if m == nil {
				t.Fatal("no event written")
			}
			tc.check(t, m)
		})
	}
}

func TestAppendStringEscapesLikeEncodingJSON(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"", "plain", "q\"b\\", "nl\n\r\t\x00\x1f", "bad\xffutf8", "ü€😀", "\u2028\u2029", "<>&"} {
		t.Run(s, func(t *testing.T) {
			t.Parallel()
			got := appendString(nil, s)
			var back string
			if err := json.Unmarshal(got, &back); err != nil {
				t.Fatalf("%q is not a JSON string: %v", got, err)
			}
			want := validUTF8(s)
			if back != want {
				t.Errorf("round trip = %q, want %q", back, want)
			}
			if bytes.ContainsAny(got, "\n\r") {
				t.Errorf("%q contains a raw newline", got)
			}
		})
	}
}
