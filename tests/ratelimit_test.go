package tests

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// limitsBundle allows every request; a caller with X-Plan: gold gets the
// gold class of rate limits.
var limitsBundle = map[string]string{
	"bundle/.manifest": `{"revision": "limits", "roots": ["portcullis"]}`,
	"bundle/authz.rego": `package portcullis.authz

default decision := {"allow": true}

decision := {"allow": true, "rate_limit": {"class": "gold"}} if input.request.headers["x-plan"] == "gold"
`,
}

// limitsGateway runs a gateway with the partner key of authnConsumers on
// /partner (rateLimits are the route's rate_limits, global the
// rate_limit section) and an anonymous /public.
func limitsGateway(t *testing.T, up *upstream, global, rateLimits string) *gateway {
	t.Helper()
	return startGateway(t, gatewayConfig{
		Body: fmt.Sprintf(`
policy:
  bundles:
    - {name: main, path: bundle}
  timeout: 2s
rate_limit:
%s
routes:
  - name: partner
    match: {path_prefix: /partner}
    upstream: %s
    authn: {methods: [api_key]}
    rate_limits:
%s
  - name: public
    match: {path_prefix: /public}
    upstream: %[2]s
    authn: {anonymous: true}
`, global, up.URL, rateLimits),
		Files: withFiles(limitsBundle, map[string]string{"bundle/data.json": authnConsumers(t, false)}),
	})
}

func limitsGet(t *testing.T, g *gateway, path, key string, extra ...string) *http.Response {
	t.Helper()
	h := map[string]string{"X-API-Key": key}
	for i := 0; i+1 < len(extra); i += 2 {
		h[extra[i]] = extra[i+1]
	}
	resp := g.do("GET", path, nil, h)
	readAll(t, resp)
	return resp
}

func limitsReason(t *testing.T, g *gateway, path, key string) (int, string) {
	t.Helper()
	resp := g.do("GET", path, nil, map[string]string{"X-API-Key": key})
	var p struct{ Reason string }
	_ = json.Unmarshal([]byte(readAll(t, resp)), &p)
	return resp.StatusCode, p.Reason
}

func TestRateLimitLocal(t *testing.T) {
	t.Parallel()
	up := newUpstream(t, "partner")
	g := limitsGateway(t, up, `
  classes:
    gold:
      - {name: per-consumer, key: [consumer], rate: 50, per: 1s}`, `
      - {name: per-consumer, key: [consumer], rate: 5, per: 1s}`)

	t.Run("the partner key gets 5 requests, then 429 with the IETF headers", func(t *testing.T) {
		for i := range 5 {
			resp := limitsGet(t, g, "/partner/x", authnKeyNew)
			if resp.StatusCode != 200 {
				t.Fatalf("request %d: %d", i, resp.StatusCode)
			}
			if got := resp.Header.Get("RateLimit-Policy"); got != `"per-consumer";q=5;w=1` {
				t.Fatalf("RateLimit-Policy = %q", got)
			}
			if got, want := resp.Header.Get("RateLimit"), fmt.Sprintf(`"per-consumer";r=%d;t=`, 4-i); !strings.HasPrefix(got, want) {
				t.Fatalf("request %d: RateLimit = %q, want %s…", i, got, want)
			}
		}
		// The other key of the same consumer shares its bucket.
		resp := g.do("GET", "/partner/x", nil, map[string]string{"X-API-Key": authnKeyOld})
		body := readAll(t, resp)
		if resp.StatusCode != 429 || !strings.Contains(body, `"rate_limited"`) {
			t.Fatalf("sixth request: %d %s", resp.StatusCode, body)
		}
		if resp.Header.Get("Retry-After") != "1" || resp.Header.Get("RateLimit") != `"per-consumer";r=0;t=1` ||
			resp.Header.Get("Content-Type") != "application/problem+json" {
			t.Fatalf("429 headers: %v", resp.Header)
		}
	})

	t.Run("the limit refills at its rate", func(t *testing.T) {
		time.Sleep(1100 * time.Millisecond)
		if resp := limitsGet(t, g, "/partner/x", authnKeyNew); resp.StatusCode != 200 {
			t.Fatalf("after a second: %d", resp.StatusCode)
		}
	})

	t.Run("a policy that chooses the gold class replaces the route's limits", func(t *testing.T) {
		resp := limitsGet(t, g, "/partner/x", authnKeyNew, "X-Plan", "gold")
		if resp.StatusCode != 200 || resp.Header.Get("RateLimit-Policy") != `"per-consumer";q=50;w=1` {
			t.Fatalf("gold: %d %q", resp.StatusCode, resp.Header.Get("RateLimit-Policy"))
		}
	})

	t.Run("the refusal is counted by route and limit and logged as a decision", func(t *testing.T) {
		if n := authnMetric(t, g, `portcullis_rate_limited_total{limit="per-consumer",route="partner"}`); n < 1 {
			t.Fatalf("portcullis_rate_limited_total = %v", n)
		}
		if !authnPoll(5*time.Second, func() bool { return strings.Contains(g.stdout.String(), `"rate_limited"`) }) {
			t.Fatalf("no decision event with rate_limited:\n%s", g.stdout.String())
		}
		if strings.Contains(g.stdout.String()+g.stderr.String(), authnKeyNew) {
			t.Fatal("the API key appears in the output")
		}
	})

	t.Run("a route without limits carries no RateLimit headers", func(t *testing.T) {
		resp := g.do("GET", "/public/x", nil, nil)
		readAll(t, resp)
		if resp.StatusCode != 200 || resp.Header.Get("RateLimit") != "" {
			t.Fatalf("/public: %d %v", resp.StatusCode, resp.Header)
		}
	})
}

func TestAuthFailuresThrottleAndExpire(t *testing.T) {
	t.Parallel()
	up := newUpstream(t, "partner")
	g := limitsGateway(t, up, `
  auth_failures: {max_failures: 5, window: 1m, block_for: 2s}`, `
      - {name: per-consumer, key: [consumer], rate: 1000, per: 1s}`)
	for i := range 5 {
		if st, reason := limitsReason(t, g, "/partner/x", fmt.Sprintf("pk_guess-%d", i)); st != 401 || reason != "api_key_invalid" {
			t.Fatalf("guess %d: %d %s", i, st, reason)
		}
	}
	st, reason := limitsReason(t, g, "/partner/x", authnKeyNew)
	if st != 429 || reason != "auth_throttled" {
		t.Fatalf("the good key after 5 failures: %d %s, want 429 auth_throttled", st, reason)
	}
	if n := authnMetric(t, g, `portcullis_auth_failure_blocks_total`); n != 1 {
		t.Fatalf("portcullis_auth_failure_blocks_total = %v", n)
	}
	if !authnPoll(5*time.Second, func() bool {
		st, _ := limitsReason(t, g, "/partner/x", authnKeyNew)
		return st == 200
	}) {
		t.Fatal("the block did not expire")
	}
}

// startRedis starts redis-server on a free 127.0.0.1 port, without
// persistence, and returns its address and a function that stops it.
func startRedis(t *testing.T) (string, func()) {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("redis-server is not installed (.ci/run installs it)")
		}
		t.Skip("redis-server is not installed (apt-get install redis-server)")
	}
	addr := freeAddr(t)
	port := addr[strings.LastIndex(addr, ":")+1:]
	cmd := exec.Command(bin, "--bind", "127.0.0.1", "--port", port, "--save", "", "--appendonly", "no", "--dir", t.TempDir())
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	stop := func() {
		once.Do(func() {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		})
	}
	t.Cleanup(stop)
	if !authnPoll(10*time.Second, func() bool { return strings.Contains(out.String(), "Ready to accept connections") }) {
		t.Fatalf("redis-server did not start:\n%s", out.String())
	}
	return addr, stop
}

func TestRateLimitRedisSharedByThreeGateways(t *testing.T) {
	t.Parallel()
	addr, _ := startRedis(t)
	up := newUpstream(t, "partner")
	const rate, burst, seconds = 20, 10, 10
	var gws []*gateway
	for range 3 {
		gws = append(gws, limitsGateway(t, up, fmt.Sprintf(`
  redis: {addresses: [%q]}`, addr), fmt.Sprintf(`
      - {name: per-consumer, key: [consumer], rate: %d, per: 1s, burst: %d}`, rate, burst)))
	}
	var admitted, refused, other atomic.Int64
	var wg sync.WaitGroup
	deadline := time.Now().Add(seconds * time.Second)
	for _, g := range gws {
		for range 2 {
			wg.Go(func() {
				c := &http.Client{Timeout: 5 * time.Second}
				for time.Now().Before(deadline) {
					req, _ := http.NewRequest("GET", g.proxy+"/partner/x", nil)
					req.Header.Set("X-API-Key", authnKeyNew)
					resp, err := c.Do(req)
					if err != nil {
						other.Add(1)
						continue
					}
					resp.Body.Close()
					switch resp.StatusCode {
					case 200:
						admitted.Add(1)
					case 429:
						refused.Add(1)
					default:
						other.Add(1)
					}
					time.Sleep(10 * time.Millisecond)
				}
			})
		}
	}
	wg.Wait()
	want := float64(rate*seconds + burst)
	got := float64(admitted.Load())
	t.Logf("admitted %v of %v (refused %d, other %d); want %v ± 5%%", got, got+float64(refused.Load()), refused.Load(), other.Load(), want)
	if got < want*0.95 || got > want*1.05 || other.Load() != 0 {
		t.Fatalf("three gateways admitted %v, want %v ± 5%% (other outcomes %d)", got, want, other.Load())
	}
	if refused.Load() < int64(got) {
		t.Fatalf("only %d refused: the load did not exceed the limit", refused.Load())
	}
}

func TestRateLimitRedisDown(t *testing.T) {
	t.Parallel()
	addr, stopRedis := startRedis(t)
	up := newUpstream(t, "partner")
	limit := `
      - {name: per-consumer, key: [consumer], rate: 5, per: 1m}`
	local := limitsGateway(t, up, fmt.Sprintf(`
  redis: {addresses: [%q], timeout: 200ms}`, addr), limit)
	deny := limitsGateway(t, up, fmt.Sprintf(`
  redis: {addresses: [%q], timeout: 200ms, on_error: deny}`, addr), limit)
	// Redis counts for both: 3 here and 2 there spend the shared 5.
	for i, g := range []*gateway{local, local, local, deny, deny} {
		if resp := limitsGet(t, g, "/partner/x", authnKeyNew); resp.StatusCode != 200 {
			t.Fatalf("request %d: %d", i, resp.StatusCode)
		}
	}
	if resp := limitsGet(t, local, "/partner/x", authnKeyNew); resp.StatusCode != 429 {
		t.Fatalf("the shared limit did not hold: %d", resp.StatusCode)
	}
	stopRedis()

	t.Run("on_error local counts in the replica alone, logged once", func(t *testing.T) {
		for i := range 5 {
			if resp := limitsGet(t, local, "/partner/x", authnKeyNew); resp.StatusCode != 200 {
				t.Fatalf("local request %d with Redis down: %d", i, resp.StatusCode)
			}
		}
		if resp := limitsGet(t, local, "/partner/x", authnKeyNew); resp.StatusCode != 429 {
			t.Fatalf("the local fallback did not limit: %d", resp.StatusCode)
		}
		if n := strings.Count(local.stderr.String(), "rate-limit store unreachable"); n != 1 {
			t.Fatalf("the outage was logged %d times, want once:\n%s", n, local.stderr.String())
		}
		if n := authnMetric(t, local, `portcullis_rate_limit_store_errors_total{on_error="local"}`); n < 6 {
			t.Fatalf("portcullis_rate_limit_store_errors_total = %v", n)
		}
	})

	t.Run("on_error deny answers 503", func(t *testing.T) {
		if st, reason := limitsReason(t, deny, "/partner/x", authnKeyNew); st != 503 || reason != "rate_limit_unavailable" {
			t.Fatalf("deny with Redis down: %d %s", st, reason)
		}
	})
}

func TestAuthFailuresSharedOnRedis(t *testing.T) {
	t.Parallel()
	addr, _ := startRedis(t)
	up := newUpstream(t, "partner")
	global := fmt.Sprintf(`
  redis: {addresses: [%q]}
  auth_failures: {max_failures: 6, window: 1m, block_for: 2s}`, addr)
	limit := `
      - {name: per-consumer, key: [consumer], rate: 1000, per: 1s}`
	a, b := limitsGateway(t, up, global, limit), limitsGateway(t, up, global, limit)
	for i := range 6 { // three failures on each
		g := []*gateway{a, b}[i%2]
		if st, _ := limitsReason(t, g, "/partner/x", fmt.Sprintf("pk_guess-%d", i)); st != 401 {
			t.Fatalf("guess %d: %d", i, st)
		}
	}
	for _, g := range []*gateway{a, b} {
		if st, reason := limitsReason(t, g, "/partner/x", authnKeyNew); st != 429 || reason != "auth_throttled" {
			t.Fatalf("after 6 failures across two gateways: %d %s", st, reason)
		}
	}
	if !authnPoll(6*time.Second, func() bool {
		st, _ := limitsReason(t, b, "/partner/x", authnKeyNew)
		return st == 200
	}) {
		t.Fatal("the shared block did not expire")
	}
}
