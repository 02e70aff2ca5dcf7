package tests

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

const (
	alertsFile     = "../deploy/prometheus/alerts.yaml"
	alertTestsFile = "../deploy/prometheus/alerts_test.yaml"
	runbookFile    = "../deploy/prometheus/RUNBOOK.md"
	dashboardFile  = "../deploy/grafana/portcullis.json"
)

// needTool returns the path of a program a test needs. Outside CI a missing
// one skips the test; under CI=true (.ci/run installs it) it fails it.
func needTool(t *testing.T, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s not found (Debian package %s, installed by .ci/run)", name, pkg)
		}
		t.Skipf("%s not found: install the Debian package %s to run this test", name, pkg)
	}
	return p
}

type alertRules struct {
	Groups []struct {
		Rules []struct {
			Alert       string            `yaml:"alert"`
			Expr        string            `yaml:"expr"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

func loadAlerts(t *testing.T) alertRules {
	t.Helper()
	b, err := os.ReadFile(alertsFile)
	if err != nil {
		t.Fatal(err)
	}
	var r alertRules
	if err := yaml.Unmarshal(b, &r); err != nil {
		t.Fatalf("%s: %v", alertsFile, err)
	}
	return r
}

// TestAlertRulesPromtool checks the alert rules and runs their unit tests
// with the real promtool, and checks that every alert has a test in which
// it fires and one in which it does not, and a runbook section.
func TestAlertRulesPromtool(t *testing.T) {
	t.Parallel()
	promtool := needTool(t, "promtool", "prometheus")
	for _, args := range [][]string{{"check", "rules", alertsFile}, {"test", "rules", alertTestsFile}} {
		out, err := exec.Command(promtool, args...).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "SUCCESS") {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}

	b, err := os.ReadFile(alertTestsFile)
	if err != nil {
		t.Fatal(err)
	}
	var tests struct {
		Tests []struct {
			AlertRuleTest []struct {
				Alertname string `yaml:"alertname"`
				ExpAlerts []any  `yaml:"exp_alerts"`
			} `yaml:"alert_rule_test"`
		} `yaml:"tests"`
	}
	if err := yaml.Unmarshal(b, &tests); err != nil {
		t.Fatalf("%s: %v", alertTestsFile, err)
	}
	fires, quiet := map[string]bool{}, map[string]bool{}
	for _, tc := range tests.Tests {
		for _, a := range tc.AlertRuleTest {
			if len(a.ExpAlerts) > 0 {
				fires[a.Alertname] = true
			} else {
				quiet[a.Alertname] = true
			}
		}
	}
	runbook, err := os.ReadFile(runbookFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range loadAlerts(t).Groups {
		for _, r := range g.Rules {
			if !fires[r.Alert] || !quiet[r.Alert] {
				t.Errorf("alert %s: tested firing %v, not firing %v; want both", r.Alert, fires[r.Alert], quiet[r.Alert])
			}
			want := "RUNBOOK.md#" + strings.ToLower(r.Alert)
			if !strings.HasSuffix(r.Annotations["runbook_url"], want) {
				t.Errorf("alert %s: runbook_url %q, want one ending in %s", r.Alert, r.Annotations["runbook_url"], want)
			}
			if !strings.Contains(string(runbook), "\n## "+r.Alert+"\n") {
				t.Errorf("alert %s: no section in %s", r.Alert, runbookFile)
			}
		}
	}
}

// metricName finds the gateway's metric names in PromQL: prometheus's own
// "up" is the one other name the rules may use.
var metricName = regexp.MustCompile(`\bportcullis_[a-z0-9_]+\b`)

// dashboardQueries returns every PromQL expression of the dashboard: its
// panels' targets, annotations and template variable queries.
func dashboardQueries(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Datasource map[string]string `json:"datasource"`
			Targets    []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
		Templating struct {
			List []struct {
				Name       string          `json:"name"`
				Type       string          `json:"type"`
				Definition string          `json:"definition"`
				Datasource json.RawMessage `json:"datasource"`
			} `json:"list"`
		} `json:"templating"`
		Annotations struct {
			List []struct {
				Expr string `json:"expr"`
			} `json:"list"`
		} `json:"annotations"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	var qs []string
	hasDatasourceVar := false
	for _, v := range d.Templating.List {
		if v.Name == "datasource" && v.Type == "datasource" {
			hasDatasourceVar = true
		}
		qs = append(qs, v.Definition)
	}
	if !hasDatasourceVar {
		t.Errorf("%s: no ${datasource} variable", dashboardFile)
	}
	for _, p := range d.Panels {
		if len(p.Targets) > 0 && p.Datasource["uid"] != "${datasource}" {
			t.Errorf("%s: a panel's datasource is %v, want ${datasource}", dashboardFile, p.Datasource)
		}
		for _, tg := range p.Targets {
			qs = append(qs, tg.Expr)
		}
	}
	for _, a := range d.Annotations.List {
		qs = append(qs, a.Expr)
	}
	return qs
}

// TestObservabilityMetricsExist starts the gateway with every source of
// the metrics the alerts and the dashboard use (remote JWKS, one of them
// unreachable, introspection,
// API keys, the HTTP decision-log sink with a spool), sends requests that
// make its labelled series appear, scrapes /metrics and checks that every
// metric name in the rules and the dashboard's PromQL is there.
func TestObservabilityMetricsExist(t *testing.T) {
	t.Parallel()
	key := newAuthnSigner(t)
	jwks := newAuthnJWKSServer(t, key)
	is := newAuthnIntrospector(t)
	col := newCollector(t)
	up := newUpstream(t, "api")
	g := startGateway(t, gatewayConfig{
		Body: fmt.Sprintf(`
authn:
  jwt:
    issuers:
      - issuer: %s
        jwks_uri: %s/jwks.json
        algorithms: [RS256]
        audiences: [e2e]
      - issuer: https://unreachable.e2e.test
        jwks_uri: http://%s/jwks.json
        algorithms: [RS256]
        audiences: [e2e]
  introspection:
    endpoint: %s/introspect
    client_id: %s
    client_secret: ${E2E_INTROSPECTION_SECRET}
policy:
  bundles:
    - {name: main, path: bundle}
  timeout: 2s
decision_log:
  http:
    url: %s
    flush_interval: 100ms
    spool_dir: {{dir}}/spool
routes:
  - name: api
    match: {path_prefix: /api}
    upstream: %s
    authn: {methods: [jwt, api_key]}
  - name: opaque
    match: {path_prefix: /opaque}
    upstream: %[7]s
    authn: {methods: [introspection]}
`, authnRotatingIssuer, jwks.URL, freeAddr(t), is.URL, authnClientID, col.URL, up.URL),
		Files:  withFiles(allowAllBundle, map[string]string{"bundle/data.json": authnConsumers(t, false)}),
		Env:    []string{"E2E_INTROSPECTION_SECRET=" + authnClientSecret},
		NoWait: true, // one issuer's keys never come: not ready
	})
	// Its failed fetch makes the failure series appear.
	if !authnPoll(20*time.Second, func() bool {
		return scrapeNames(t, g.admin+"/metrics")["portcullis_jwks_fetch_failures_total"]
	}) {
		t.Fatalf("no JWKS fetch failure after 20s:\n%s", g.stderr.String())
	}
	for _, h := range []map[string]string{
		authnBearer(key.token(t, authnClaims(t, authnRotatingIssuer, "alice"), nil)),
		{"X-API-Key": authnKeyNew},
		nil, // 401
	} {
		readAll(t, g.do("GET", "/api/x", nil, h))
	}
	readAll(t, g.do("GET", "/opaque/x", nil, authnBearer(is.activate("opaque-"+authnRandom(t, 16), "bob"))))

	exported := scrapeNames(t, g.admin+"/metrics")
	check := func(where, q string) {
		for _, name := range metricName.FindAllString(q, -1) {
			if !exported[name] {
				t.Errorf("%s uses %s, which the gateway does not export", where, name)
			}
		}
	}
	for _, gr := range loadAlerts(t).Groups {
		for _, r := range gr.Rules {
			check("alert "+r.Alert, r.Expr)
		}
	}
	for _, q := range dashboardQueries(t) {
		check("dashboard query "+q, q)
	}
	if t.Failed() {
		names := make([]string, 0, len(exported))
		for n := range exported {
			names = append(names, n)
		}
		slices.Sort(names)
		t.Logf("exported: %s", strings.Join(names, " "))
	}
}

// scrapeNames returns the series names of a Prometheus text exposition
// (histograms' _bucket, _sum and _count included).
func scrapeNames(t *testing.T, url string) map[string]bool {
	t.Helper()
	names := map[string]bool{}
	resp, err := http.Get(url)
	if err != nil {
		return names // not listening yet
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		if i := strings.IndexAny(line, "{ "); i > 0 {
			names[line[:i]] = true
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return names
}
