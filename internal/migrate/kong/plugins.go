package kong

import (
	"encoding/base64"
	"encoding/json"
	"net/textproto"
	"slices"
	"strings"
	"time"

	"github.com/portcullis/portcullis/internal/migrate"
)

// sizeUnits are request-size-limiting's size_unit values (Kong's handler).
var sizeUnits = map[string]int64{"bytes": 1, "kilobytes": 1 << 10, "megabytes": 1 << 20}

// windows are rate-limiting's limit fields and their lengths.
var windows = []struct {
	field string
	per   time.Duration
}{
	{"second", time.Second}, {"minute", time.Minute}, {"hour", time.Hour},
	{"day", 24 * time.Hour}, {"month", 30 * 24 * time.Hour}, {"year", 365 * 24 * time.Hour},
}

func ptr[T any](v T) *T { return &v }

// compile reads one plugin's config once, reports it, and sets what it does to each route.
func (im *importer) compile(pl *plugin) {
	c := pl.cfg
	what := "plugins." + pl.name
	rep := func(key string, out migrate.Outcome, format string, a ...any) {
		im.plan.Report.Add(c.File, c.LineOf(key), what+dot(key), out, format, a...)
	}
	switch pl.name {
	case "jwt":
		im.jwtPlugin(pl, c, rep)
	case "key-auth":
		im.keyAuth(pl, c, rep)
	case "acl":
		allow := append(c.Strs("allow"), c.Strs("whitelist")...)
		deny := append(c.Strs("deny"), c.Strs("blacklist")...)
		pl.apply = func(r *migrate.Route) { r.AllowGroups, r.DenyGroups = allow, deny }
		rep("", migrate.Mapped, "allow %v, deny %v: enforced per route by bundles/imported (groups from data.json)", allow, deny)
		if !c.Bool("hide_groups_header", false) {
			rep("hide_groups_header", migrate.Partial, "Kong sent X-Consumer-Groups upstream; Portcullis does not (it sends %s)", "X-Consumer-Username")
		}
		if c.Bool("include_consumer_groups", false) {
			rep("include_consumer_groups", migrate.Mapped, "consumer groups are ACL groups in the import")
		}
		c.Use("always_use_authenticated_groups")
	case "request-size-limiting":
		size, ok := c.Int("allowed_payload_size")
		if !ok {
			size = 128
		}
		unit := c.Str("size_unit")
		if unit == "" {
			unit = "megabytes"
		}
		mult, known := sizeUnits[unit]
		if !known {
			rep("size_unit", migrate.NotMapped, "unknown size_unit %q", unit)
			return
		}
		n, rcl := size*mult, c.Bool("require_content_length", false)
		pl.apply = func(r *migrate.Route) { r.MaxBodyBytes, r.RequireContentLength = n, rcl }
		rep("", migrate.Mapped, "limits.max_body_bytes %d, require_content_length %v (413 as in Kong)", n, rcl)
	case "request-validator":
		im.requestValidator(pl, c, rep)
	case "rate-limiting":
		im.rateLimiting(pl, c, rep)
	case "cors":
		cors := &migrate.CORS{
			AllowOrigins: c.Strs("origins"), AllowMethods: c.Strs("methods"), AllowHeaders: c.Strs("headers"),
			ExposeHeaders: c.Strs("exposed_headers"), AllowCredentials: c.Bool("credentials", false),
		}
		if len(cors.AllowOrigins) == 0 {
			cors.AllowOrigins = []string{"*"}
		}
		if s, ok := c.Int("max_age"); ok {
			cors.MaxAge = time.Duration(s) * time.Second
		}
		pl.apply = func(r *migrate.Route) { r.CORS = cors }
		rep("", migrate.Mapped, "routes[].cors")
		if c.Bool("preflight_continue", false) {
			rep("preflight_continue", migrate.NotMapped, "Portcullis answers preflight requests itself")
		}
		c.Use("private_network")
	case "ip-restriction":
		allow := append(c.Strs("allow"), c.Strs("whitelist")...)
		deny := append(c.Strs("deny"), c.Strs("blacklist")...)
		pl.apply = func(r *migrate.Route) { r.IPAllow, r.IPDeny = allow, deny }
		rep("", migrate.Mapped, "routes[].ip_allow %v, ip_deny %v (client IP from listen.trusted_proxies)", allow, deny)
		if c.Has("status") || c.Has("message") {
			rep("status", migrate.Partial, "Portcullis answers 403 with its own problem body")
		}
		c.Use("status", "message")
	case "oauth2-introspection":
		im.introspection(pl, c, rep)
	case "correlation-id":
		h := c.Str("header_name")
		if h == "" {
			h = "Kong-Request-ID"
		}
		if textproto.CanonicalMIMEHeaderKey(h) == "X-Request-Id" {
			rep("", migrate.Mapped, "Portcullis sets X-Request-Id upstream on every request")
		} else {
			rep("header_name", migrate.Partial, "Portcullis's request id header is X-Request-Id, not %s: change what your upstreams and logs read", h)
		}
		rep("generator", migrate.Partial, "Portcullis generates UUIDs (Kong's generator %q) and keeps a trusted client's X-Request-Id", c.Str("generator"))
		if c.Bool("echo_downstream", false) {
			rep("echo_downstream", migrate.Partial, "Portcullis puts the request id into problem responses (instance), not into every response")
		}
	default:
		im.plan.Report.Add(pl.obj.File, pl.obj.LineOf("name"), what, migrate.NotMapped, "plugin %q has no Portcullis equivalent in the importer (%s)", pl.name, scopeName(pl.scope, pl.target))
		c.Use(c.Keys()...)
		return
	}
	c.Rest(&im.plan.Report, what+".config")
}

func dot(key string) string {
	if key == "" {
		return ""
	}
	return "." + key
}

type reporter func(key string, out migrate.Outcome, format string, a ...any)

func (im *importer) jwtPlugin(pl *plugin, c *migrate.Obj, rep reporter) {
	var query, cookie string
	if c.Has("uri_param_names") {
		if q := c.Strs("uri_param_names"); len(q) > 0 {
			query = q[0]
			if len(q) > 1 {
				rep("uri_param_names", migrate.NotMapped, "only %q is read: Portcullis takes the token from one query parameter", q[0])
			}
		}
	} else {
		rep("uri_param_names", migrate.Partial, "Kong also read the token from ?jwt= by default; Portcullis does not (set routes[].authn.bearer_query: jwt to keep it)")
	}
	if ck := c.Strs("cookie_names"); len(ck) > 0 {
		cookie = ck[0]
		if len(ck) > 1 {
			rep("cookie_names", migrate.NotMapped, "only cookie %q is read", ck[0])
		}
	}
	if h := c.Strs("header_names"); len(h) > 0 && !slices.EqualFunc(h, []string{"authorization"}, strings.EqualFold) {
		rep("header_names", migrate.NotMapped, "Portcullis reads tokens from Authorization only, not %v", h)
	}
	claims := c.Strs("claims_to_verify")
	if slices.Contains(claims, "exp") {
		rep("claims_to_verify", migrate.Mapped, "exp is required (issuer required_claims [exp]); nbf is verified when present")
	} else {
		rep("claims_to_verify", migrate.Partial, "Kong did not verify exp (claims_to_verify %v); Portcullis requires exp: tokens without it are refused with 401", claims)
	}
	switch k := c.Str("key_claim_name"); k {
	case "", "iss":
		rep("key_claim_name", migrate.Mapped, "the credential key is the token's iss, as Portcullis selects its issuer")
	default:
		rep("key_claim_name", migrate.Partial, "Kong found the credential by the %q claim; Portcullis selects the issuer by iss: tokens must carry iss equal to the credential key", k)
	}
	im.secretBase64 = c.Bool("secret_is_base64", false)
	if c.Has("anonymous") {
		rep("anonymous", migrate.NotMapped, "an anonymous consumer: set routes[].authn.anonymous and decide in the policy")
	}
	if s, ok := c.Int("maximum_expiration"); ok && s > 0 {
		rep("maximum_expiration", migrate.NotMapped, "Portcullis bounds token age by iat (issuer max_token_age), not the exp horizon")
	}
	if c.Bool("run_on_preflight", true) {
		rep("run_on_preflight", migrate.Mapped, "Portcullis authenticates OPTIONS requests too, unless a route's cors answers the preflight")
	}
	c.Use("realm")
	pl.apply = func(r *migrate.Route) {
		r.AddAuthn("jwt")
		r.BearerQuery, r.BearerCookie = query, cookie
	}
}

func (im *importer) keyAuth(pl *plugin, c *migrate.Obj, rep reporter) {
	names := c.Strs("key_names")
	if len(names) == 0 {
		names = []string{"apikey"}
	}
	switch {
	case im.plan.APIKeyHeader == "":
		im.plan.APIKeyHeader = names[0]
		rep("key_names", migrate.Mapped, "authn.api_keys.header %s", names[0])
	case !strings.EqualFold(im.plan.APIKeyHeader, names[0]):
		rep("key_names", migrate.Partial, "Portcullis reads API keys from one header for all routes: %s, not %s", im.plan.APIKeyHeader, names[0])
	}
	if len(names) > 1 {
		rep("key_names", migrate.Partial, "Portcullis reads one API-key header: keys sent as %v are not accepted", names[1:])
	}
	if c.Bool("key_in_query", true) {
		rep("key_in_query", migrate.Partial, "Kong also accepted the key in the query string; Portcullis does so only on routes with authn.api_key_query, which the import does not set (keys in URLs end up in logs)")
	}
	if c.Bool("key_in_body", false) {
		rep("key_in_body", migrate.NotMapped, "Portcullis does not read API keys from the body")
	}
	c.Use("key_in_header", "realm", "run_on_preflight")
	var hide *bool
	if c.Bool("hide_credentials", false) {
		hide = ptr(true)
		rep("hide_credentials", migrate.Mapped, "routes[].authn.hide_credentials true")
	} else {
		rep("hide_credentials", migrate.Partial, "Kong forwarded the key upstream (hide_credentials defaults to false); Portcullis removes it by default (set routes[].authn.hide_credentials: false to forward it)")
	}
	if c.Has("anonymous") {
		rep("anonymous", migrate.NotMapped, "an anonymous consumer: set routes[].authn.anonymous and decide in the policy")
	}
	pl.apply = func(r *migrate.Route) {
		r.AddAuthn("api_key")
		if hide != nil {
			r.HideCredentials = hide
		}
	}
}

func (im *importer) requestValidator(pl *plugin, c *migrate.Obj, rep reporter) {
	raw := c.Str("body_schema")
	if raw == "" {
		rep("body_schema", migrate.NotMapped, "no body_schema")
		c.Use("parameter_schema", "allowed_content_types", "verbose_response", "version", "content_type_parameter_validation")
		return
	}
	var schema any
	if err := json.Unmarshal([]byte(raw), &schema); err != nil {
		rep("body_schema", migrate.NotMapped, "body_schema is not JSON: %v", err)
		return
	}
	switch v := c.Str("version"); v {
	case "draft4":
		rep("version", migrate.Mapped, "JSON Schema draft 4 becomes an OpenAPI 3.0 schema")
	default:
		rep("version", migrate.Partial, "version %q (Kong's default reads body_schema in Kong's own schema format): imported as JSON Schema, which this body_schema is", v)
	}
	types := c.Strs("allowed_content_types")
	if len(types) == 0 {
		types = []string{"application/json"}
	}
	if c.Has("parameter_schema") {
		rep("parameter_schema", migrate.NotMapped, "parameter schemas are not imported: declare the parameters in the route's OpenAPI document")
	}
	c.Use("verbose_response", "content_type_parameter_validation")
	rep("body_schema", migrate.Partial, "schemas/<route>.yaml (openapi.mode enforce, 400 with invalid_params); bodies of POST, PUT and PATCH are validated on paths up to %d segments below the route prefix, deeper paths pass", 4)
	pl.apply = func(r *migrate.Route) { r.BodySchema, r.ContentTypes = schema, types }
}

func (im *importer) rateLimiting(pl *plugin, c *migrate.Obj, rep reporter) {
	var key []string
	switch by := c.Str("limit_by"); by {
	case "", "consumer":
		key = []string{"consumer"}
	case "credential":
		key = []string{"credential"}
	case "ip":
		key = []string{"client_ip"}
	case "service":
		key = []string{"route"}
		rep("limit_by", migrate.Partial, "limit_by service counts per Portcullis route")
	case "header":
		key = []string{"header:" + c.Str("header_name")}
	default:
		rep("limit_by", migrate.NotMapped, "limit_by %q has no Portcullis key part", by)
		return
	}
	c.Use("header_name", "path")
	var limits []migrate.RateLimit
	for _, w := range windows {
		if n, ok := c.Int(w.field); ok && n > 0 {
			limits = append(limits, migrate.RateLimit{Name: "per-" + w.field, Key: key, Rate: n, Per: w.per})
		}
	}
	if len(limits) == 0 {
		rep("", migrate.NotMapped, "no limit set")
		return
	}
	rep("", migrate.Partial, "routes[].rate_limits keyed by %v: Kong counted fixed windows, Portcullis refills token buckets (burst = rate)", key)
	if p := c.Str("policy"); p == "redis" || p == "cluster" {
		rep("policy", migrate.Partial, "Kong shared the counters (policy %s); configure rate_limit.redis (the Redis password is not imported)", p)
	}
	c.Use("policy", "fault_tolerant", "hide_client_headers", "error_code", "error_message", "sync_rate", "redis", "redis_host", "redis_port",
		"redis_password", "redis_username", "redis_database", "redis_timeout", "redis_ssl", "redis_ssl_verify", "redis_server_name")
	pl.apply = func(r *migrate.Route) { r.RateLimits = limits }
}

func (im *importer) introspection(pl *plugin, c *migrate.Obj, rep reporter) {
	in := &migrate.Introspection{Endpoint: c.Str("introspection_url")}
	if id, secret, ok := migrate.BasicCredentials(c.Str("authorization_value")); ok {
		in.ClientID, in.ClientSecret, in.AuthMethod = id, secret, "client_secret_basic"
		rep("authorization_value", migrate.Mapped, "client_id %s, client_secret in secrets/introspection-client-secret", id)
	} else {
		rep("authorization_value", migrate.NotMapped, "not an HTTP Basic credential: set authn.introspection.client_id and client_secret")
	}
	if s, ok := c.Int("ttl"); ok && s > 0 {
		in.CacheTTL = min(time.Duration(s)*time.Second, 5*time.Minute)
	}
	if im.plan.Introspection != nil && im.plan.Introspection.Endpoint != in.Endpoint {
		rep("introspection_url", migrate.NotMapped, "Portcullis has one introspection endpoint; %s is kept", im.plan.Introspection.Endpoint)
	} else {
		im.plan.Introspection = in
		rep("introspection_url", migrate.Mapped, "authn.introspection.endpoint %s", in.Endpoint)
	}
	c.Use("token_type_hint", "ttl", "hide_credentials", "timeout", "keepalive", "run_on_preflight")
	for _, k := range []string{"consumer_by", "anonymous", "introspect_request", "custom_claims_forward", "custom_introspection_headers"} {
		if c.Has(k) {
			rep(k, migrate.NotMapped, "no Portcullis equivalent")
		}
		c.Use(k)
	}
	pl.apply = func(r *migrate.Route) { r.AddAuthn("introspection") }
}

func (im *importer) jwtSecret(j *migrate.Obj, consumer string) {
	what := "consumers." + consumer + ".jwt_secrets"
	key, alg := j.Str("key"), j.Str("algorithm")
	if alg == "" {
		alg = "HS256"
	}
	j.Use("consumer", "tags", "id", "secret", "rsa_public_key")
	defer j.Rest(&im.plan.Report, what)
	if key == "" {
		im.plan.Report.Add(j.File, j.Line(), what, migrate.NotMapped, "no key: Kong generated one, so the tokens' iss is unknown")
		return
	}
	secret := j.Str("secret")
	if im.secretBase64 && strings.HasPrefix(alg, "HS") {
		b, err := base64.StdEncoding.DecodeString(secret)
		if err != nil {
			im.plan.Report.Add(j.File, j.LineOf("secret"), what, migrate.NotMapped, "secret is not base64 (secret_is_base64)")
			return
		}
		secret = string(b)
	}
	im.plan.AddCredential(j, what, migrate.Credential{Gateway: "Kong", Consumer: consumer, Key: key, Alg: alg,
		Secret: secret, SecretField: "secret", PEM: j.Str("rsa_public_key"), PEMField: "rsa_public_key"})
}
