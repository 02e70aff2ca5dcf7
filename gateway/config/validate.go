package config

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/portcullis/portcullis/gateway/header/trusted"
	"github.com/portcullis/portcullis/gateway/proxy/upstream"
	"github.com/portcullis/portcullis/gateway/route/template"
)

type checker struct{ errs Errors }

func (ch *checker) add(field, format string, args ...any) {
	ch.errs = append(ch.errs, &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)})
}

func (ch *checker) oneOf(field, v string, allowed ...string) {
	if !slices.Contains(allowed, v) {
		ch.add(field, "%q is not allowed (want %s)", v, quoteList(allowed))
	}
}

func (ch *checker) fileExists(field, p string) {
	if st, err := os.Stat(p); err != nil {
		ch.add(field, "%v", err)
	} else if st.IsDir() {
		ch.add(field, "%q is a directory, want a file", p)
	}
}

func (ch *checker) positive(field string, d time.Duration) {
	if d < 0 {
		ch.add(field, "%s must not be negative", d)
	}
}

// nonZero refuses a duration of 0 or less where 0 would mean "unbounded".
func (ch *checker) nonZero(field string, d time.Duration) {
	if d <= 0 {
		ch.add(field, "%s must be positive", d)
	}
}

// cacheSize checks a cache size: 0 turns the cache off. The old spelling
// of off, -1, gets a hint.
func (ch *checker) cacheSize(field string, n int) {
	switch {
	case n == -1:
		ch.add(field, "-1 no longer turns the cache off (did you mean 0?)")
	case n < 0 || n > 1_000_000:
		ch.add(field, "%d is out of range (want 0..1000000; 0 turns the cache off)", n)
	}
}

func quoteList(s []string) string {
	q := make([]string, len(s))
	for i, v := range s {
		q[i] = fmt.Sprintf("%q", v)
	}
	return strings.Join(q, ", ")
}

// validate reports every problem; it also fills the parsed fields (yaml:"-").
func (c *Config) validate() Errors {
	ch := &checker{}
	c.validateListen(ch)
	ch.oneOf("log.level", c.Log.Level, "debug", "info", "warn", "error")
	ch.oneOf("log.format", c.Log.Format, "json", "console")
	c.Limits.validate(ch, "limits")
	c.validateRequest(ch)
	c.validateBuffered(ch)
	c.validateAuthn(ch)
	c.validatePolicy(ch)
	c.validateDecisionLog(ch)
	c.validateTracing(ch)
	c.validateAssertion(ch)
	c.validateRateLimit(ch)
	c.Request.validate(ch)
	if len(c.Routes) == 0 {
		ch.add("routes", "at least one route is required")
	}
	names := map[string]bool{}
	for i := range c.Routes {
		c.validateRoute(ch, i, names)
	}
	return ch.errs
}

func (c *Config) validateListen(ch *checker) {
	l := &c.Listen
	for f, a := range map[string]string{"listen.proxy": l.Proxy, "listen.admin": l.Admin} {
		if _, _, err := net.SplitHostPort(a); err != nil {
			ch.add(f, "%q is not host:port: %v", a, err)
		}
	}
	// 0 would mean no timeout to net/http.
	ch.nonZero("listen.read_header_timeout", l.ReadHeaderTimeout)
	ch.nonZero("listen.read_timeout", l.ReadTimeout)
	ch.nonZero("listen.write_timeout", l.WriteTimeout)
	ch.nonZero("listen.idle_timeout", l.IdleTimeout)
	ch.positive("listen.shutdown_grace", l.ShutdownGrace)
	ch.positive("listen.drain_delay", l.DrainDelay)
	if l.MaxHeaderBytes < 1024 || l.MaxHeaderBytes > 1<<20 {
		ch.add("listen.max_header_bytes", "%d is out of range (want 1KiB..1MiB)", l.MaxHeaderBytes)
	}
	if l.MaxConnections < 1 || l.MaxConnections > 1_000_000 {
		ch.add("listen.max_connections", "%d is out of range (want 1..1000000)", l.MaxConnections)
	}
	switch {
	case (l.TLSCertFile == "") != (l.TLSKeyFile == ""):
		ch.add("listen.tls_cert_file", "tls_cert_file and tls_key_file go together")
	case l.TLSCertFile != "":
		if _, err := tls.LoadX509KeyPair(l.TLSCertFile, l.TLSKeyFile); err != nil {
			ch.add("listen.tls_cert_file", "%v", err)
		}
	}
	c.validateClientCA(ch)
	for i, s := range l.TrustedProxies {
		if _, err := trusted.Parse(s); err != nil {
			ch.add(fmt.Sprintf("listen.trusted_proxies[%d]", i), "%v", err)
		}
	}
}

func (l *Limits) validate(ch *checker, p string) {
	if l.MaxBodyBytes < 0 || l.MaxBodyBytes > 1<<30 {
		ch.add(p+".max_body_bytes", "%d is out of range (want 0..1GiB; 0 admits no body)", l.MaxBodyBytes)
	}
	if l.MaxHeaders < 1 || l.MaxHeaders > 1000 {
		ch.add(p+".max_headers", "%d is out of range (want 1..1000)", l.MaxHeaders)
	}
	if l.MaxURLBytes < 1 || l.MaxURLBytes > 1<<20 {
		ch.add(p+".max_url_bytes", "%d is out of range (want 1..1MiB)", l.MaxURLBytes)
	}
	if l.MaxQueryBytes < 1 || l.MaxQueryBytes > 1<<20 {
		ch.add(p+".max_query_bytes", "%d is out of range (want 1..1MiB)", l.MaxQueryBytes)
	}
	if l.MaxJSONDepth < 1 || l.MaxJSONDepth > 1000 {
		ch.add(p+".max_json_depth", "%d is out of range (want 1..1000)", l.MaxJSONDepth)
	}
	if l.MaxJSONKeys < 1 || l.MaxJSONKeys > 1_000_000 {
		ch.add(p+".max_json_keys", "%d is out of range (want 1..1000000)", l.MaxJSONKeys)
	}
}

var hmacAlgs = []string{"HS256", "HS384", "HS512"}
var asymAlgs = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

// checkFetchURL requires an absolute https URL, or http on loopback or with allowHTTP.
func checkFetchURL(ch *checker, field, raw string, allowHTTP bool) {
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" {
		ch.add(field, "%q is not an absolute URL", raw)
		return
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !allowHTTP && !isLoopback(u.Hostname()) {
			ch.add(field, "%q must use https (http is allowed only for loopback hosts or with allow_insecure_http: true)", raw)
		}
	default:
		ch.add(field, "%q has scheme %q (want https)", raw, u.Scheme)
	}
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}

func (c *Config) validateAuthn(ch *checker) {
	j := &c.Authn.JWT
	if j.MaxTokenBytes < 256 || j.MaxTokenBytes > 64<<10 {
		ch.add("authn.jwt.max_token_bytes", "%d is out of range (want 256..64KiB)", j.MaxTokenBytes)
	}
	ch.cacheSize("authn.jwt.cache_size", j.CacheSize)
	seen := map[string]bool{}
	for i := range j.Issuers {
		is := &j.Issuers[i]
		p := fmt.Sprintf("authn.jwt.issuers[%d]", i)
		if is.Issuer == "" {
			ch.add(p+".issuer", "is required")
		} else if seen[is.Issuer] {
			ch.add(p+".issuer", "%q is configured twice", is.Issuer)
		}
		seen[is.Issuer] = true
		if len(is.Algorithms) == 0 {
			ch.add(p+".algorithms", "is required (e.g. [RS256])")
		}
		var hmac, asym bool
		for k, a := range is.Algorithms {
			switch {
			case slices.Contains(hmacAlgs, a):
				hmac = true
			case slices.Contains(asymAlgs, a):
				asym = true
			default:
				ch.add(fmt.Sprintf("%s.algorithms[%d]", p, k), "%q is not allowed (want one of %s)", a, quoteList(append(slices.Clone(asymAlgs), hmacAlgs...)))
			}
		}
		if hmac && asym {
			ch.add(p+".algorithms", "mixes HMAC and public-key algorithms; configure them as two issuers")
		}
		if hmac && !is.Secret.IsSet() {
			ch.add(p+".secret", "is required for HMAC algorithms")
		}
		if is.Secret.IsSet() && !hmac {
			ch.add(p+".secret", "is set but no HMAC algorithm is allowed")
		}
		if hmac && len(is.Secret.Value()) < 32 {
			ch.add(p+".secret", "is shorter than 32 bytes")
		}
		if hmac && (is.JWKSURI != "" || len(is.Keys) > 0) {
			ch.add(p+".keys", "public keys cannot be used with HMAC algorithms")
		}
		if asym && is.JWKSURI == "" && len(is.Keys) == 0 {
			ch.add(p, "needs jwks_uri or keys")
		}
		if is.JWKSURI != "" {
			checkFetchURL(ch, p+".jwks_uri", is.JWKSURI, is.AllowInsecureHTTP)
		}
		for k, f := range is.Keys {
			ch.fileExists(fmt.Sprintf("%s.keys[%d]", p, k), f)
		}
		if *is.ClockSkew < 0 || *is.ClockSkew > 5*time.Minute {
			ch.add(p+".clock_skew", "%s is out of range (want 0..5m)", *is.ClockSkew)
		}
		ch.positive(p+".max_token_age", is.MaxTokenAge)
		if is.MinRefreshInterval < time.Second {
			ch.add(p+".min_refresh_interval", "%s is below 1s", is.MinRefreshInterval)
		}
		if is.RefreshInterval < is.MinRefreshInterval {
			ch.add(p+".refresh_interval", "%s is below min_refresh_interval %s", is.RefreshInterval, is.MinRefreshInterval)
		}
		ch.nonZero(p+".max_stale", is.MaxStale)
		ch.nonZero(p+".fetch_timeout", is.FetchTimeout)
		c.checkHeaderMap(ch, p+".claims_to_headers", is.ClaimsToHeaders)
	}
	if in := c.Authn.Introspection; in != nil {
		p := "authn.introspection"
		checkFetchURL(ch, p+".endpoint", in.Endpoint, in.AllowInsecureHTTP)
		if in.ClientID == "" {
			ch.add(p+".client_id", "is required")
		}
		ch.oneOf(p+".auth_method", in.AuthMethod, "client_secret_basic", "client_secret_post")
		ch.oneOf(p+".on_error", in.OnError, "unavailable", "unauthorized")
		if in.Timeout <= 0 || in.Timeout > 30*time.Second {
			ch.add(p+".timeout", "%s is out of range (want 1ms..30s)", in.Timeout)
		}
		if in.CacheTTL < 0 || in.CacheTTL > 5*time.Minute {
			ch.add(p+".cache_ttl", "%s exceeds max 5m", in.CacheTTL)
		}
		if in.NegativeTTL < 0 || in.NegativeTTL > time.Minute {
			ch.add(p+".negative_ttl", "%s exceeds max 1m", in.NegativeTTL)
		}
		ch.cacheSize(p+".cache_size", in.CacheSize)
		c.checkHeaderMap(ch, p+".claims_to_headers", in.ClaimsToHeaders)
		checkTokenTypes(ch, p+".token_types", in.TokenTypes)
	}
	k := c.Authn.APIKeys
	if !validHeaderName(k.Header) {
		ch.add("authn.api_keys.header", "%q is not a valid header name", k.Header)
	}
	if !validHeaderName(k.ConsumerHeader) {
		ch.add("authn.api_keys.consumer_header", "%q is not a valid header name", k.ConsumerHeader)
	}
	checkDataPath(ch, "authn.api_keys.data_path", k.DataPath)
	checkDataPath(ch, "authn.api_keys.revoked_data_path", k.RevokedDataPath)
	// Both are held out of OPA's store, each read by its own rules: one
	// inside the other would be read twice.
	if a, b := k.DataPath+".", k.RevokedDataPath+"."; strings.HasPrefix(a, b) || strings.HasPrefix(b, a) {
		ch.add("authn.api_keys.revoked_data_path", "%q overlaps authn.api_keys.data_path %q: the revocation list needs its own place in bundle data", k.RevokedDataPath, k.DataPath)
	}
}

// checkDataPath refuses a dotted bundle-data path with an empty segment.
func checkDataPath(ch *checker, field, p string) {
	if slices.Contains(strings.Split(p, "."), "") {
		ch.add(field, "%q is not a dotted data path (like portcullis.consumers)", p)
	}
}

var headerNameRE = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")

func validHeaderName(s string) bool { return headerNameRE.MatchString(s) }

// reservedHeaders may not be set from claims: the proxy owns them.
var reservedHeaders = []string{"Host", "Content-Length", "Transfer-Encoding", "Connection", "Authorization", "Cookie", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "X-Request-Id"}

func (c *Config) checkHeaderMap(ch *checker, p string, m map[string]string) {
	for claim, h := range m {
		f := p + "." + claim
		if !validHeaderName(h) {
			ch.add(f, "%q is not a valid header name", h)
		} else if slices.Contains(reservedHeaders, http.CanonicalHeaderKey(h)) {
			ch.add(f, "%q is managed by the gateway and cannot carry a claim", h)
		}
	}
}

func (c *Config) validatePolicy(ch *checker) {
	p := &c.Policy
	if len(p.Bundles) == 0 {
		ch.add("policy.bundles", "at least one bundle is required (without a policy every request is denied)")
	}
	ch.bundles("policy.bundles", p.Bundles)
	c.validateRemote(ch)
	if !strings.HasPrefix(p.Decision, "data.") {
		ch.add("policy.decision", "%q must be a rule reference starting with data.", p.Decision)
	}
	if p.Timeout <= 0 || p.Timeout > 10*time.Second {
		ch.add("policy.timeout", "%s is out of range (want 1ms..10s)", p.Timeout)
	}
	if p.Debounce < 0 || p.Debounce > time.Minute {
		ch.add("policy.debounce", "%s is out of range (want 0..1m)", p.Debounce)
	}
	ch.cacheSize("policy.decision_cache_size", p.DecisionCacheSize)
	if p.MaxBundleBytes < 1 || p.MaxBundleBytes > 1<<30 {
		ch.add("policy.max_bundle_bytes", "%d is out of range (want 1..1GiB)", p.MaxBundleBytes)
	}
	if p.InputCompat != "" {
		ch.oneOf("policy.input_compat", p.InputCompat, "opa-envoy")
	}
	if s := p.Signing; s != nil {
		ch.fileExists("policy.signing.key_file", s.KeyFile)
	}
	c.validateShadow(ch)
}

func (c *Config) validateDecisionLog(ch *checker) {
	d := &c.DecisionLog
	for f, r := range map[string]string{"decision_log.mask_rule": d.MaskRule, "decision_log.drop_rule": d.DropRule} {
		if !strings.HasPrefix(r, "data.") {
			ch.add(f, "%q must be a rule reference starting with data.", r)
		}
	}
	for i, ptr := range d.Erase {
		if !strings.HasPrefix(ptr, "/input") && !strings.HasPrefix(ptr, "/result") {
			ch.add(fmt.Sprintf("decision_log.erase[%d]", i), "%q must be a JSON pointer under /input or /result", ptr)
		}
	}
	for f, v := range map[string]*float64{"decision_log.sample.allow": d.Sample.Allow, "decision_log.sample.deny": d.Sample.Deny} {
		if *v < 0 || *v > 1 {
			ch.add(f, "%v is out of range (want 0..1)", *v)
		}
	}
	if f := d.File; f != nil {
		if f.Path == "" {
			ch.add("decision_log.file.path", "is required")
		}
		if f.MaxSize < 1 {
			ch.add("decision_log.file.max_size", "%d must be positive", f.MaxSize)
		}
		ch.nonZero("decision_log.file.max_age", f.MaxAge)
	}
	if h := d.HTTP; h != nil {
		p := "decision_log.http"
		checkFetchURL(ch, p+".url", h.URL, h.AllowInsecureHTTP)
		ch.oneOf(p+".format", h.Format, "ndjson", "opa", "splunk_hec", "elasticsearch_bulk")
		if h.Format == "splunk_hec" && (h.Splunk == nil || !h.Splunk.Token.IsSet()) {
			ch.add(p+".splunk.token", "is required with format splunk_hec")
		}
		if h.Format == "elasticsearch_bulk" && (h.Elasticsearch == nil || h.Elasticsearch.Index == "") {
			ch.add(p+".elasticsearch.index", "is required with format elasticsearch_bulk")
		}
		ch.oneOf(p+".on_full", h.OnFull, "drop_oldest", "fail_closed")
		if h.BearerToken.IsSet() && h.Username != "" {
			ch.add(p+".bearer_token", "cannot be combined with username/password")
		}
		if h.CAFile != "" {
			ch.fileExists(p+".ca_file", h.CAFile)
		}
		if h.QueueEvents < 1 || h.QueueEvents > 1_000_000 {
			ch.add(p+".queue_events", "%d is out of range (want 1..1000000)", h.QueueEvents)
		}
		if h.BatchEvents < 1 || h.BatchEvents > h.QueueEvents {
			ch.add(p+".batch_events", "%d is out of range (want 1..queue_events)", h.BatchEvents)
		}
		for f, n := range map[string]ByteSize{p + ".batch_bytes": h.BatchBytes, p + ".spool_max_bytes": h.SpoolMaxBytes} {
			if n < 1 {
				ch.add(f, "%d must be positive", n)
			}
		}
		ch.nonZero(p+".flush_interval", h.FlushInterval)
		ch.nonZero(p+".timeout", h.Timeout)
		ch.nonZero(p+".max_retry_delay", h.MaxRetryDelay)
	}
	if s := d.Syslog; s != nil {
		if _, _, err := net.SplitHostPort(s.Address); err != nil {
			ch.add("decision_log.syslog.address", "%q is not host:port", s.Address)
		}
		if s.CAFile != "" {
			if !s.TLS {
				ch.add("decision_log.syslog.ca_file", "is set but tls is false")
			}
			ch.fileExists("decision_log.syslog.ca_file", s.CAFile)
		}
	}
}

func (c *Config) validateRoute(ch *checker, i int, names map[string]bool) {
	r := &c.Routes[i]
	p := fmt.Sprintf("routes[%d]", i)
	if r.Name == "" {
		ch.add(p+".name", "is required")
	} else if names[r.Name] {
		ch.add(p+".name", "%q is used by another route", r.Name)
	}
	names[r.Name] = true

	m := r.Match
	switch {
	case (m.PathPrefix == "") == (m.Path == ""):
		ch.add(p+".match", "set exactly one of path_prefix and path")
	case m.PathPrefix != "" && !strings.HasPrefix(m.PathPrefix, "/"):
		ch.add(p+".match.path_prefix", "%q must start with /", m.PathPrefix)
	case m.Path != "":
		if _, err := template.Compile(m.Path); err != nil {
			ch.add(p+".match.path", "%v", err)
		}
	}
	c.validateLowercase(ch, p, r)
	for k, meth := range m.Methods {
		if meth != strings.ToUpper(meth) || !validHeaderName(meth) {
			ch.add(fmt.Sprintf("%s.match.methods[%d]", p, k), "%q is not an upper-case HTTP method", meth)
		}
	}

	c.validateUpstreams(ch, p, r)
	validateLimits(ch, p+".rate_limits", r.RateLimits)
	validateUpstreamTLS(ch, p, r)
	if r.StripPrefix != "" && (!strings.HasPrefix(r.StripPrefix, "/") || (m.PathPrefix != "" && !strings.HasPrefix(m.PathPrefix, r.StripPrefix))) {
		ch.add(p+".strip_prefix", "%q must start with / and be a prefix of match.path_prefix", r.StripPrefix)
	}
	if r.Timeout <= 0 || r.Timeout > time.Hour {
		ch.add(p+".timeout", "%s is out of range (want 1ms..1h)", r.Timeout)
	}
	ch.nonZero(p+".connect_timeout", r.ConnectTimeout)
	ch.positive(p+".eject_for", r.EjectFor)

	a := r.Authn
	for k, meth := range a.Methods {
		f := fmt.Sprintf("%s.authn.methods[%d]", p, k)
		ch.oneOf(f, meth, "jwt", "introspection", "api_key", "client_cert")
		switch {
		case meth == "jwt" && len(c.Authn.JWT.Issuers) == 0:
			ch.add(f, "jwt needs authn.jwt.issuers")
		case meth == "introspection" && c.Authn.Introspection == nil:
			ch.add(f, "introspection needs authn.introspection")
		case meth == "api_key" && len(c.Policy.Bundles) == 0:
			ch.add(f, "api_key needs policy.bundles (consumers live in bundle data)")
		case meth == "client_cert":
			c.checkClientCertMethod(ch, f)
		}
	}
	if a.BearerQuery != "" && a.BearerQuery == c.Authn.APIKeys.Query && a.APIKeyQuery {
		ch.add(p+".authn.bearer_query", "%q is also the API-key query parameter", a.BearerQuery)
	}

	if o := r.OpenAPI; o.Spec != "" {
		ch.fileExists(p+".openapi.spec", o.Spec)
		ch.oneOf(p+".openapi.mode", o.Mode, "enforce", "report", "off")
		ch.oneOf(p+".openapi.unknown_operation", o.UnknownOperation, "reject", "pass")
	} else if o.Mode != "" || o.UnknownOperation != "" || len(o.ContentTypes) > 0 {
		ch.add(p+".openapi.spec", "is required when other openapi fields are set")
	}
	r.Limits.validate(ch, p+".limits")
	globalOnly(ch, p+".limits", &r.Limits)
	withinGlobal(ch, p+".limits", &r.Limits, &c.Limits)
	if r.Policy.InputCompat != "" {
		ch.oneOf(p+".policy.input_compat", r.Policy.InputCompat, "opa-envoy")
	}
	validateEdge(ch, p, r)
}

// validateUpstreams checks the route's upstreams with the parser the proxy uses.
func (c *Config) validateUpstreams(ch *checker, p string, r *Route) {
	switch _, err := upstream.ParseAll(r.Upstream, r.Upstreams); {
	case errors.Is(err, upstream.ErrNone):
		ch.add(p+".upstream", "is required")
	case errors.Is(err, upstream.ErrBoth):
		ch.add(p+".upstream", "%v", err)
	}
	if r.Upstream != "" {
		if _, err := upstream.Parse(r.Upstream); err != nil {
			ch.add(p+".upstream", "%v", err)
		}
	}
	for k, s := range r.Upstreams {
		if _, err := upstream.Parse(s); err != nil {
			ch.add(fmt.Sprintf("%s.upstreams[%d]", p, k), "%v", err)
		}
	}
}
