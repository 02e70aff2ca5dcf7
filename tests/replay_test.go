package tests

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// replayTraffic is the mixed traffic of the replay tests, by label: what
// the example configuration answers, and whether the policy decides it.
var replayTraffic = []struct {
	label, method, path, body, cred string
	status                          int
	reachesPolicy                   bool
}{
	{"public read", "GET", "/public/hello", "", "", 200, true},
	{"token read", "GET", "/api/v1/users", "", "token", 200, true},
	{"partner read 1", "GET", "/api/v1/users", "", "read", 200, true},
	{"partner read 2", "GET", "/api/v1/users", "", "read", 200, true},
	{"partner write", "POST", "/api/v1/users", `{"name":"a","email":"a@example.com"}`, "read", 403, true},
	{"internal write", "POST", "/api/v1/users", `{"name":"b","email":"b@example.com"}`, "full", 200, true},
	{"internal read", "GET", "/api/v1/users", "", "full", 200, true},
	{"partner read 3", "HEAD", "/api/v1/users", "", "read", 200, true},
	{"no credential", "GET", "/api/v1/users", "", "", 401, false},
	{"no route", "GET", "/nowhere", "", "", 404, false},
}

// replayLog drives replayTraffic through the example configuration and
// returns the gateway, and the decision id of each label once the
// decision-log file holds them all.
func replayLog(t *testing.T) (*gateway, map[string]string) {
	t.Helper()
	g, _ := exampleGateway(t)
	token := strings.TrimSpace(run(t, binary, "demo", "token", "--dir", filepath.Join(g.dir, ".demo")))
	creds := map[string]map[string]string{
		"":      {},
		"token": {"Authorization": "Bearer " + token},
		"read":  {"X-API-Key": "partner-read-key-rotated-2026-04"},
		"full":  {"X-API-Key": "internal-svc-key-rotated-2026-04"},
	}
	ids := map[string]string{}
	for _, tr := range replayTraffic {
		h := map[string]string{}
		for k, v := range creds[tr.cred] {
			h[k] = v
		}
		var body io.Reader
		if tr.body != "" {
			h["Content-Type"] = "application/json"
			body = strings.NewReader(tr.body)
		}
		resp := g.do(tr.method, tr.path, body, h)
		readAll(t, resp)
		if resp.StatusCode != tr.status {
			t.Fatalf("%s: %s %s = %d, want %d", tr.label, tr.method, tr.path, resp.StatusCode, tr.status)
		}
		ids[tr.label] = resp.Header.Get("X-Decision-Id")
	}
	log := filepath.Join(g.dir, ".demo", "decisions.log")
	policyEventually(t, 10*time.Second, "every decision in the decision-log file", func() bool {
		b, _ := os.ReadFile(log)
		for _, id := range ids {
			if !bytes.Contains(b, []byte(`"decision_id":"`+id+`"`)) {
				return false
			}
		}
		return true
	})
	return g, ids
}

// candidateBundle is the example bundle (policy and data, not its tests)
// with the policy edited by edit.
func candidateBundle(t *testing.T, edit func(string) string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "candidate")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"authz.rego", "data.json"} {
		b, err := os.ReadFile(filepath.Join("../bundles/portcullis", f))
		if err != nil {
			t.Fatal(err)
		}
		if f == "authz.rego" {
			b = []byte(edit(string(b)))
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// noPartnerReads removes the rule that lets read-access consumers GET.
func noPartnerReads(t *testing.T) string {
	return candidateBundle(t, func(s string) string {
		const rule = "allow if {\n\tinput.identity.method == \"api_key\"\n\tread_methods[input.request.method]\n\tinput.identity.groups[_] == \"read-access\"\n}\n"
		if !strings.Contains(s, rule) {
			t.Fatal("bundles/portcullis/authz.rego: the read-access rule has changed; update this test")
		}
		return strings.Replace(s, rule, "", 1)
	})
}

// portcullis runs the binary and returns its exit code and output.
func portcullis(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(binary, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if _, exit := err.(*exec.ExitError); err != nil && !exit {
		t.Fatal(err)
	}
	return cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()
}

type replayReport struct {
	Events, Replayed, Unchanged int
	AllowToDeny                 replayChange   `json:"allow_to_deny"`
	DenyToAllow                 replayChange   `json:"deny_to_allow"`
	Skipped                     map[string]int `json:"skipped"`
	NotEvaluated                map[string]int `json:"not_evaluated"`
}

type replayChange struct {
	Total    int
	ByRoute  map[string]int `json:"by_route"`
	ByReason map[string]int `json:"by_reason"`
	Examples []struct {
		DecisionID string   `json:"decision_id"`
		Method     string   `json:"method"`
		Subject    string   `json:"subject"`
		NewReasons []string `json:"new_reasons"`
	}
}

func TestReplay(t *testing.T) {
	g, ids := replayLog(t)
	cfg := filepath.Join(g.dir, "portcullis.yaml")
	log := filepath.Join(g.dir, ".demo", "decisions.log")
	unchanged := filepath.Join(g.dir, "bundles", "portcullis")
	narrower := noPartnerReads(t)
	wider := candidateBundle(t, func(string) string {
		return "package portcullis.authz\n\ndecision := {\"allow\": true}\n"
	})
	reached := 0
	for _, tr := range replayTraffic {
		if tr.reachesPolicy {
			reached++
		}
	}
	var partnerReads []string
	for label, id := range ids {
		if strings.HasPrefix(label, "partner read") {
			partnerReads = append(partnerReads, id)
		}
	}
	slices.Sort(partnerReads)

	tests := []struct {
		name    string
		args    []string
		code    int
		toDeny  []string
		toAllow int
	}{
		{"(a) the bundle that made the log changes nothing", []string{"--bundle", unchanged}, 0, nil, 0},
		{"(b) a bundle that denies the partner's reads lists exactly those", []string{"--bundle", narrower}, 1, partnerReads, 0},
		{"(c) a narrowing change passes --fail-on widen", []string{"--bundle", narrower, "--fail-on", "widen"}, 0, partnerReads, 0},
		{"a widening change fails --fail-on widen", []string{"--bundle", wider, "--fail-on", "widen"}, 1, nil, 1},
		{"the configuration's own bundles change nothing", nil, 0, nil, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"replay", "--config", cfg, "--output", "json", "--examples", "10"}, tc.args...)
			code, out, errOut := portcullis(t, append(args, log)...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\n%s%s", code, tc.code, out, errOut)
			}
			var rep replayReport
			if err := json.Unmarshal([]byte(out), &rep); err != nil {
				t.Fatalf("%v: %s", err, out)
			}
			if rep.Events != len(replayTraffic) || rep.Replayed != reached {
				t.Fatalf("events %d replayed %d, want %d and %d: %s", rep.Events, rep.Replayed, len(replayTraffic), reached, out)
			}
			if rep.NotEvaluated["credential_missing"] != 1 || rep.NotEvaluated["no_route"] != 1 {
				t.Errorf("not evaluated %v, want credential_missing and no_route once", rep.NotEvaluated)
			}
			var got []string
			for _, e := range rep.AllowToDeny.Examples {
				got = append(got, e.DecisionID)
				if e.Subject != "read-only-partner" || e.NewReasons[0] != "denied" {
					t.Errorf("example %+v", e)
				}
			}
			slices.Sort(got)
			if !slices.Equal(got, tc.toDeny) || rep.AllowToDeny.Total != len(tc.toDeny) {
				t.Fatalf("allow→deny %d %v, want %v: %s", rep.AllowToDeny.Total, got, tc.toDeny, out)
			}
			if len(tc.toDeny) > 0 && (rep.AllowToDeny.ByRoute["users-api"] != len(tc.toDeny) || rep.AllowToDeny.ByReason["denied"] != len(tc.toDeny)) {
				t.Errorf("by route %v, by reason %v", rep.AllowToDeny.ByRoute, rep.AllowToDeny.ByReason)
			}
			if rep.DenyToAllow.Total != tc.toAllow {
				t.Fatalf("deny→allow %d, want %d", rep.DenyToAllow.Total, tc.toAllow)
			}
		})
	}

	t.Run("the text report and stdin", func(t *testing.T) {
		f, err := os.Open(log)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		cmd := exec.Command(binary, "replay", "--bundle", narrower, "-")
		cmd.Stdin = f
		out, _ := cmd.CombinedOutput()
		if code := cmd.ProcessState.ExitCode(); code != 1 {
			t.Fatalf("exit %d: %s", code, out)
		}
		for _, want := range []string{"3 allow→deny", "users-api=3", "never reached the policy: credential_missing=1 no_route=1", partnerReads[0]} {
			if !strings.Contains(string(out), want) {
				t.Errorf("report lacks %q:\n%s", want, out)
			}
		}
	})

	t.Run("(e) emitted tests pass against the bundle that made them, and fail against the change", func(t *testing.T) {
		tests := filepath.Join(t.TempDir(), "replayed_test.rego")
		if code, out, errOut := portcullis(t, "replay", "--config", cfg, "--bundle", unchanged, "--emit-tests", tests, log); code != 0 {
			t.Fatalf("exit %d: %s%s", code, out, errOut)
		}
		src, err := os.ReadFile(tests)
		if err != nil {
			t.Fatal(err)
		}
		// One test per route, method, path, subject and result: the first
		// two partner reads are one.
		if n := strings.Count(string(src), "\ntest_"); n != reached-1 {
			t.Fatalf("%d tests, want %d:\n%s", n, reached-1, src)
		}
		for _, c := range []struct {
			bundle string
			code   int
			want   string
		}{{unchanged, 0, "PASS"}, {narrower, 2, "FAIL"}} {
			dir := t.TempDir()
			for _, f := range []string{"authz.rego", "data.json"} {
				b, err := os.ReadFile(filepath.Join(c.bundle, f))
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.WriteFile(filepath.Join(dir, "replayed_test.rego"), src, 0o644); err != nil {
				t.Fatal(err)
			}
			code, out, errOut := portcullis(t, "test", dir)
			if code != c.code || !strings.Contains(out, c.want) {
				t.Fatalf("portcullis test against %s: exit %d, want %d:\n%s%s\n%s", c.bundle, code, c.code, out, errOut, src)
			}
			// And OPA's own runner, as the file's users will run it.
			opa := exec.Command("go", "tool", "opa", "test", dir)
			out2, _ := opa.CombinedOutput()
			if code := opa.ProcessState.ExitCode(); (code == 0) != (c.code == 0) {
				t.Fatalf("go tool opa test against %s: exit %d:\n%s", c.bundle, code, out2)
			}
		}
	})

	t.Run("eval replays one event", func(t *testing.T) {
		events := map[string][]byte{}
		f, err := os.Open(log)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			for label, id := range ids {
				if bytes.Contains(sc.Bytes(), []byte(`"decision_id":"`+id+`"`)) {
					p := filepath.Join(t.TempDir(), "event.json")
					if err := os.WriteFile(p, sc.Bytes(), 0o644); err != nil {
						t.Fatal(err)
					}
					events[label] = []byte(p)
				}
			}
		}
		narrowCfg := filepath.Join(g.dir, "narrow.yaml")
		b, err := os.ReadFile(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(narrowCfg, bytes.Replace(b, []byte("path: bundles/portcullis"), []byte("path: "+narrower), 1), 0o644); err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			name, cfg, label string
			code             int
			differs          any
			warn             string
		}{
			{"the recorded decision, replayed, is the same", cfg, "partner read 1", 0, false, ""},
			{"a recorded deny, replayed, is the same", cfg, "partner write", 0, false, ""},
			{"a changed bundle differs", narrowCfg, "partner read 1", 4, true, ""},
			{"an event that never reached the policy warns", cfg, "no credential", 3, nil, "never reached the policy (outcome credential_missing)"},
		} {
			t.Run(c.name, func(t *testing.T) {
				code, out, errOut := portcullis(t, "eval", "--config", c.cfg, "--input", string(events[c.label]))
				var got map[string]any
				if err := json.Unmarshal([]byte(out), &got); err != nil || code != c.code {
					t.Fatalf("exit %d (want %d), %v: %s%s", code, c.code, err, out, errOut)
				}
				if got["decision_id"] != ids[c.label] || got["differs"] != c.differs || !strings.Contains(errOut, c.warn) {
					t.Fatalf("decision_id %v (logged %s), differs %v (want %v), stderr %q", got["decision_id"], ids[c.label], got["differs"], c.differs, errOut)
				}
				if c.differs != nil && got["recorded"] == nil {
					t.Fatalf("no recorded decision: %s", out)
				}
			})
		}
	})
}
