package tests

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// shadowCandidate is the example bundle with one change: the read-only
// partner may HEAD but no longer GET.
func shadowCandidate(t *testing.T) map[string]string {
	t.Helper()
	files := map[string]string{}
	for _, name := range []string{".manifest", "authz.rego", "data.json"} {
		b, err := os.ReadFile(filepath.Join("../bundles/portcullis", name))
		if err != nil {
			t.Fatal(err)
		}
		files[name] = string(b)
	}
	const readRule = "\tread_methods[input.request.method]\n\tinput.identity.groups[_] == \"read-access\""
	if !strings.Contains(files["authz.rego"], readRule) {
		t.Fatal("bundles/portcullis/authz.rego: the read-access rule changed; update shadowCandidate")
	}
	files["authz.rego"] = strings.Replace(files["authz.rego"], readRule, "\tinput.request.method == \"HEAD\"\n\tinput.identity.groups[_] == \"read-access\"", 1)
	files[".manifest"] = `{"revision": "candidate-1", "roots": ["portcullis"]}`
	return files
}

// shadowStatus is the part of GET /v1/status this test reads.
type shadowStatus struct {
	Generation uint64 `json:"generation"`
	Policy     struct {
		Bundles []bundleIdentity `json:"bundles"`
	} `json:"policy"`
	Shadow *struct {
		Bundles     []bundleIdentity `json:"bundles"`
		Evaluated   int64            `json:"evaluated"`
		Diverged    int64            `json:"diverged"`
		AllowToDeny int64            `json:"allow_to_deny"`
		DenyToAllow int64            `json:"deny_to_allow"`
		Dropped     int64            `json:"dropped"`
	} `json:"shadow"`
}

type bundleIdentity struct {
	Name     string `json:"name"`
	Revision string `json:"revision"`
	Hash     string `json:"hash"`
}

func getShadowStatus(t *testing.T, g *gateway) shadowStatus {
	t.Helper()
	resp, err := http.Get(g.admin + "/v1/status")
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		Status shadowStatus `json:"status"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return s.Status
}

// TestShadowUnderLoad is issue 16's test (d): the example gateway gets a
// shadow bundle that denies the read-only partner's GETs, added to the
// running configuration; under load from 8 clients every response is the
// enforced bundle's, and /metrics, /v1/status and the decision log count
// exactly the partner's GETs as divergences.
func TestShadowUnderLoad(t *testing.T) {
	g, _ := exampleGateway(t)
	before := getShadowStatus(t, g)
	for name, content := range shadowCandidate(t) {
		p := filepath.Join(g.dir, "candidate", name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := os.ReadFile(filepath.Join(g.dir, "portcullis.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	withShadow := strings.Replace(string(cfg), "\npolicy:\n", "\npolicy:\n  shadow:\n    bundles: [{name: portcullis, path: candidate}]\n    queue_size: 100000\n", 1)
	// The load is many times the example's rate limits: lift them.
	withShadow = strings.Replace(withShadow, "rate: 5, per: 1s}", "rate: 1000000, per: 1s}", 1)
	withShadow = strings.Replace(withShadow, "rate: 50, per: 1s, burst: 100}", "rate: 1000000, per: 1s}", 1)
	policyReplace(t, g, "portcullis.yaml", withShadow)
	policyEventually(t, 10*time.Second, "/v1/status shows the shadow", func() bool {
		s := getShadowStatus(t, g)
		return s.Generation > before.Generation && s.Shadow != nil
	})

	token := strings.TrimSpace(run(t, binary, "demo", "token", "--dir", filepath.Join(g.dir, ".demo")))
	kinds := []struct {
		name, method, path, body string
		header                   map[string]string
		want                     int
		diverges                 bool
	}{
		{"partner GET", "GET", "/api/v1/users", "", map[string]string{"X-API-Key": "partner-read-key-rotated-2026-04"}, 200, true},
		{"partner HEAD", "HEAD", "/api/v1/users", "", map[string]string{"X-API-Key": "partner-read-key-rotated-2026-04"}, 200, false},
		{"partner POST", "POST", "/api/v1/users", `{"name":"t","email":"t@example.com"}`,
			map[string]string{"X-API-Key": "partner-read-key-rotated-2026-04", "Content-Type": "application/json"}, 403, false},
		{"service POST", "POST", "/api/v1/users", `{"name":"t","email":"t@example.com"}`,
			map[string]string{"X-API-Key": "internal-svc-key-rotated-2026-04", "Content-Type": "application/json"}, 200, false},
		{"token GET", "GET", "/api/v1/users", "", map[string]string{"Authorization": "Bearer " + token}, 200, false},
		{"public GET", "GET", "/public/hello", "", nil, 200, false},
	}
	const clients, perClient = 8, 300
	var (
		mu       sync.Mutex
		wrong    []string
		sent     = make([]int, len(kinds))
		client   = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
		wg       sync.WaitGroup
		failures = make(chan error, clients)
	)
	for c := range clients {
		wg.Go(func() {
			for i := range perClient {
				k := (c*perClient + i) % len(kinds)
				kind := kinds[k]
				var body io.Reader
				if kind.body != "" {
					body = strings.NewReader(kind.body)
				}
				req, _ := http.NewRequest(kind.method, g.proxy+kind.path, body)
				for h, v := range kind.header {
					req.Header.Set(h, v)
				}
				resp, err := client.Do(req)
				if err != nil {
					failures <- err
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				mu.Lock()
				sent[k]++
				if resp.StatusCode != kind.want {
					wrong = append(wrong, fmt.Sprintf("%s: %d, want %d", kind.name, resp.StatusCode, kind.want))
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(failures)
	for err := range failures {
		t.Fatal(err)
	}
	if len(wrong) > 0 {
		t.Fatalf("%d responses differ from the enforced bundle's, e.g. %v", len(wrong), wrong[:min(5, len(wrong))])
	}
	var total, diverging, public int64
	for k, n := range sent {
		total += int64(n)
		if kinds[k].diverges {
			diverging += int64(n)
		}
		if kinds[k].path == "/public/hello" {
			public += int64(n)
		}
	}

	// Every request reached the policy; wait until the shadow decided them all.
	var s shadowStatus
	policyEventually(t, 30*time.Second, "the shadow queue drains", func() bool {
		s = getShadowStatus(t, g)
		return s.Shadow.Evaluated+s.Shadow.Dropped >= total
	})
	sh := s.Shadow
	if sh.Evaluated != total || sh.Dropped != 0 || sh.AllowToDeny != diverging || sh.DenyToAllow != 0 || sh.Diverged != diverging {
		t.Errorf("/v1/status shadow = %+v; want %d evaluated, %d allow_to_deny (the partner's GETs), nothing else", *sh, total, diverging)
	}
	if len(sh.Bundles) != 1 || sh.Bundles[0].Revision != "candidate-1" || len(sh.Bundles[0].Hash) != 64 {
		t.Errorf("shadow bundles = %+v", sh.Bundles)
	}
	enforced := s.Policy.Bundles
	if len(enforced) != 1 || len(enforced[0].Hash) != 64 || enforced[0].Hash == sh.Bundles[0].Hash {
		t.Errorf("enforced bundles = %+v, shadow %+v: want two different content hashes", enforced, sh.Bundles)
	}

	metrics := shadowMetrics(t, g)
	for _, m := range []struct {
		route, outcome string
		want           int64
	}{
		{"users-api", "allow_to_deny", diverging},
		{"users-api", "same", total - diverging - public},
		{"public", "same", public},
		{"users-api", "deny_to_allow", 0},
	} {
		if got := metrics[m.route+"/"+m.outcome]; got != m.want {
			t.Errorf("portcullis_policy_shadow_total{route=%q,outcome=%q} = %d, want %d", m.route, m.outcome, got, m.want)
		}
	}
	if got := metrics["dropped"]; got != 0 {
		t.Errorf("portcullis_policy_shadow_dropped_total = %d", got)
	}

	// The decision log: one extra event per divergence, with the request's
	// decision_id and the shadow's decision; every event names the bundle
	// by its content hash.
	var events, shadowed int64
	var badHash, badShadow []string
	policyEventually(t, 30*time.Second, "the divergence events are in the decision log", func() bool {
		events, shadowed, badHash, badShadow = shadowEvents(t, filepath.Join(g.dir, ".demo", "decisions.log"), enforced[0].Hash, sh.Bundles[0].Hash)
		return shadowed >= diverging
	})
	if shadowed != diverging || len(badHash) > 0 || len(badShadow) > 0 {
		t.Errorf("%d shadow events, want %d; events with a wrong bundle hash %v; wrong shadow objects %v", shadowed, diverging, badHash[:min(3, len(badHash))], badShadow[:min(3, len(badShadow))])
	}
	if events < total {
		t.Errorf("%d request events, want at least %d", events, total)
	}

	// A replay of the same traffic against the candidate finds the same
	// divergences (the shadow's own events are skipped, not counted twice).
	code, out, errOut := portcullis(t, "replay", "--config", filepath.Join(g.dir, "portcullis.yaml"), "--bundle", filepath.Join(g.dir, "candidate"),
		"--output", "json", filepath.Join(g.dir, ".demo", "decisions.log"))
	var rep replayReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != 1 {
		t.Fatalf("replay exit %d: %v\n%s%s", code, err, out, errOut)
	}
	if int64(rep.AllowToDeny.Total) != sh.AllowToDeny || int64(rep.DenyToAllow.Total) != sh.DenyToAllow {
		t.Errorf("replay found %d allow→deny and %d deny→allow, the shadow counted %d and %d",
			rep.AllowToDeny.Total, rep.DenyToAllow.Total, sh.AllowToDeny, sh.DenyToAllow)
	}
}

var shadowMetricRE = regexp.MustCompile(`(?m)^portcullis_policy_shadow_total\{outcome="([a-z_]+)",route="([a-z-]+)"\} (\d+)$|^portcullis_policy_shadow_dropped_total (\d+)$`)

// shadowMetrics reads the shadow series: "route/outcome" → value, and "dropped".
func shadowMetrics(t *testing.T, g *gateway) map[string]int64 {
	t.Helper()
	resp, err := http.Get(g.admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	text := readAll(t, resp)
	out := map[string]int64{}
	for _, m := range shadowMetricRE.FindAllStringSubmatch(text, -1) {
		if m[4] != "" {
			out["dropped"], _ = strconv.ParseInt(m[4], 10, 64)
			continue
		}
		out[m[2]+"/"+m[1]], _ = strconv.ParseInt(m[3], 10, 64)
	}
	if _, ok := out["dropped"]; !ok {
		t.Fatalf("/metrics has no portcullis_policy_shadow_dropped_total:\n%s", text)
	}
	return out
}

// shadowEvents reads the decision log: the request events, the shadow
// events (whose decision_id must be a request's), and the events whose
// bundle hashes or shadow objects are wrong.
func shadowEvents(t *testing.T, path, enforcedHash, shadowHash string) (events, shadowed int64, badHash, badShadow []string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	type ident struct {
		Revision string `json:"revision"`
		Hash     string `json:"hash"`
	}
	ids := map[string]bool{}
	var shadows []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var ev struct {
			DecisionID string           `json:"decision_id"`
			Bundles    map[string]ident `json:"bundles"`
			Portcullis struct {
				Route  string `json:"route"`
				Shadow *struct {
					Allow   bool             `json:"allow"`
					Outcome string           `json:"outcome"`
					Bundles map[string]ident `json:"bundles"`
				} `json:"shadow"`
			} `json:"portcullis"`
		}
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			continue // a line still being written
		}
		if ev.Bundles["portcullis"].Hash != enforcedHash {
			badHash = append(badHash, ev.DecisionID)
		}
		if s := ev.Portcullis.Shadow; s != nil {
			shadowed++
			shadows = append(shadows, ev.DecisionID)
			if s.Allow || s.Outcome != "allow_to_deny" || s.Bundles["portcullis"].Hash != shadowHash || s.Bundles["portcullis"].Revision != "candidate-1" {
				badShadow = append(badShadow, ev.DecisionID)
			}
			continue
		}
		events++
		ids[ev.DecisionID] = true
	}
	for _, id := range shadows {
		if !ids[id] {
			badShadow = append(badShadow, id+" (no request event)")
		}
	}
	return events, shadowed, badHash, badShadow
}
