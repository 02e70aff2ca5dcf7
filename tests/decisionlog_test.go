package tests

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwt"
)

// collectorMode is how the test collector answers.
type collectorMode int

const (
	collectorOK   collectorMode = iota // records the batch, 200
	collectorDown                      // records nothing, 503
	collectorHang                      // holds the request until the mode changes
	collectorSlow                      // records the batch, 200, after a second
)

// dlEvent is the part of a decision-log event the tests look at.
type dlEvent struct {
	DecisionID string            `json:"decision_id"`
	Path       string            `json:"path"`
	Timestamp  string            `json:"timestamp"`
	Labels     map[string]string `json:"labels"`
	Input      map[string]any    `json:"input"`
	Result     any               `json:"result"`
	Erased     []string          `json:"erased"`
	Portcullis struct {
		Allow          bool     `json:"allow"`
		Status         int      `json:"status"`
		Reasons        []string `json:"reasons"`
		Route          string   `json:"route"`
		Subject        string   `json:"subject"`
		Consumer       string   `json:"consumer"`
		Authn          string   `json:"authn"`
		UpstreamStatus int      `json:"upstream_status"`
		Cached         bool     `json:"cached"`
	} `json:"portcullis"`
	raw []byte
}

// collector is a decision-log collector on 127.0.0.1: it decodes NDJSON
// and OPA's gzip JSON arrays and records every event it accepted.
type collector struct {
	*httptest.Server
	t *testing.T

	mu      sync.Mutex
	mode    collectorMode
	changed chan struct{} // closed and replaced when mode changes
	bodies  [][]byte      // every accepted body, decoded
	events  []dlEvent
	refused int      // 503 answers
	headers []string // "Content-Type|Content-Encoding" of accepted batches
}

func newCollector(t *testing.T) *collector {
	t.Helper()
	c := &collector{t: t, changed: make(chan struct{})}
	c.Server = httptest.NewServer(http.HandlerFunc(c.serve))
	t.Cleanup(func() {
		c.setMode(collectorOK) // release hanging requests so Close returns
		c.Close()
	})
	return c
}

func (c *collector) serve(w http.ResponseWriter, r *http.Request) {
	for {
		c.mu.Lock()
		mode, changed := c.mode, c.changed
		if mode == collectorDown {
			c.refused++
		}
		c.mu.Unlock()
		switch mode {
		case collectorDown:
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		case collectorHang:
			select {
			case <-changed:
				continue
			case <-r.Context().Done():
				return
			}
		case collectorSlow:
			select {
			case <-time.After(time.Second):
			case <-r.Context().Done():
				return
			}
		}
		break
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			c.t.Errorf("collector: bad gzip: %v", err)
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if body, err = io.ReadAll(zr); err != nil {
			c.t.Errorf("collector: bad gzip: %v", err)
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
	}
	var lines [][]byte
	if r.Header.Get("Content-Type") == "application/json" {
		var arr []json.RawMessage
		if err := json.Unmarshal(body, &arr); err != nil {
			c.t.Errorf("collector: body is not a JSON array: %v", err)
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		for _, m := range arr {
			lines = append(lines, m)
		}
	} else {
		lines = bytes.Split(bytes.TrimSuffix(body, []byte("\n")), []byte("\n"))
	}
	evs := make([]dlEvent, 0, len(lines))
	for _, l := range lines {
		ev, err := parseEvent(l)
		if err != nil {
			c.t.Errorf("collector: bad event %q: %v", l, err)
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		evs = append(evs, ev)
	}
	c.mu.Lock()
	c.bodies = append(c.bodies, body)
	c.events = append(c.events, evs...)
	c.headers = append(c.headers, r.Header.Get("Content-Type")+"|"+r.Header.Get("Content-Encoding"))
	c.mu.Unlock()
}

func parseEvent(line []byte) (dlEvent, error) {
	var ev dlEvent
	if err := json.Unmarshal(line, &ev); err != nil {
		return ev, err
	}
	if ev.DecisionID == "" {
		return ev, fmt.Errorf("no decision_id")
	}
	ev.raw = bytes.Clone(line)
	return ev, nil
}

func (c *collector) setMode(m collectorMode) {
	c.mu.Lock()
	c.mode = m
	close(c.changed)
	c.changed = make(chan struct{})
	c.mu.Unlock()
}

func (c *collector) snapshot() []dlEvent {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]dlEvent(nil), c.events...)
}

func (c *collector) refusals() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.refused
}

// byID groups events by decision_id.
func byID(evs []dlEvent) map[string][]dlEvent {
	m := make(map[string][]dlEvent, len(evs))
	for _, ev := range evs {
		m[ev.DecisionID] = append(m[ev.DecisionID], ev)
	}
	return m
}

// waitEvents polls get until it holds an event for every id, and returns
// the events by id.
func waitEvents(t *testing.T, what string, ids []string, timeout time.Duration, get func() []dlEvent) map[string][]dlEvent {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		got := byID(get())
		missing := 0
		for _, id := range ids {
			if len(got[id]) == 0 {
				missing++
			}
		}
		if missing == 0 {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d of %d events missing after %v", what, missing, len(ids), timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// eventsIn parses the NDJSON decision events in s, skipping other lines.
func eventsIn(s string) []dlEvent {
	var out []dlEvent
	sc := bufio.NewScanner(strings.NewReader(s))
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	for sc.Scan() {
		if ev, err := parseEvent(sc.Bytes()); err == nil {
			out = append(out, ev)
		}
	}
	return out
}

// fileEvents reads the events of a decision-log file (none if absent).
func fileEvents(path string) []dlEvent {
	b, _ := os.ReadFile(path)
	return eventsIn(string(b))
}

// assertSameCopies fails when two events with one decision_id differ:
// at-least-once delivery may repeat an event, never change it.
func assertSameCopies(t *testing.T, got map[string][]dlEvent) {
	t.Helper()
	for id, evs := range got {
		for _, ev := range evs[1:] {
			if !bytes.Equal(ev.raw, evs[0].raw) {
				t.Fatalf("decision %s delivered twice with different contents:\n%s\n%s", id, evs[0].raw, ev.raw)
			}
		}
	}
}

// dlRouteConfig is an allow-all anonymous route to up and decision_log's
// YAML (indented by two spaces under decision_log:). The policy timeout is
// generous: under load on a busy machine the 50ms default can expire, and
// these tests are about the log, not policy latency.
func dlRouteConfig(up *upstream, decisionLog string) gatewayConfig {
	return gatewayConfig{
		Body: fmt.Sprintf(`
policy:
  bundles:
    - {name: main, path: bundle}
  timeout: 5s
decision_log:
%s
routes:
  - name: api
    match: {path_prefix: /api}
    upstream: %s
    authn: {anonymous: true}
`, decisionLog, up.URL),
		Files: allowAllBundle,
	}
}

// sendN sends n GET requests with the given concurrency and returns the
// X-Decision-Id of each; every response must have want as its status.
func sendN(t *testing.T, g *gateway, n, concurrency int, path string, want int) []string {
	t.Helper()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: concurrency}, Timeout: 30 * time.Second}
	defer client.CloseIdleConnections()
	ids := make([]string, n)
	errs := make(chan error, concurrency)
	work := make(chan int)
	var wg sync.WaitGroup
	for range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				resp, err := client.Get(g.proxy + path)
				if err != nil {
					errs <- err
					return
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != want {
					errs <- fmt.Errorf("request %d: status %d, want %d: %s", i, resp.StatusCode, want, body)
					return
				}
				ids[i] = resp.Header.Get("X-Decision-Id")
			}
		}()
	}
feed:
	for i := range n {
		select {
		case work <- i:
		case err := <-errs:
			close(work)
			wg.Wait()
			t.Fatal(err)
			break feed
		}
	}
	close(work)
	wg.Wait()
	select {
	case err := <-errs:
		t.Fatal(err)
	default:
	}
	seen := make(map[string]bool, n)
	for i, id := range ids {
		if id == "" || seen[id] {
			t.Fatalf("request %d: X-Decision-Id %q is empty or repeated", i, id)
		}
		seen[id] = true
	}
	return ids
}

func TestDecisionLogTenThousandRequestsTenThousandEvents(t *testing.T) {
	up, col := newUpstream(t, "api"), newCollector(t)
	g := startGateway(t, dlRouteConfig(up, fmt.Sprintf(`  http: {url: %s, flush_interval: 100ms}`, col.URL)))

	const n = 10000
	ids := sendN(t, g, n, 16, "/api/x", http.StatusOK)
	got := waitEvents(t, "collector", ids, 30*time.Second, col.snapshot)
	if len(got) != n {
		t.Fatalf("collector holds %d distinct decision ids, want %d (events nobody asked for)", len(got), n)
	}
	assertSameCopies(t, got)
	for _, id := range ids[:10] {
		ev := got[id][0]
		if ev.Path != "portcullis/authz/decision" || !ev.Portcullis.Allow || ev.Portcullis.Status != 200 || ev.Portcullis.Route != "api" || ev.Timestamp == "" {
			t.Fatalf("event %s: %s", id, ev.raw)
		}
	}
}

func TestDecisionLogCollectorOutageLosesNothing(t *testing.T) {
	up, col := newUpstream(t, "api"), newCollector(t)
	spool := t.TempDir()
	col.setMode(collectorDown)
	g := startGateway(t, dlRouteConfig(up, fmt.Sprintf(`  http:
    url: %s
    flush_interval: 100ms
    batch_events: 50
    queue_events: 2000
    max_retry_delay: 200ms
    spool_dir: %s`, col.URL, spool)))

	// During the outage the queue overflows into the spool.
	ids := sendN(t, g, 1000, 8, "/api/outage", http.StatusOK)
	deadline := time.Now().Add(10 * time.Second)
	for col.refusals() < 3 || countFiles(spool) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("after 10s of outage: %d retries, %d spool files", col.refusals(), countFiles(spool))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if n := len(col.snapshot()); n != 0 {
		t.Fatalf("the collector recorded %d events while down", n)
	}
	col.setMode(collectorOK)
	ids = append(ids, sendN(t, g, 100, 8, "/api/after", http.StatusOK)...)

	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("decision-log metrics:\n%s", decisionLogMetrics(t, g))
			files, _ := os.ReadDir(spool)
			t.Logf("spool: %d files", len(files))
		}
	})
	got := waitEvents(t, "collector", ids, 30*time.Second, col.snapshot)
	if len(got) != len(ids) {
		t.Fatalf("collector holds %d distinct decision ids, want %d", len(got), len(ids))
	}
	assertSameCopies(t, got)
}

func TestDecisionLogSpoolReplayedAfterRestart(t *testing.T) {
	up, col := newUpstream(t, "api"), newCollector(t)
	spool := t.TempDir()
	col.setMode(collectorDown)
	cfg := dlRouteConfig(up, fmt.Sprintf(`  http:
    url: %s
    flush_interval: 100ms
    max_retry_delay: 200ms
    spool_dir: %s`, col.URL, spool))

	first := startGateway(t, cfg)
	ids := sendN(t, first, 200, 4, "/api/before-restart", http.StatusOK)
	deadline := time.Now().Add(10 * time.Second)
	for col.refusals() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the gateway never tried the collector")
		}
		time.Sleep(20 * time.Millisecond)
	}
	first.signal(syscall.SIGTERM)
	select {
	case <-first.done:
	case <-time.After(20 * time.Second):
		t.Fatal("the gateway did not exit after SIGTERM")
	}
	files, err := os.ReadDir(spool)
	if err != nil || len(files) == 0 {
		t.Fatalf("spool after SIGTERM during the outage: %d files, %v", len(files), err)
	}
	var spooled bytes.Buffer
	for _, f := range files {
		b, _ := os.ReadFile(filepath.Join(spool, f.Name()))
		spooled.Write(b)
	}
	if got := byID(eventsIn(spooled.String())); len(got) != len(ids) {
		t.Fatalf("the spool holds %d of %d events", len(got), len(ids))
	}

	second := startGateway(t, cfg)
	col.setMode(collectorOK)
	got := waitEvents(t, "collector after restart", ids, 30*time.Second, col.snapshot)
	assertSameCopies(t, got)
	// And the restarted gateway's own events follow.
	more := sendN(t, second, 10, 2, "/api/after-restart", http.StatusOK)
	waitEvents(t, "collector", more, 10*time.Second, col.snapshot)
	deadline = time.Now().Add(10 * time.Second)
	for {
		files, _ := os.ReadDir(spool)
		if len(files) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the spool still holds %d files after replay", len(files))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestDecisionLogFailClosedWhenFull(t *testing.T) {
	up, col := newUpstream(t, "api"), newCollector(t)
	col.setMode(collectorHang)
	g := startGateway(t, dlRouteConfig(up, fmt.Sprintf(`  http:
    url: %s
    flush_interval: 100ms
    batch_events: 2
    queue_events: 8
    max_retry_delay: 200ms
    on_full: fail_closed`, col.URL)))

	var refusedID string
	for i := 0; refusedID == ""; i++ {
		if i == 500 {
			t.Fatal("500 requests with a hanging collector and a queue of 8: never refused")
		}
		resp := g.do("GET", "/api/fill", nil, nil)
		if resp.StatusCode == http.StatusOK {
			readAll(t, resp)
			continue
		}
		p := decodeProblem(t, resp)
		if resp.StatusCode != http.StatusServiceUnavailable || p["reason"] != "decision_log_full" {
			t.Fatalf("got %d %v, want 503 decision_log_full", resp.StatusCode, p)
		}
		if resp.Header.Get("Retry-After") == "" {
			t.Fatal("503 without Retry-After")
		}
		refusedID = resp.Header.Get("X-Decision-Id")
	}
	n := len(up.requests())
	resp := g.do("GET", "/api/still-full", nil, nil)
	if readAll(t, resp); resp.StatusCode != http.StatusServiceUnavailable || len(up.requests()) != n {
		t.Fatalf("while full: got %d, upstream reached %v", resp.StatusCode, len(up.requests()) != n)
	}

	col.setMode(collectorOK)
	var okID string
	deadline := time.Now().Add(15 * time.Second)
	for okID == "" {
		if time.Now().After(deadline) {
			t.Fatal("requests still refused 15s after the collector answered")
		}
		resp := g.do("GET", "/api/recovered", nil, nil)
		readAll(t, resp)
		if resp.StatusCode == http.StatusOK {
			okID = resp.Header.Get("X-Decision-Id")
		} else {
			time.Sleep(50 * time.Millisecond)
		}
	}
	got := waitEvents(t, "collector", []string{refusedID, okID}, 15*time.Second, col.snapshot)
	if ev := got[refusedID][0]; ev.Portcullis.Status != 503 || !contains(ev.Portcullis.Reasons, "decision_log_full") {
		t.Fatalf("event of the refused request: %s", ev.raw)
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func TestDecisionLogOPAFormatIsGzipJSONArrays(t *testing.T) {
	up, col := newUpstream(t, "api"), newCollector(t)
	g := startGateway(t, dlRouteConfig(up, fmt.Sprintf(`  labels: {app: e2e}
  http: {url: %s, format: opa, flush_interval: 100ms}`, col.URL)))
	ids := sendN(t, g, 20, 2, "/api/opa", http.StatusOK)
	got := waitEvents(t, "collector", ids, 15*time.Second, col.snapshot)
	if ev := got[ids[0]][0]; ev.Labels["app"] != "e2e" || ev.Labels["id"] == "" || ev.Path == "" {
		t.Fatalf("event: %s", ev.raw)
	}
	col.mu.Lock()
	defer col.mu.Unlock()
	for _, h := range col.headers {
		if h != "application/json|gzip" {
			t.Fatalf("batch Content-Type|Content-Encoding = %q, want application/json|gzip", h)
		}
	}
}

func TestDecisionLogSIGHUPReopensFile(t *testing.T) {
	up := newUpstream(t, "api")
	g := startGateway(t, dlRouteConfig(up, `  file: {path: decisions.log}`))
	path := filepath.Join(g.dir, "decisions.log")

	first := sendN(t, g, 1, 1, "/api/one", http.StatusOK)
	waitEvents(t, "file", first, 10*time.Second, func() []dlEvent { return fileEvents(path) })
	rotated := path + ".1"
	if err := os.Rename(path, rotated); err != nil {
		t.Fatal(err)
	}
	g.signal(syscall.SIGHUP)

	// The signal is handled asynchronously: requests sent before the file
	// is reopened still go to the renamed file, so poll.
	deadline := time.Now().Add(10 * time.Second)
	for {
		ids := sendN(t, g, 1, 1, "/api/two", http.StatusOK)
		time.Sleep(50 * time.Millisecond)
		if evs := byID(fileEvents(path)); len(evs) > 0 {
			if len(evs[first[0]]) != 0 {
				t.Fatal("the new file holds an event written before the rename")
			}
			waitEvents(t, "new file", ids, 10*time.Second, func() []dlEvent { return fileEvents(path) })
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no new %s 10s after SIGHUP:\n%s", path, g.stderr.String())
		}
	}
	if old := byID(fileEvents(rotated)); len(old[first[0]]) != 1 {
		t.Fatal("the renamed file lost its event")
	}
}

// hmacSecret is the e2e issuer's HS256 key (config needs at least 32 bytes).
const hmacSecret = "e2e-decision-log-hmac-secret-0123456789abcdef"

// mintHS256 returns a token of the e2e issuer signed with secret.
func mintHS256(t *testing.T, secret, jti string) string {
	t.Helper()
	tok, err := jwt.NewBuilder().
		Issuer("https://issuer.e2e.local").
		Subject("alice").
		Audience([]string{"e2e"}).
		JwtID(jti).
		IssuedAt(time.Now()).
		Expiration(time.Now().Add(10 * time.Minute)).
		Build()
	if err != nil {
		t.Fatal(err)
	}
	signed, err := jwt.Sign(tok, jwt.WithKey(jwa.HS256(), []byte(secret)))
	if err != nil {
		t.Fatal(err)
	}
	return string(signed)
}

// apiKeyData is bundle data with one consumer holding key.
func apiKeyData(key string) string {
	sum := sha256.Sum256([]byte(key))
	return fmt.Sprintf(`{"portcullis": {"consumers": {"partner": {"groups": ["read"],
  "keys": [{"id": "partner-1", "hash": "sha256:%s"}]}}}}`, hex.EncodeToString(sum[:]))
}

func TestDecisionLogNeverLeaksSecrets(t *testing.T) {
	up, col := newUpstream(t, "api"), newCollector(t)
	secrets := map[string]string{
		"header token":    mintHS256(t, hmacSecret, "jti-header"),
		"query token":     mintHS256(t, hmacSecret, "jti-query"),
		"cookie token":    mintHS256(t, hmacSecret, "jti-cookie"),
		"invalid token":   mintHS256(t, "some-other-secret-that-is-32-bytes-long!", "jti-invalid"),
		"api key":         "pk_e2eSecretApiKeyValue0123456789abcdefghij",
		"wrong api key":   "pk_e2eWrongApiKeyValue0123456789abcdefghij",
		"other cookie":    "cookie-secret-value-7c1f3e9a",
		"password":        "hunter2-e2e-password-9f8e7d",
		"hmac secret":     hmacSecret,
		"collector token": "collector-bearer-e2e-5a4b3c2d1e",
	}
	// A signature alone is as secret as the token: look for it too.
	for _, name := range []string{"header token", "query token", "cookie token", "invalid token"} {
		tok := secrets[name]
		secrets[name+" signature"] = tok[strings.LastIndexByte(tok, '.')+1:]
	}
	files := withFiles(map[string]string{
		"bundle/.manifest":  `{"revision": "secrets", "roots": ["portcullis", "system"]}`,
		"bundle/authz.rego": "package portcullis.authz\n\ndecision := {\"allow\": true}\n",
		"bundle/log.rego":   "package system.log\n\nmask contains \"/input/request/body/password\"\n",
		"bundle/data.json":  apiKeyData(secrets["api key"]),
	})
	g := startGateway(t, gatewayConfig{
		Env: []string{"E2E_HMAC=" + hmacSecret, "E2E_COLLECTOR_TOKEN=" + secrets["collector token"]},
		Body: fmt.Sprintf(`
log: {level: debug}
authn:
  jwt:
    issuers:
      - issuer: https://issuer.e2e.local
        algorithms: [HS256]
        audiences: [e2e]
        secret: ${E2E_HMAC}
policy:
  bundles:
    - {name: main, path: bundle}
decision_log:
  headers: [User-Agent, Authorization, Cookie, X-API-Key]
  stdout: true
  file: {path: decisions.log}
  http: {url: %s, flush_interval: 100ms, bearer_token: "${E2E_COLLECTOR_TOKEN}"}
routes:
  - name: api
    match: {path_prefix: /api}
    upstream: %s
    authn: {methods: [jwt, api_key], bearer_query: access_token, bearer_cookie: session}
    policy: {input_body: true}
`, col.URL, up.URL),
		Files: files,
	})

	type req struct {
		name, method, path, body string
		header                   map[string]string
		want                     int
	}
	reqs := []req{
		{"a valid token in the header", "GET", "/api/a", "", map[string]string{"Authorization": "Bearer " + secrets["header token"]}, 200},
		{"an invalid token", "GET", "/api/b", "", map[string]string{"Authorization": "Bearer " + secrets["invalid token"]}, 401},
		{"an API key", "GET", "/api/c", "", map[string]string{"X-API-Key": secrets["api key"]}, 200},
		{"a wrong API key", "GET", "/api/d", "", map[string]string{"X-API-Key": secrets["wrong api key"]}, 401},
		{"a token in a cookie next to another cookie", "GET", "/api/e", "",
			map[string]string{"Cookie": "session=" + secrets["cookie token"] + "; theme=" + secrets["other cookie"]}, 200},
		{"a token in the query", "GET", "/api/f?access_token=" + secrets["query token"] + "&x=1", "", nil, 200},
		{"a password in a JSON body", "POST", "/api/g", `{"name": "alice", "password": "` + secrets["password"] + `"}`,
			map[string]string{"Authorization": "Bearer " + secrets["header token"], "Content-Type": "application/json"}, 200},
	}
	var ids []string
	passwordID := ""
	for _, r := range reqs {
		var body io.Reader
		if r.body != "" {
			body = strings.NewReader(r.body)
		}
		resp := g.do(r.method, r.path, body, r.header)
		if readAll(t, resp); resp.StatusCode != r.want {
			t.Fatalf("%s: got %d, want %d", r.name, resp.StatusCode, r.want)
		}
		ids = append(ids, resp.Header.Get("X-Decision-Id"))
		if r.body != "" {
			passwordID = ids[len(ids)-1]
		}
	}

	logPath := filepath.Join(g.dir, "decisions.log")
	got := waitEvents(t, "collector", ids, 15*time.Second, col.snapshot)
	waitEvents(t, "file", ids, 15*time.Second, func() []dlEvent { return fileEvents(logPath) })
	g.stop() // flushes stdout
	waitEvents(t, "stdout", ids, time.Second, func() []dlEvent { return eventsIn(g.stdout.String()) })

	ev := got[passwordID][0]
	body, _ := ev.Input["request"].(map[string]any)["body"].(map[string]any)
	if body["name"] != "alice" || body["password"] != nil || !contains(ev.Erased, "/input/request/body/password") {
		t.Fatalf("the password event is not masked as the rule says: %s", ev.raw)
	}
	if ev.Portcullis.Subject != "alice" || ev.Portcullis.Authn != "jwt" {
		t.Fatalf("the password event lacks its identity: %s", ev.raw)
	}

	fileBytes, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	col.mu.Lock()
	collected := bytes.Join(col.bodies, nil)
	col.mu.Unlock()
	outputs := map[string][]byte{
		"stdout":               []byte(g.stdout.String()),
		"the file":             fileBytes,
		"the collector":        collected,
		"the gateway's stderr": []byte(g.stderr.String()),
	}
	for where, out := range outputs {
		if len(out) == 0 {
			t.Fatalf("%s is empty: the search would prove nothing", where)
		}
		for what, secret := range secrets {
			if bytes.Contains(out, []byte(secret)) {
				t.Errorf("%s contains the %s", where, what)
			}
		}
	}
}

func TestDecisionLogEveryOutcomeOnce(t *testing.T) {
	up, col := newUpstream(t, "api"), newCollector(t)
	down := httptest.NewServer(http.NotFoundHandler())
	downURL := down.URL
	down.Close() // nothing listens there any more
	const key = "pk_e2eOutcomeKey0123456789abcdefghijklmnop"
	files := withFiles(map[string]string{
		"bundle/.manifest": `{"revision": "outcomes", "roots": ["portcullis"]}`,
		"bundle/authz.rego": `package portcullis.authz

default decision := {"allow": true}

decision := {"allow": false, "reasons": ["forbidden_path"]} if input.request.path == "/api/v1/forbidden"
`,
		"bundle/data.json":   apiKeyData(key),
		"schemas/users.yaml": readFile(t, "../schemas/users.yaml"),
	})
	g := startGateway(t, gatewayConfig{
		Body: fmt.Sprintf(`
policy:
  bundles:
    - {name: main, path: bundle}
decision_log:
  http: {url: %s, flush_interval: 100ms}
routes:
  - name: users
    match: {path_prefix: /api/v1/users}
    upstream: %[2]s
    authn: {methods: [api_key]}
    openapi: {spec: schemas/users.yaml}
  - name: other
    match: {path_prefix: /api/v1}
    upstream: %[2]s
    authn: {methods: [api_key]}
    limits: {max_body_bytes: 1KiB}
  - name: down
    match: {path_prefix: /down}
    upstream: %[3]s
    authn: {anonymous: true}
`, col.URL, up.URL, downURL),
		Files: files,
	})
	withKey := map[string]string{"X-API-Key": key}
	jsonKey := map[string]string{"X-API-Key": key, "Content-Type": "application/json"}
	tests := []struct {
		name, method, path, body string
		header                   map[string]string
		status                   int
		reason, route            string
		allow                    bool
		upstreamStatus           int
	}{
		{"an allowed request", "GET", "/api/v1/users", "", withKey, 200, "allow", "users", true, 200},
		{"a policy deny", "GET", "/api/v1/forbidden", "", withKey, 403, "forbidden_path", "other", false, 0},
		{"an authentication failure", "GET", "/api/v1/x", "", map[string]string{"X-API-Key": "pk_wrong"}, 401, "api_key_invalid", "other", false, 0},
		{"a validation failure", "POST", "/api/v1/users", `{"name": "x"}`, jsonKey, 400, "validation_failed", "users", false, 0},
		{"a body over the limit", "POST", "/api/v1/x", strings.Repeat("a", 2048), withKey, 413, "body_too_large", "other", false, 0},
		{"no route", "GET", "/nowhere", "", nil, 404, "no_route", "", false, 0},
		{"an upstream that is down", "GET", "/down/x", "", nil, 502, "upstream_unavailable", "down", false, 0},
	}
	ids := make([]string, len(tests))
	for i, tc := range tests {
		var body io.Reader
		if tc.body != "" {
			body = strings.NewReader(tc.body)
		}
		resp := g.do(tc.method, tc.path, body, tc.header)
		if out := readAll(t, resp); resp.StatusCode != tc.status {
			t.Fatalf("%s: got %d, want %d: %s", tc.name, resp.StatusCode, tc.status, out)
		}
		ids[i] = resp.Header.Get("X-Decision-Id")
	}
	got := waitEvents(t, "collector", ids, 15*time.Second, col.snapshot)
	for i, tc := range tests {
		t.Run(tc.name+" is logged once with its status and reason", func(t *testing.T) {
			evs := got[ids[i]]
			if len(evs) != 1 {
				t.Fatalf("%d events for decision %s", len(evs), ids[i])
			}
			p := evs[0].Portcullis
			if p.Status != tc.status || !contains(p.Reasons, tc.reason) || p.Route != tc.route || p.Allow != tc.allow || p.UpstreamStatus != tc.upstreamStatus {
				t.Fatalf("event: %s", evs[0].raw)
			}
		})
	}
	if n := len(col.snapshot()); n != len(tests) {
		t.Fatalf("the collector holds %d events for %d requests", n, len(tests))
	}
}

// readFile returns the content of a repository file.
func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// decisionLogMetrics returns the gateway's portcullis_decisionlog_* samples.
func decisionLogMetrics(t *testing.T, g *gateway) string {
	t.Helper()
	resp, err := http.Get(g.admin + "/metrics")
	if err != nil {
		return err.Error()
	}
	var out strings.Builder
	for _, l := range strings.Split(readAll(t, resp), "\n") {
		if strings.HasPrefix(l, "portcullis_decisionlog_") {
			out.WriteString(l + "\n")
		}
	}
	return out.String()
}

// countFiles returns the number of entries in dir (0 if unreadable).
func countFiles(dir string) int {
	files, _ := os.ReadDir(dir)
	return len(files)
}

// TestDecisionLogSyslogReceivesEveryDecision sends decisions to a local
// syslog receiver (plain TCP) and finds every X-Decision-Id in its frames.
func TestDecisionLogSyslogReceivesEveryDecision(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	var mu sync.Mutex
	var received strings.Builder
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 32<<10)
				for {
					n, err := c.Read(buf)
					mu.Lock()
					received.Write(buf[:n])
					mu.Unlock()
					if err != nil {
						return
					}
				}
			}()
		}
	}()
	up := newUpstream(t, "api")
	g := startGateway(t, dlRouteConfig(up, fmt.Sprintf(`  syslog: {address: %q}`, l.Addr().String())))
	ids := sendN(t, g, 10, 2, "/api/syslog", http.StatusOK)
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		got := received.String()
		mu.Unlock()
		missing := 0
		for _, id := range ids {
			if !strings.Contains(got, id) {
				missing++
			}
		}
		if missing == 0 {
			if !strings.Contains(got, "<134>1 ") {
				t.Fatalf("frames are not RFC 5424: %.200q", got)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d decisions missing at the syslog receiver", missing, len(ids))
		}
		time.Sleep(20 * time.Millisecond)
	}
}
