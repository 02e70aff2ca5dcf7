// Package config loads, defaults and validates the gateway configuration.
package config

import (
	"time"
)

// Config is the whole configuration file.
type Config struct {
	Listen      Listen      `yaml:"listen"`
	Log         Log         `yaml:"log"`
	Paths       Paths       `yaml:"paths"`
	Request     Request     `yaml:"request"`
	Limits      Limits      `yaml:"limits"`
	Authn       Authn       `yaml:"authn"`
	Policy      Policy      `yaml:"policy"`
	DecisionLog DecisionLog `yaml:"decision_log"`
	Tracing     Tracing     `yaml:"tracing"`
	// IdentityAssertion signs the assertions of routes that add one; nil: none.
	IdentityAssertion *IdentityAssertion `yaml:"identity_assertion"`
	RateLimit         RateLimit          `yaml:"rate_limit"`
	Routes            []Route            `yaml:"routes"`

	// File is the path the config was loaded from; Dir its directory, against
	// which relative paths in the file are resolved.
	File string `yaml:"-"`
	Dir  string `yaml:"-"`
}

// Listen configures the two listeners and the HTTP server limits.
type Listen struct {
	// Proxy is the address client traffic is served on. Default ":8080".
	Proxy string `yaml:"proxy"`
	// Admin is the address of /healthz, /readyz, /metrics and /v1/status.
	// Default "127.0.0.1:8081".
	Admin             string        `yaml:"admin"`
	ReadHeaderTimeout time.Duration `yaml:"read_header_timeout"`
	ReadTimeout       time.Duration `yaml:"read_timeout"`
	WriteTimeout      time.Duration `yaml:"write_timeout"`
	IdleTimeout       time.Duration `yaml:"idle_timeout"`
	MaxHeaderBytes    ByteSize      `yaml:"max_header_bytes"`
	// ShutdownGrace is how long in-flight requests get to finish once the
	// proxy listener stopped accepting. Default 15s.
	ShutdownGrace time.Duration `yaml:"shutdown_grace"`
	// DrainDelay is how long after SIGTERM the proxy listener keeps
	// accepting while /readyz answers 503, so that load balancers (a
	// Kubernetes Service's endpoints) stop sending traffic first. Default 5s.
	DrainDelay time.Duration `yaml:"drain_delay"`
	// MaxConnections bounds the open client connections of the proxy
	// listener; a connection accepted beyond it is closed at once (and
	// counted). Default 10000.
	MaxConnections int `yaml:"max_connections"`
	// TrustedProxies are CIDRs whose X-Forwarded-* headers are kept and
	// appended to; from any other peer they are replaced.
	TrustedProxies []string `yaml:"trusted_proxies"`
	// TLSCertFile and TLSKeyFile (PEM, both or neither) make the proxy
	// listener terminate TLS 1.2+ (HTTP/2 is negotiated by ALPN).
	TLSCertFile string `yaml:"tls_cert_file"`
	TLSKeyFile  string `yaml:"tls_key_file"`
	// TLSClientCAFile (PEM, one or more CA certificates; needs
	// TLSCertFile) makes the proxy listener ask TLS clients for a
	// certificate and verify it against those CAs. ClientAuth is "request"
	// (default: verified if sent) or "require" (the handshake fails
	// without one); it is ignored without the CA file. Both reload live:
	// each handshake uses the running generation.
	TLSClientCAFile string `yaml:"tls_client_ca_file"`
	ClientAuth      string `yaml:"client_auth"`
	// Pprof serves Go's profiles under /debug/pprof/ on the admin
	// listener, never on the proxy listener. Default false; it reloads
	// live, so a heap profile of a running gateway needs no restart.
	Pprof bool `yaml:"pprof"`
	// HeadersWithUnderscores is what happens to a request header whose name
	// contains "_", which CGI-style backends fold into the "-" spelling:
	// "drop" (default) removes it, "reject" answers 400, "allow" keeps it.
	HeadersWithUnderscores string `yaml:"headers_with_underscores"`
}

// Log configures the gateway's own log (not the decision log).
type Log struct {
	// Level is debug, info, warn or error. Default info.
	Level string `yaml:"level"`
	// Format is json or console. Default json.
	Format string `yaml:"format"`
}

// Paths makes path normalization stricter than the default, or lower-cases
// it. The default already resolves dot-segments, merges repeated slashes and
// rejects encoded slashes, encoded dots, backslashes, semicolons, NUL and
// control characters, invalid UTF-8, whitespace and format characters, and
// look-alikes of the delimiters (gateway/route).
type Paths struct {
	// RejectDotSegments rejects "." and ".." segments with 400 instead of resolving them.
	RejectDotSegments bool `yaml:"reject_dot_segments"`
	// RejectDoubleSlash rejects "//" with 400 instead of merging it.
	RejectDoubleSlash bool `yaml:"reject_double_slash"`
	// Lowercase routes, judges and forwards the path in lower case, for
	// case-insensitive backends (Express, ASP.NET, IIS). Default false.
	Lowercase bool `yaml:"lowercase"`
}

// Limits bounds what a request may carry. The top-level section holds the
// defaults; a route's section overrides any field it sets.
type Limits struct {
	// MaxBodyBytes is the largest request body, after decompression. Default 1MiB.
	MaxBodyBytes ByteSize `yaml:"max_body_bytes"`
	// RequireContentLength answers 411 to a body without Content-Length. Default false.
	RequireContentLength *bool `yaml:"require_content_length"`
	// AllowEncodedBody lets gzip-encoded bodies through (decompressed, within
	// MaxBodyBytes, when a stage must read them). Default false: 415.
	AllowEncodedBody *bool `yaml:"allow_encoded_body"`
	// MaxHeaders is the largest number of header fields. Default 100.
	MaxHeaders int `yaml:"max_headers"`
	// MaxURLBytes is the longest request target. Default 8KiB.
	MaxURLBytes ByteSize `yaml:"max_url_bytes"`
	// MaxQueryBytes is the longest raw query string. Default 4KiB.
	MaxQueryBytes ByteSize `yaml:"max_query_bytes"`
	// MaxJSONDepth is the deepest nesting of a JSON body. Default 32.
	MaxJSONDepth int `yaml:"max_json_depth"`
	// MaxJSONKeys is the largest number of object keys and array items in a JSON body. Default 10000.
	MaxJSONKeys int `yaml:"max_json_keys"`
	// MaxBufferedBytes bounds the memory of all request bodies the gateway
	// holds at once (buffered for validation, the policy or the size limit
	// of a chunked body); beyond it a request gets 503 with Retry-After.
	// Global only: a route may not set it. Default 64MiB.
	MaxBufferedBytes ByteSize `yaml:"max_buffered_bytes"`
	// MaxAnonymousBufferedBytes is the part of MaxBufferedBytes that
	// anonymous requests may use together. Global only. Default 8MiB.
	MaxAnonymousBufferedBytes ByteSize `yaml:"max_anonymous_buffered_bytes"`
}

// Route maps matching requests to an upstream, with its own pipeline settings.
type Route struct {
	Name  string     `yaml:"name"`
	Match RouteMatch `yaml:"match"`
	// Upstream is one base URL; Upstreams several, used round robin with
	// passive health checks. Exactly one of them is set.
	Upstream  string   `yaml:"upstream"`
	Upstreams []string `yaml:"upstreams"`
	// StripPrefix is removed from the path before forwarding.
	StripPrefix string `yaml:"strip_prefix"`
	// Timeout bounds the whole upstream exchange. Default 30s.
	Timeout time.Duration `yaml:"timeout"`
	// ConnectTimeout bounds dialing the upstream. Default 5s.
	ConnectTimeout time.Duration `yaml:"connect_timeout"`
	// EjectFor is how long an upstream that refused a connection is skipped. Default 10s.
	EjectFor time.Duration `yaml:"eject_for"`
	Tags     []string      `yaml:"tags"`
	// Upgrade lists the connection upgrades the route accepts; only
	// "websocket" exists. Default none: an Upgrade request is refused.
	Upgrade []string `yaml:"upgrade"`
	// TLS configures the connections to https upstreams; nil: the system
	// roots, no client certificate.
	TLS *UpstreamTLS `yaml:"tls"`

	Authn   RouteAuthn   `yaml:"authn"`
	OpenAPI RouteOpenAPI `yaml:"openapi"`
	Limits  Limits       `yaml:"limits"`
	Policy  RoutePolicy  `yaml:"policy"`
	// IdentityAssertion adds a signed identity assertion to the requests
	// the route forwards; nil: none.
	IdentityAssertion *RouteAssertion `yaml:"identity_assertion"`
	// CORS makes the gateway the route's CORS server; nil: none (the
	// upstream's own CORS headers pass, and preflights take the normal path).
	CORS *RouteCORS `yaml:"cors"`
	// IPAllow, when set, admits only clients whose address is in one of
	// its CIDRs or addresses; IPDeny refuses those in its own, checked first.
	IPAllow []string `yaml:"ip_allow"`
	IPDeny  []string `yaml:"ip_deny"`
	// RateLimits are the route's rate limits; a decision's class replaces them.
	RateLimits []Limit `yaml:"rate_limits"`
}

// RouteMatch selects requests for a route. Exactly one of PathPrefix and
// Path is set. Path is a template such as /api/v1/users/{id} matching whole
// segments.
type RouteMatch struct {
	PathPrefix string   `yaml:"path_prefix"`
	Path       string   `yaml:"path"`
	Methods    []string `yaml:"methods"`
	Host       string   `yaml:"host"`
}

// RoutePolicy configures authorization for a route.
type RoutePolicy struct {
	// InputBody gives the parsed JSON body to the policy as input.request.body.
	InputBody bool `yaml:"input_body"`
	// InputCompat "opa-envoy" adds the OPA-Envoy input shape. Default: the
	// policy section's input_compat.
	InputCompat string `yaml:"input_compat"`
}
