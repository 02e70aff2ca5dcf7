package introspect

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portcullis/portcullis/gateway/config"
	"github.com/portcullis/portcullis/gateway/pipeline"
	"github.com/portcullis/portcullis/gateway/problem"
	"github.com/portcullis/portcullis/policy"
)

var t0 = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

// clock is a settable clock for cache lifetimes and exp.
type clock struct{ ns atomic.Int64 }

func newClock() *clock                   { c := &clock{}; c.ns.Store(t0.UnixNano()); return c }
func (c *clock) Now() time.Time          { return time.Unix(0, c.ns.Load()).UTC() }
func (c *clock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// idp is a fake authorization server: tokens maps a token to its response.
type idp struct {
	calls  atomic.Int64
	mu     sync.Mutex
	tokens map[string]map[string]any
	// handle, when set, answers instead of the token table.
	handle func(w http.ResponseWriter, r *http.Request)
	srv    *httptest.Server
}

func newIDP(t testing.TB, tokens map[string]map[string]any) *idp {
	i := &idp{tokens: tokens}
	i.srv = httptest.NewServer(http.HandlerFunc(i.serve))
	t.Cleanup(i.srv.Close)
	return i
}

// set replaces the behaviour while the server runs.
func (i *idp) set(handle func(w http.ResponseWriter, r *http.Request), tokens map[string]map[string]any) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.handle, i.tokens = handle, tokens
}

func (i *idp) serve(w http.ResponseWriter, r *http.Request) {
	i.calls.Add(1)
	// Reading the body first lets the server notice a client that gives up.
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	i.mu.Lock()
	handle, tokens := i.handle, i.tokens
	i.mu.Unlock()
	if handle != nil {
		handle(w, r)
		return
	}
	if r.Method != http.MethodPost || r.FormValue("token_type_hint") != "access_token" {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	resp, ok := tokens[r.PostFormValue("token")]
	if !ok {
		resp = map[string]any{"active": false}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(resp)
}

func baseConfig(endpoint string) config.Introspection {
	c := config.DefaultIntrospection()
	c.Endpoint, c.ClientID, c.ClientSecret = endpoint, "gateway", config.NewSecret("s3cret")
	c.CacheSize = 100
	return c
}

func newClient(t testing.TB, cfg config.Introspection, clk *clock) *Client {
	t.Helper()
	c, err := New(cfg, Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func bearer(tok string) pipeline.Credential {
	return pipeline.Credential{Kind: "bearer", Source: "header", Value: tok}
}

func wantReason(t *testing.T, err error, status int, reason string) *problem.Problem {
	t.Helper()
	p := problem.As(err)
	if p == nil || p.Status != status || string(p.Reason) != reason {
		t.Fatalf("got %v, want %d %s", err, status, reason)
	}
	return p
}

func active(extra map[string]any) map[string]any {
	m := map[string]any{"active": true, "sub": "alice", "client_id": "web", "iss": "https://idp.test",
		"scope": "read write", "exp": t0.Add(time.Hour).Unix(), "aud": []string{"api", "other"}}
	for k, v := range extra {
		m[k] = v
	}
	return m
}

func TestCacheHitMakesOneCall(t *testing.T) {
	t.Parallel()
	i := newIDP(t, map[string]map[string]any{"tok": active(map[string]any{"token": "tok", "tenant": "t1"})})
	c := newClient(t, baseConfig(i.srv.URL), newClock())
	for range 2 {
		id, err := c.Authenticate(t.Context(), bearer("tok"))
		if err != nil {
			t.Fatal(err)
		}
		if id.Method != policy.MethodIntrospection || !id.Authenticated || id.Subject != "alice" || id.Consumer != "web" ||
			id.Issuer != "https://idp.test" || strings.Join(id.Scopes, " ") != "read write" || !id.ExpiresAt.Equal(t0.Add(time.Hour)) {
			t.Fatalf("identity %+v", id)
		}
		if _, ok := id.Claims["token"]; ok {
			t.Fatal("claims contain the token")
		}
		if id.Claims["tenant"] != "t1" || id.Claims["client_id"] != "web" {
			t.Fatalf("claims %v lack the response fields", id.Claims)
		}
	}
	if n := i.calls.Load(); n != 1 {
		t.Fatalf("%d calls for two requests, want 1", n)
	}
}

func TestSubjectFallsBackToClientID(t *testing.T) {
	t.Parallel()
	i := newIDP(t, map[string]map[string]any{"svc": {"active": true, "client_id": "batch-job"}})
	c := newClient(t, baseConfig(i.srv.URL), newClock())
	id, err := c.Authenticate(t.Context(), bearer("svc"))
	if err != nil {
		t.Fatal(err)
	}
	if id.Subject != "batch-job" || id.Consumer != "batch-job" || !id.ExpiresAt.IsZero() {
		t.Fatalf("identity %+v, want subject and consumer batch-job", id)
	}
}

func TestNegativeCache(t *testing.T) {
	t.Parallel()
	i := newIDP(t, nil)
	clk := newClock()
	c := newClient(t, baseConfig(i.srv.URL), clk)
	for range 2 {
		_, err := c.Authenticate(t.Context(), bearer("revoked"))
		wantReason(t, err, http.StatusUnauthorized, ReasonInactive)
	}
	if n := i.calls.Load(); n != 1 {
		t.Fatalf("%d calls within negative_ttl, want 1", n)
	}
	clk.Advance(5 * time.Second)
	_, err := c.Authenticate(t.Context(), bearer("revoked"))
	wantReason(t, err, http.StatusUnauthorized, ReasonInactive)
	if n := i.calls.Load(); n != 2 {
		t.Fatalf("%d calls after negative_ttl, want 2", n)
	}
}

func TestCacheSizeZeroTurnsTheCacheOff(t *testing.T) {
	t.Parallel()
	i := newIDP(t, map[string]map[string]any{"tok": active(nil)})
	cfg := baseConfig(i.srv.URL)
	cfg.CacheSize = 0
	c := newClient(t, cfg, newClock())
	for range 2 {
		if _, err := c.Authenticate(t.Context(), bearer("tok")); err != nil {
			t.Fatal(err)
		}
	}
	if n := i.calls.Load(); n != 2 {
		t.Fatalf("%d calls for two requests without a cache, want 2", n)
	}
}

func TestCacheTTLIsCappedByExp(t *testing.T) {
	t.Parallel()
	i := newIDP(t, map[string]map[string]any{"short": active(map[string]any{"exp": t0.Add(10 * time.Second).Unix()})})
	clk := newClock()
	c := newClient(t, baseConfig(i.srv.URL), clk)
	if _, err := c.Authenticate(t.Context(), bearer("short")); err != nil {
		t.Fatal(err)
	}
	clk.Advance(9 * time.Second)
	if _, err := c.Authenticate(t.Context(), bearer("short")); err != nil {
		t.Fatalf("before exp: %v", err)
	}
	if n := i.calls.Load(); n != 1 {
		t.Fatalf("%d calls before exp, want 1", n)
	}
	clk.Advance(time.Second)
	_, err := c.Authenticate(t.Context(), bearer("short"))
	wantReason(t, err, http.StatusUnauthorized, ReasonExpired)
	if n := i.calls.Load(); n != 2 {
		t.Fatalf("%d calls at exp, want 2 (the entry must not outlive exp)", n)
	}
}

func TestIssuerAndAudienceAreCheckedOnEveryUse(t *testing.T) {
	t.Parallel()
	i := newIDP(t, map[string]map[string]any{
		"good":      active(nil),
		"other-aud": active(map[string]any{"aud": "billing"}),
		"no-aud":    active(map[string]any{"aud": nil}),
		"other-iss": active(map[string]any{"iss": "https://evil.test"}),
		"future":    active(map[string]any{"nbf": t0.Add(time.Minute).Unix()}),
	})
	cfg := baseConfig(i.srv.URL)
	cfg.Issuer = "https://idp.test"
	cfg.Audiences = []string{"api"}
	c := newClient(t, cfg, newClock())
	tests := []struct {
		name, token, reason string
	}{
		{"a token for our audience and issuer passes", "good", ""},
		{"a token for another audience gets 401", "other-aud", ReasonAudienceMismatch},
		{"a token without audience gets 401", "no-aud", ReasonAudienceMismatch},
		{"a token from another issuer gets 401", "other-iss", ReasonIssuerMismatch},
		{"a token before nbf gets 401", "future", ReasonNotYetValid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for attempt := range 2 { // the second attempt is a cache hit
				_, err := c.Authenticate(t.Context(), bearer(tc.token))
				if tc.reason == "" {
					if err != nil {
						t.Fatalf("attempt %d: %v", attempt, err)
					}
					continue
				}
				wantReason(t, err, http.StatusUnauthorized, tc.reason)
			}
		})
	}
	if n := i.calls.Load(); n != int64(len(tests)) {
		t.Fatalf("%d calls, want %d (one per token, then hits)", n, len(tests))
	}
}

func TestConcurrentMissesShareOneCall(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	i := newIDP(t, nil)
	i.set(func(w http.ResponseWriter, r *http.Request) {
		<-release
		_ = json.NewEncoder(w).Encode(active(nil))
	}, nil)
	c := newClient(t, baseConfig(i.srv.URL), newClock())
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for range 100 {
		wg.Go(func() {
			_, err := c.Authenticate(t.Context(), bearer("new-token"))
			errs <- err
		})
	}
	// Let the call complete once at least one request is waiting on it.
	for i.calls.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := i.calls.Load(); n != 1 {
		t.Fatalf("%d calls for 100 concurrent requests, want 1", n)
	}
}

func TestEndpointFailuresFailClosed(t *testing.T) {
	t.Parallel()
	big := strings.Repeat("x", MaxResponseBytes)
	tests := []struct {
		name    string
		handle  func(w http.ResponseWriter, r *http.Request)
		onError string
		status  int
	}{
		{"a 500 gets 503", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "boom", 500) }, "unavailable", 503},
		{"a 401 from the endpoint gets 503", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "no", 401) }, "unavailable", 503},
		{"bad JSON gets 503", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte(`{"active": tru`)) }, "unavailable", 503},
		{"a non-boolean active gets 503", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte(`{"active": "true"}`)) }, "unavailable", 503},
		{"a body over 64KiB gets 503", func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte(`{"active": true, "pad": "` + big + `"}`))
		}, "unavailable", 503},
		{"a redirect is not followed", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "http://127.0.0.1:1/elsewhere", http.StatusTemporaryRedirect)
		}, "unavailable", 503},
		{"a timeout gets 503", func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }, "unavailable", 503},
		{"with on_error unauthorized a 500 gets 401", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "boom", 500) }, "unauthorized", 401},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			i := newIDP(t, nil)
			i.set(tc.handle, nil)
			cfg := baseConfig(i.srv.URL)
			cfg.OnError = tc.onError
			cfg.Timeout = 200 * time.Millisecond
			c := newClient(t, cfg, newClock())
			_, err := c.Authenticate(t.Context(), bearer("tok"))
			p := wantReason(t, err, tc.status, ReasonUnavailable)
			if tc.status == 503 && p.Header.Get("Retry-After") != "5" {
				t.Errorf("Retry-After = %q, want 5", p.Header.Get("Retry-After"))
			}
			// Errors are not cached: a working endpoint is asked again.
			i.set(nil, map[string]map[string]any{"tok": active(nil)})
			if _, err := c.Authenticate(t.Context(), bearer("tok")); err != nil {
				t.Fatalf("after recovery: %v", err)
			}
		})
	}
}

func TestServerDown(t *testing.T) {
	t.Parallel()
	i := newIDP(t, nil)
	c := newClient(t, baseConfig(i.srv.URL), newClock())
	i.srv.Close()
	_, err := c.Authenticate(t.Context(), bearer("secret-token-value"))
	p := wantReason(t, err, http.StatusServiceUnavailable, ReasonUnavailable)
	if p.Header.Get("Retry-After") != "5" {
		t.Errorf("Retry-After = %q, want 5", p.Header.Get("Retry-After"))
	}
	if strings.Contains(p.Error(), "secret-token-value") {
		t.Errorf("problem mentions the token: %v", p)
	}
}

func TestBodyUnderCapIsAccepted(t *testing.T) {
	t.Parallel()
	i := newIDP(t, map[string]map[string]any{"tok": active(map[string]any{"pad": strings.Repeat("x", 60<<10)})})
	c := newClient(t, baseConfig(i.srv.URL), newClock())
	if _, err := c.Authenticate(t.Context(), bearer("tok")); err != nil {
		t.Fatal(err)
	}
}

func TestClientAuthentication(t *testing.T) {
	t.Parallel()
	const id, secret = "gate way:1", "s&cr+t/ü"
	tests := []struct {
		name   string
		method string
		check  func(r *http.Request) bool
	}{
		{"client_secret_basic sends form-encoded id and secret in Basic", "client_secret_basic", func(r *http.Request) bool {
			u, p, ok := r.BasicAuth()
			du, _ := url.QueryUnescape(u)
			dp, _ := url.QueryUnescape(p)
			return ok && du == id && dp == secret && r.PostFormValue("client_secret") == ""
		}},
		{"client_secret_post sends id and secret in the form", "client_secret_post", func(r *http.Request) bool {
			_, _, basic := r.BasicAuth()
			return !basic && r.PostFormValue("client_id") == id && r.PostFormValue("client_secret") == secret
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			i := newIDP(t, nil)
			i.set(func(w http.ResponseWriter, r *http.Request) {
				if r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" || !tc.check(r) ||
					r.PostFormValue("token") != "tok" || r.PostFormValue("token_type_hint") != "access_token" {
					http.Error(w, "unauthorized client", http.StatusUnauthorized)
					return
				}
				_ = json.NewEncoder(w).Encode(active(nil))
			}, nil)
			cfg := baseConfig(i.srv.URL)
			cfg.ClientID, cfg.ClientSecret, cfg.AuthMethod = id, config.NewSecret(secret), tc.method
			c := newClient(t, cfg, newClock())
			if _, err := c.Authenticate(t.Context(), bearer("tok")); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestOtherCredentialsAndLimits(t *testing.T) {
	t.Parallel()
	i := newIDP(t, nil)
	c := newClient(t, baseConfig(i.srv.URL), newClock())
	if _, err := c.Authenticate(t.Context(), pipeline.Credential{Kind: "api_key", Value: "k"}); !errors.Is(err, pipeline.ErrNoCredential) {
		t.Fatalf("api key: got %v, want ErrNoCredential", err)
	}
	_, err := c.Authenticate(t.Context(), bearer(strings.Repeat("a", MaxTokenBytes+1)))
	wantReason(t, err, http.StatusUnauthorized, ReasonTooLarge)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err = c.Authenticate(ctx, bearer("tok"))
	wantReason(t, err, http.StatusServiceUnavailable, ReasonUnavailable)
	if n := i.calls.Load(); n != 0 {
		t.Fatalf("%d calls for a client that is gone, want 0", n)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		edit func(*config.Introspection)
		want string
	}{
		{"a relative endpoint", func(c *config.Introspection) { c.Endpoint = "/introspect" }, "want an absolute http(s) URL"},
		{"a zero timeout", func(c *config.Introspection) { c.Timeout = 0 }, "timeout"},
		{"a negative cache size", func(c *config.Introspection) { c.CacheSize = -1 }, "cache_size"},
		{"an unknown on_error", func(c *config.Introspection) { c.OnError = "allow" }, `on_error "allow"`},
		{"an unknown auth method", func(c *config.Introspection) { c.AuthMethod = "private_key_jwt" }, `auth_method "private_key_jwt"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := baseConfig("https://idp.test/introspect")
			tc.edit(&cfg)
			_, err := New(cfg, Options{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
}

func BenchmarkAuthenticateCacheHit(b *testing.B) {
	i := newIDP(b, map[string]map[string]any{"tok": active(nil)})
	cfg := baseConfig(i.srv.URL)
	cfg.Audiences = []string{"api"}
	cfg.Issuer = "https://idp.test"
	c := newClient(b, cfg, newClock())
	ctx := context.Background()
	cred := bearer("tok")
	if _, err := c.Authenticate(ctx, cred); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Authenticate(ctx, cred); err != nil {
			b.Fatal(err)
		}
	}
}
