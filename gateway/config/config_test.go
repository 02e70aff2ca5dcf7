package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const minimal = `
policy:
  bundles: [{name: b, path: .}]
routes:
  - name: r
    match: {path_prefix: /}
    upstream: http://127.0.0.1:9000
`

func TestParseDefaults(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	c, err := Parse(filepath.Join(dir, "portcullis.yaml"), []byte(minimal))
	if err != nil {
		t.Fatal(err)
	}
	r := c.Routes[0]
	for _, tc := range []struct {
		name      string
		got, want any
	}{
		{"proxy listens on :8080", c.Listen.Proxy, ":8080"},
		{"admin listens on loopback", c.Listen.Admin, "127.0.0.1:8081"},
		{"the body limit is 1 MiB", c.Limits.MaxBodyBytes, ByteSize(1 << 20)},
		{"routes inherit the body limit", r.Limits.MaxBodyBytes, ByteSize(1 << 20)},
		{"credentials are hidden", *r.Authn.HideCredentials, true},
		{"anonymous requests are refused", r.Authn.Anonymous, false},
		{"the decision rule is portcullis.authz.decision", c.Policy.Decision, "data.portcullis.authz.decision"},
		{"policy evaluation times out after 50ms", c.Policy.Timeout, 50 * time.Millisecond},
		{"10000 decisions are cached", c.Policy.DecisionCacheSize, 10000},
		{"the decision log goes to stdout", *c.DecisionLog.Stdout, true},
		{"the route times out after 30s", r.Timeout, 30 * time.Second},
		{"the config directory is kept", c.Dir, dir},
		{"header names with underscores are dropped", c.Listen.HeadersWithUnderscores, "drop"},
		{"method overrides are stripped", c.Request.MethodOverride, "strip"},
		{"routes accept no upgrade", len(r.Upgrade), 0},
		{"10000 client connections are allowed", c.Listen.MaxConnections, 10000},
		{"buffered bodies may hold 64 MiB", c.Limits.MaxBufferedBytes, ByteSize(64 << 20)},
		{"anonymous buffered bodies may hold 8 MiB", c.Limits.MaxAnonymousBufferedBytes, ByteSize(8 << 20)},
		{"routes do not inherit the global buffer budget", r.Limits.MaxBufferedBytes, ByteSize(0)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got != tc.want {
				t.Fatalf("got %v, want %v", tc.got, tc.want)
			}
		})
	}
}

// TestDefaultsAndOff pins the rule: a field left out takes its default, a
// field written is taken as written, and 0 turns a cache off.
func TestDefaultsAndOff(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	y := strings.Replace(minimal, "policy:\n", "policy:\n  decision_cache_size: 0\n", 1) +
		"authn:\n  jwt:\n    cache_size: 0\n    issuers: [{issuer: i, jwks_uri: https://x/j, algorithms: [RS256], clock_skew: 0s}]\n" +
		"  introspection: {endpoint: https://x/i, client_id: c, cache_size: 0}\n" +
		"limits: {max_body_bytes: 0, max_headers: 50}\n"
	c, err := Parse(filepath.Join(dir, "c.yaml"), []byte(y))
	if err != nil {
		t.Fatal(err)
	}
	is := c.Authn.JWT.Issuers[0]
	for _, tc := range []struct {
		name      string
		got, want any
	}{
		{"a decision cache size of 0 turns the cache off", c.Policy.DecisionCacheSize, 0},
		{"a JWT cache size of 0 turns the cache off", c.Authn.JWT.CacheSize, 0},
		{"an introspection cache size of 0 turns the cache off", c.Authn.Introspection.CacheSize, 0},
		{"an explicit clock skew of 0 is kept", *is.ClockSkew, time.Duration(0)},
		{"an issuer field left out takes its default", is.FetchTimeout, 5 * time.Second},
		{"an introspection field left out takes its default", c.Authn.Introspection.Timeout, 2 * time.Second},
		{"a body limit of 0 is kept", c.Limits.MaxBodyBytes, ByteSize(0)},
		{"a route inherits the global limit written after it", c.Routes[0].Limits.MaxHeaders, 50},
		{"a route inherits a global 0", c.Routes[0].Limits.MaxBodyBytes, ByteSize(0)},
		{"the default of a section is what Default gives", c.Listen.ReadTimeout, Default().Listen.ReadTimeout},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got != tc.want {
				t.Fatalf("got %v, want %v", tc.got, tc.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tests := []struct {
		name string
		yaml string
		want []string
	}{
		{"an unknown field is reported with its line", "routes:\n  - name: r\n    upstrem: x\n",
			[]string{`c.yaml:3: routes[0].upstrem: unknown field (did you mean "upstream"?)`}},
		{"a bad upstream is reported with field and line", "routes:\n  - name: r\n    match: {path_prefix: /}\n    upstream: ftp://x\n",
			[]string{`c.yaml:4: routes[0].upstream: "ftp://x" must be an absolute http or https URL`}},
		{"every problem is reported", "log: {level: loud}\npolicy: {bundles: [{name: b, path: .}]}\nroutes:\n  - name: r\n    match: {path_prefix: x}\n",
			[]string{`c.yaml:1: log.level: "loud" is not allowed (want "debug", "info", "warn", "error")`,
				`c.yaml:5: routes[0].match.path_prefix: "x" must start with /`,
				`c.yaml:4: routes[0].upstream: is required`}},
		{"a TLS certificate needs its key", "listen: {tls_cert_file: cert.pem}\n" + minimal,
			[]string{"listen.tls_cert_file: tls_cert_file and tls_key_file go together"}},
		{"an unreadable TLS key pair is reported", "listen: {tls_cert_file: cert.pem, tls_key_file: key.pem}\n" + minimal,
			[]string{"c.yaml:1: listen.tls_cert_file: open"}},
		{"no routes is an error", "listen: {proxy: ':1'}\n", []string{"c.yaml: routes: at least one route is required", "c.yaml: policy.bundles: at least one bundle is required"}},
		{"alg none cannot be configured", "authn:\n  jwt:\n    issuers:\n      - issuer: i\n        keys: [k.pem]\n        algorithms: [none]\n" + minimal,
			[]string{`authn.jwt.issuers[0].algorithms[0]: "none" is not allowed`}},
		{"HMAC and public keys cannot mix", "authn:\n  jwt:\n    issuers:\n      - issuer: i\n        jwks_uri: https://x/jwks\n        algorithms: [HS256, RS256]\n" + minimal,
			[]string{"mixes HMAC and public-key algorithms", "secret: is required for HMAC algorithms"}},
		{"a plain-http JWKS URI is refused off loopback", "authn:\n  jwt:\n    issuers:\n      - issuer: i\n        jwks_uri: http://idp.example/jwks\n        algorithms: [RS256]\n" + minimal,
			[]string{`jwks_uri: "http://idp.example/jwks" must use https`}},
		{"clock skew is capped at 5m", "authn:\n  jwt:\n    issuers:\n      - issuer: i\n        jwks_uri: https://x/j\n        algorithms: [RS256]\n        clock_skew: 10m\n" + minimal,
			[]string{"clock_skew: 10m0s is out of range (want 0..5m)"}},
		{"an introspection cache TTL over 5m is refused", "authn:\n  introspection:\n    endpoint: https://x/i\n    client_id: c\n    cache_ttl: 1h\n" + minimal,
			[]string{"authn.introspection.cache_ttl: 1h0m0s exceeds max 5m"}},
		{"a negative decision cache size is refused", strings.Replace(minimal, "policy:\n", "policy:\n  decision_cache_size: -2\n", 1),
			[]string{"policy.decision_cache_size: -2 is out of range (want 0..1000000; 0 turns the cache off)"}},
		{"the old spelling of a cache turned off gets a hint", strings.Replace(minimal, "policy:\n", "policy:\n  decision_cache_size: -1\n", 1),
			[]string{"c.yaml:3: policy.decision_cache_size: -1 no longer turns the cache off (did you mean 0?)"}},
		{"a timeout of 0 is refused where it would mean none", "listen: {read_timeout: 0s}\n" + minimal,
			[]string{"c.yaml:1: listen.read_timeout: 0s must be positive"}},
		{"a JSON depth of 0 is refused", "limits: {max_json_depth: 0}\n" + minimal,
			[]string{"c.yaml:1: limits.max_json_depth: 0 is out of range (want 1..1000)"}},
		{"a bad size is reported", "limits: {max_body_bytes: 1 parsec}\n" + minimal,
			[]string{`c.yaml:1: limits.max_body_bytes: invalid size unit in "1 parsec"`}},
		{"a duplicate route name is refused", minimal + "  - name: r\n    match: {path_prefix: /x}\n    upstream: http://127.0.0.1:1\n",
			[]string{`routes[1].name: "r" is used by another route`}},
		{"a missing env secret is reported", "authn:\n  introspection:\n    endpoint: https://x/i\n    client_id: c\n    client_secret: ${PORTCULLIS_TEST_UNSET_VAR}\n" + minimal,
			[]string{"environment variable PORTCULLIS_TEST_UNSET_VAR is not set"}},
		{"an unknown underscore action is refused", "listen: {headers_with_underscores: keep}\n" + minimal,
			[]string{`c.yaml:1: listen.headers_with_underscores: "keep" is not allowed (want "drop", "reject", "allow")`}},
		{"an unknown method override action is refused", "request: {method_override: honour}\n" + minimal,
			[]string{`c.yaml:1: request.method_override: "honour" is not allowed (want "strip", "reject", "judge")`}},
		{"a forwarding header must be a header name", "request: {forwarding_headers: [X-Ok, 'X Bad']}\n" + minimal,
			[]string{`request.forwarding_headers[1]: "X Bad" is not a header name`}},
		{"only websocket upgrades exist", strings.Replace(minimal, "    upstream: http://127.0.0.1:9000\n", "    upstream: http://127.0.0.1:9000\n    upgrade: [websocket, h2c]\n", 1),
			[]string{`routes[0].upgrade[1]: "h2c" is not allowed (want "websocket")`}},
		{"max_connections must be positive", "listen: {max_connections: -1}\n" + minimal,
			[]string{"c.yaml:1: listen.max_connections: -1 is out of range (want 1..1000000)"}},
		{"the anonymous budget cannot exceed the global one", "limits: {max_buffered_bytes: 2MiB, max_anonymous_buffered_bytes: 4MiB}\n" + minimal,
			[]string{"limits.max_anonymous_buffered_bytes: 4194304 is out of range (want 1..limits.max_buffered_bytes 2097152)"}},
		{"the budget must hold the largest body", "limits: {max_buffered_bytes: 1MiB, max_anonymous_buffered_bytes: 1MiB}\n" + strings.Replace(minimal, "    upstream:", "    limits: {max_body_bytes: 2MiB}\n    upstream:", 1),
			[]string{"limits.max_buffered_bytes: 1048576 is below routes[0].limits.max_body_bytes 2097152"}},
		{"a route cannot set the global buffer budget", strings.Replace(minimal, "    upstream:", "    limits: {max_buffered_bytes: 2MiB, max_anonymous_buffered_bytes: 1MiB}\n    upstream:", 1),
			[]string{"routes[0].limits.max_buffered_bytes: is global (set it under limits, not in a route)",
				"routes[0].limits.max_anonymous_buffered_bytes: is global"}},
		{"a route's head limits may not exceed the global ones", strings.Replace(minimal, "    upstream:", "    limits: {max_headers: 200, max_url_bytes: 16KiB, max_query_bytes: 1KiB}\n    upstream:", 1),
			[]string{"routes[0].limits.max_headers: 200 exceeds limits.max_headers 100, which is checked first, before routing (a route may only be stricter)",
				"routes[0].limits.max_url_bytes: 16384 exceeds limits.max_url_bytes 8192"}},
		{"a trusted proxy must be a CIDR or an address", "listen: {trusted_proxies: [10.0.0.0/8, proxy.internal]}\n" + minimal,
			[]string{`c.yaml:1: listen.trusted_proxies[1]: "proxy.internal" is not a CIDR or IP address`}},
		{"a route's assertion needs the signing keys", strings.Replace(minimal, "    upstream:", "    identity_assertion: {ttl: 0s}\n    upstream:", 1),
			[]string{"routes[0].identity_assertion: needs the top-level identity_assertion section",
				"routes[0].identity_assertion.ttl: 0s is out of range (want 1s..1h)"}},
		{"assertion keys are checked", "identity_assertion:\n  issuer: ''\n  keys: [{file: nope.pem, kid: a, not_before: tomorrow}, {file: nope.pem, kid: a}]\n" + minimal,
			[]string{"identity_assertion.issuer: is required", "identity_assertion.keys[0].file: stat", `identity_assertion.keys[0].not_before: "tomorrow" is not an RFC 3339 time`,
				`identity_assertion.keys[1].kid: "a" is used by another key`}},
		{"an assertion header must be a header name", "identity_assertion: {keys: [{file: c.yaml}]}\n" + strings.Replace(minimal, "    upstream:", "    identity_assertion: {header: 'X Bad'}\n    upstream:", 1),
			[]string{`routes[0].identity_assertion.header: "X Bad" is not a header name`}},
		{"a bad path template is refused", "routes:\n  - name: r\n    match:\n      path: /users/{id}x\n    upstream: http://127.0.0.1:1\n",
			[]string{`must be a literal or a whole {name}`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse(filepath.Join(dir, "c.yaml"), []byte(tc.yaml))
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("error %v is not Errors", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error\n%s\nlacks %q", err, w)
				}
			}
		})
	}
}

func TestSecrets(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "secret.txt"), []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PORTCULLIS_TEST_SECRET", "from-env")
	for _, tc := range []struct{ name, value, want string }{
		{"a literal is kept", "plain", "plain"},
		{"an env reference is resolved", "${PORTCULLIS_TEST_SECRET}", "from-env"},
		{"a file reference is read relative to the config", "file:secret.txt", "from-file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			y := "authn:\n  introspection:\n    endpoint: https://x/i\n    client_id: c\n    client_secret: \"" + tc.value + "\"\n" + minimal
			c, err := Parse(filepath.Join(dir, "c.yaml"), []byte(y))
			if err != nil {
				t.Fatal(err)
			}
			s := c.Authn.Introspection.ClientSecret
			if s.Value() != tc.want {
				t.Fatalf("secret = %q, want %q", s.Value(), tc.want)
			}
			if s.String() != "[redacted]" {
				t.Fatalf("secret prints as %q", s.String())
			}
		})
	}
}

func TestParseByteSize(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want ByteSize
		ok   bool
	}{
		{"512", 512, true}, {"64KiB", 64 << 10, true}, {"1MiB", 1 << 20, true}, {"2 mb", 2 << 20, true},
		{"1GiB", 1 << 30, true}, {"-1", 0, false}, {"1.5MiB", 0, false}, {"99999999999999999999", 0, false}, {"1XB", 0, false},
	} {
		got, err := ParseByteSize(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseByteSize(%q) = %d, %v", tc.in, got, err)
		}
	}
}

// FuzzParse checks that no configuration text panics the loader and that
// every error names the file.
func FuzzParse(f *testing.F) {
	f.Add([]byte(minimal))
	f.Add([]byte("routes: [{name: a, match: {path: /x/{y}}, upstream: http://h}]"))
	f.Add([]byte("limits: {max_body_bytes: 1GiB}\n"))
	f.Add([]byte(":\n- [\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, err := Parse("fuzz.yaml", b)
		if err != nil && !strings.HasPrefix(err.Error(), "fuzz.yaml") {
			t.Fatalf("error does not start with the file name: %v", err)
		}
	})
}

func TestAssertionDefaults(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	text := "identity_assertion: {keys: [{file: k.pem}]}\n" + strings.Replace(minimal, "    upstream:", "    identity_assertion: {}\n    upstream:", 1)
	if err := os.WriteFile(filepath.Join(dir, "k.pem"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Parse(filepath.Join(dir, "portcullis.yaml"), []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	ia, ra := c.IdentityAssertion, c.Routes[0].IdentityAssertion
	if ia.Issuer != "portcullis" || ia.RotationOverlap != 10*time.Minute || ia.Keys[0].File != filepath.Join(dir, "k.pem") ||
		ra.Header != "X-Portcullis-Assertion" || ra.TTL != 60*time.Second || ra.Audience != "" {
		t.Fatalf("defaults: %+v %+v", ia, ra)
	}
}
