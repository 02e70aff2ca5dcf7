package apisix

import (
	"net/textproto"
	"strings"
	"time"

	"github.com/portcullis/portcullis/internal/migrate"
)

func ptr[T any](v T) *T { return &v }

// plugin maps one route plugin onto rt and reports it.
func (im *importer) plugin(rt *migrate.Route, c *migrate.Obj, name string, line int, what string) {
	rep := func(key string, out migrate.Outcome, format string, a ...any) {
		l := line
		if key != "" && c.Has(key) {
			l = c.LineOf(key)
		}
		w := what
		if key != "" {
			w += "." + key
		}
		im.plan.Report.Add(c.File, l, w, out, format, a...)
	}
	c.Use("_meta")
	switch name {
	case "jwt-auth":
		rt.AddAuthn("jwt")
		q, ck := "jwt", "jwt"
		if c.Has("query") {
			q = c.Str("query")
		}
		if c.Has("cookie") {
			ck = c.Str("cookie")
		}
		rt.BearerQuery, rt.BearerCookie = q, ck
		rep("", migrate.Mapped, "authn.methods [jwt], bearer_query %q, bearer_cookie %q (APISIX's defaults are jwt and jwt)", q, ck)
		if h := c.Str("header"); h != "" && !strings.EqualFold(h, "authorization") {
			rep("header", migrate.NotMapped, "Portcullis reads tokens from Authorization only, not %s", h)
		}
		im.hide(rt, c, rep)
		if k := c.Str("key_claim_name"); k != "" && k != "iss" {
			rep("key_claim_name", migrate.Partial, "Portcullis selects the issuer by iss, not %s", k)
		}
		c.Use("store_in_ctx")
		if c.Has("anonymous_consumer") {
			rep("anonymous_consumer", migrate.NotMapped, "set routes[].authn.anonymous and decide in the policy")
		}
	case "key-auth":
		rt.AddAuthn("api_key")
		h := c.Str("header")
		if h == "" {
			h = "apikey"
		}
		switch {
		case im.plan.APIKeyHeader == "":
			im.plan.APIKeyHeader = h
			rep("header", migrate.Mapped, "authn.api_keys.header %s", h)
		case !strings.EqualFold(im.plan.APIKeyHeader, h):
			rep("header", migrate.Partial, "Portcullis reads API keys from one header for all routes: %s, not %s", im.plan.APIKeyHeader, h)
		}
		rep("query", migrate.Partial, "APISIX also accepted the key in the query (?%s=); Portcullis does so only with routes[].authn.api_key_query, not set by the import", strOr(c.Str("query"), "apikey"))
		im.hide(rt, c, rep)
	case "consumer-restriction":
		typ := strOr(c.Str("type"), "consumer_name")
		if typ != "consumer_name" {
			rep("type", migrate.NotMapped, "type %s: only consumer_name is imported", typ)
			c.Use(c.Keys()...)
			return
		}
		rt.AllowConsumers, rt.DenyConsumers = c.Strs("whitelist"), c.Strs("blacklist")
		rep("", migrate.Mapped, "allowed consumers %v, denied %v: enforced by bundles/imported", rt.AllowConsumers, rt.DenyConsumers)
		if c.Has("allowed_by_methods") {
			rep("allowed_by_methods", migrate.NotMapped, "write the per-method rule into the policy")
		}
		if code, ok := c.Int("rejected_code"); ok && code != 403 {
			rep("rejected_code", migrate.Partial, "Portcullis answers 403, not %d", code)
		}
		c.Use("rejected_code", "rejected_msg")
	case "request-validation":
		schema, err := migrate.Any(c.Key("body_schema"))
		if err != nil || schema == nil {
			rep("body_schema", migrate.NotMapped, "no usable body_schema")
		} else {
			rt.BodySchema = schema
			rep("body_schema", migrate.Mapped, "schemas/<route>.yaml (openapi.mode enforce, 400 with invalid_params), for the route's body methods")
		}
		if c.Has("header_schema") {
			rep("header_schema", migrate.NotMapped, "declare header parameters in the route's OpenAPI document")
		}
		if code, ok := c.Int("rejected_code"); ok && code != 400 {
			rep("rejected_code", migrate.Partial, "Portcullis answers 400, not %d", code)
		}
		c.Use("rejected_code", "rejected_msg")
	case "client-control":
		if n, ok := c.Int("max_body_size"); ok {
			rt.MaxBodyBytes = n
			rep("max_body_size", migrate.Mapped, "limits.max_body_bytes %d (413 as in APISIX)", n)
		}
	case "openid-connect":
		im.oidc(rt, c, rep)
	case "limit-count":
		im.limitCount(rt, c, rep)
	case "cors":
		cors := &migrate.CORS{
			AllowOrigins: list(c.Str("allow_origins"), "*"), AllowMethods: list(c.Str("allow_methods"), "*"),
			AllowHeaders: list(c.Str("allow_headers"), "*"), ExposeHeaders: list(c.Str("expose_headers"), ""),
			AllowCredentials: c.Bool("allow_credential", false), MaxAge: 5 * time.Second,
		}
		if s, ok := c.Int("max_age"); ok {
			cors.MaxAge = time.Duration(s) * time.Second
		}
		rt.CORS = cors
		rep("", migrate.Mapped, "routes[].cors")
		if c.Has("allow_origins_by_regex") || c.Has("allow_origins_by_metadata") {
			rep("allow_origins_by_regex", migrate.NotMapped, "origin regexes and metadata are not imported")
		}
		c.Use("allow_origins_by_regex", "allow_origins_by_metadata", "timing_allow_origins", "timing_allow_origins_by_regex")
	case "ip-restriction":
		rt.IPAllow, rt.IPDeny = c.Strs("whitelist"), c.Strs("blacklist")
		rep("", migrate.Mapped, "routes[].ip_allow %v, ip_deny %v", rt.IPAllow, rt.IPDeny)
		c.Use("message", "response_code")
	case "request-id":
		h := strOr(c.Str("header_name"), "X-Request-Id")
		if textproto.CanonicalMIMEHeaderKey(h) == "X-Request-Id" {
			rep("", migrate.Mapped, "Portcullis sets X-Request-Id upstream on every request")
		} else {
			rep("header_name", migrate.Partial, "Portcullis's request id header is X-Request-Id, not %s", h)
		}
		c.Use("include_in_response", "algorithm", "range_id")
	default:
		rep("", migrate.NotMapped, "plugin %q has no Portcullis equivalent in the importer", name)
		c.Use(c.Keys()...)
		return
	}
	c.Rest(&im.plan.Report, what)
}

func (im *importer) hide(rt *migrate.Route, c *migrate.Obj, rep func(string, migrate.Outcome, string, ...any)) {
	if c.Bool("hide_credentials", false) {
		rt.HideCredentials = ptr(true)
		rep("hide_credentials", migrate.Mapped, "routes[].authn.hide_credentials true")
		return
	}
	rep("hide_credentials", migrate.Partial, "APISIX forwarded the credential (hide_credentials defaults to false); Portcullis removes it by default (set routes[].authn.hide_credentials: false to forward it)")
}

func (im *importer) oidc(rt *migrate.Route, c *migrate.Obj, rep func(string, migrate.Outcome, string, ...any)) {
	endpoint := c.Str("introspection_endpoint")
	if !c.Bool("bearer_only", false) || endpoint == "" {
		rep("", migrate.NotMapped, "only bearer_only with an introspection_endpoint is imported (login flows and discovery-based JWT are not)")
		c.Use(c.Keys()...)
		return
	}
	method := strOr(c.Str("introspection_endpoint_auth_method"), "client_secret_basic")
	if method != "client_secret_basic" && method != "client_secret_post" {
		rep("introspection_endpoint_auth_method", migrate.NotMapped, "%s: Portcullis supports client_secret_basic and client_secret_post", method)
		method = "client_secret_basic"
	}
	in := &migrate.Introspection{Endpoint: endpoint, ClientID: c.Str("client_id"), ClientSecret: c.Str("client_secret"), AuthMethod: method}
	if prev := im.plan.Introspection; prev != nil && prev.Endpoint != endpoint {
		rep("introspection_endpoint", migrate.NotMapped, "Portcullis has one introspection endpoint; %s is kept", prev.Endpoint)
	} else {
		im.plan.Introspection = in
	}
	rt.AddAuthn("introspection")
	rep("introspection_endpoint", migrate.Mapped, "authn.introspection (client %s, secret in secrets/introspection-client-secret); authn.methods [introspection]", in.ClientID)
	rep("discovery", migrate.Mapped, "not needed: the introspection endpoint is configured directly")
	if c.Has("token_signing_alg_values_expected") {
		rep("token_signing_alg_values_expected", migrate.Partial, "introspected tokens are opaque to Portcullis; no signature algorithm is checked")
	}
	if c.Bool("set_userinfo_header", false) {
		rep("set_userinfo_header", migrate.NotMapped, "no X-Userinfo header: map claims with authn.introspection.claims_to_headers")
	}
	if c.Has("introspection_expiry_claim_enabled") || c.Has("introspection_interval") {
		rep("introspection_interval", migrate.Partial, "Portcullis caches active results for authn.introspection.cache_ttl (default 60s, never past exp)")
	}
	rep("realm", migrate.Mapped, "WWW-Authenticate carries Bearer error=\"invalid_token\" without a realm")
	c.Use("discovery", "bearer_only", "realm", "client_secret", "client_id", "introspection_endpoint_auth_method", "token_signing_alg_values_expected",
		"set_userinfo_header", "introspection_expiry_claim_enabled", "introspection_interval", "set_access_token_header", "access_token_in_authorization_header", "ssl_verify", "timeout", "scope")
}

func (im *importer) limitCount(rt *migrate.Route, c *migrate.Obj, rep func(string, migrate.Outcome, string, ...any)) {
	count, ok1 := c.Int("count")
	window, ok2 := c.Int("time_window")
	if !ok1 || !ok2 || count <= 0 || window <= 0 {
		rep("", migrate.NotMapped, "count and time_window are required")
		c.Use(c.Keys()...)
		return
	}
	typ := strOr(c.Str("key_type"), "var")
	key := strOr(c.Str("key"), "remote_addr")
	var part string
	switch {
	case typ != "var":
		rep("key_type", migrate.NotMapped, "key_type %s: only var is imported", typ)
		c.Use(c.Keys()...)
		return
	case key == "remote_addr" || key == "realip_remote_addr":
		part = "client_ip"
	case key == "consumer_name":
		part = "consumer"
	case key == "route_id":
		part = "route"
	case strings.HasPrefix(key, "http_"):
		part = "header:" + textproto.CanonicalMIMEHeaderKey(strings.ReplaceAll(strings.TrimPrefix(key, "http_"), "_", "-"))
	default:
		rep("key", migrate.NotMapped, "key %q has no Portcullis key part", key)
		c.Use(c.Keys()...)
		return
	}
	rt.RateLimits = append(rt.RateLimits, migrate.RateLimit{Name: "limit-count", Key: []string{part}, Rate: count, Per: time.Duration(window) * time.Second})
	rep("", migrate.Partial, "routes[].rate_limits keyed by %s: APISIX counted fixed windows, Portcullis refills a token bucket (burst = rate)", part)
	if code, ok := c.Int("rejected_code"); !ok || code != 429 {
		rep("rejected_code", migrate.Partial, "Portcullis answers 429 (APISIX's rejected_code defaults to 503)")
	}
	if p := c.Str("policy"); p == "redis" || p == "redis-cluster" {
		rep("policy", migrate.Partial, "APISIX shared the counters (policy %s); configure rate_limit.redis (the Redis password is not imported)", p)
	}
	c.Use("rejected_code", "rejected_msg", "policy", "allow_degradation", "show_limit_quota_header", "group", "redis_host", "redis_port",
		"redis_password", "redis_username", "redis_database", "redis_timeout", "redis_ssl", "redis_ssl_verify", "redis_cluster_nodes", "redis_cluster_name", "redis_cluster_ssl", "redis_cluster_ssl_verify")
}

// list splits APISIX's comma-separated string fields; def when empty.
func list(s, def string) []string {
	if s == "" {
		s = def
	}
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func strOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
