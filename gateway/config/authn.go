package config

import "time"

// Authn configures the credential verifiers shared by all routes.
type Authn struct {
	JWT           JWT            `yaml:"jwt"`
	Introspection *Introspection `yaml:"introspection"`
	APIKeys       APIKeys        `yaml:"api_keys"`
	ClientCerts   ClientCerts    `yaml:"client_certs"`
}

// JWT configures JWT verification.
type JWT struct {
	// MaxTokenBytes rejects longer tokens before parsing. Default 8KiB.
	MaxTokenBytes ByteSize `yaml:"max_token_bytes"`
	// CacheSize bounds the cache of verified tokens (keyed by SHA-256; exp is
	// re-checked on every hit). 0 takes the default 10000; -1 disables it.
	CacheSize int      `yaml:"cache_size"`
	Issuers   []Issuer `yaml:"issuers"`
}

// Issuer is one trusted token issuer, selected by the token's iss claim.
type Issuer struct {
	Issuer string `yaml:"issuer"`
	// JWKSURI is fetched for keys. It must be https unless the host is
	// loopback or AllowInsecureHTTP is set.
	JWKSURI           string `yaml:"jwks_uri"`
	AllowInsecureHTTP bool   `yaml:"allow_insecure_http"`
	// Keys are PEM or JWK/JWKS files: the keys when there is no JWKSURI, the
	// fallback keys when there is one.
	Keys []string `yaml:"keys"`
	// Secret is the HMAC key, required for and only usable with HS* algorithms.
	Secret Secret `yaml:"secret"`
	// Algorithms is the allow-list. Required; "none" is never allowed.
	Algorithms []string `yaml:"algorithms"`
	// Audiences: the token's aud must contain one of them, when set.
	Audiences []string `yaml:"audiences"`
	// ClockSkew tolerated on exp, nbf and iat. Default 30s, at most 5m.
	ClockSkew *time.Duration `yaml:"clock_skew"`
	// RequiredClaims must be present. Default [exp].
	RequiredClaims []string `yaml:"required_claims"`
	// MaxTokenAge rejects tokens whose iat is older, when set.
	MaxTokenAge time.Duration `yaml:"max_token_age"`
	// RefreshInterval of the JWKS. Default 5m; Cache-Control max-age is
	// honoured between MinRefreshInterval and 24h.
	RefreshInterval time.Duration `yaml:"refresh_interval"`
	// MinRefreshInterval is the least time between two fetches, including
	// those forced by an unknown kid. Default 30s.
	MinRefreshInterval time.Duration `yaml:"min_refresh_interval"`
	// MaxStale is how long the last good key set is used while the key
	// server fails. Default 24h.
	MaxStale time.Duration `yaml:"max_stale"`
	// FetchTimeout bounds one JWKS fetch. Default 5s.
	FetchTimeout time.Duration `yaml:"fetch_timeout"`
	// ClaimsToHeaders copies claims to upstream request headers.
	ClaimsToHeaders map[string]string `yaml:"claims_to_headers"`
	// GroupsClaim names the claim holding the groups. Default "groups".
	GroupsClaim string `yaml:"groups_claim"`
}

// Introspection configures the RFC 7662 client for opaque tokens.
type Introspection struct {
	Endpoint          string `yaml:"endpoint"`
	AllowInsecureHTTP bool   `yaml:"allow_insecure_http"`
	ClientID          string `yaml:"client_id"`
	ClientSecret      Secret `yaml:"client_secret"`
	// AuthMethod is client_secret_basic (default) or client_secret_post.
	AuthMethod string `yaml:"auth_method"`
	// Timeout of one introspection call. Default 2s.
	Timeout time.Duration `yaml:"timeout"`
	// CacheTTL is the longest an active result is cached (never past exp). Default 60s, at most 5m.
	CacheTTL time.Duration `yaml:"cache_ttl"`
	// NegativeTTL is how long an inactive result is cached. Default 5s.
	NegativeTTL time.Duration `yaml:"negative_ttl"`
	// CacheSize bounds the number of cached results. Default 10000.
	CacheSize int `yaml:"cache_size"`
	// Issuer and Audiences, when set, are checked on every use, cached or not.
	Issuer    string   `yaml:"issuer"`
	Audiences []string `yaml:"audiences"`
	// OnError is the answer when the endpoint is down or slow: "unavailable"
	// (503 with Retry-After, default) or "unauthorized" (401).
	OnError         string            `yaml:"on_error"`
	ClaimsToHeaders map[string]string `yaml:"claims_to_headers"`
	// TokenTypes are the token_type values of an active response that are
	// accepted, compared without regard to case; any other is 401
	// token_type_not_allowed. A response without token_type is accepted
	// (RFC 7662 makes it optional). Default: the access-token spellings
	// [access_token, Bearer, urn:ietf:params:oauth:token-type:access_token],
	// so refresh and ID tokens are refused.
	TokenTypes []string `yaml:"token_types"`
}

// APIKeys configures API-key authentication. Keys live in bundle data.
type APIKeys struct {
	// Header carrying the key. Default X-API-Key.
	Header string `yaml:"header"`
	// Query parameter carrying the key, honoured only on routes with
	// authn.api_key_query. Default apikey.
	Query string `yaml:"query"`
	// DataPath is where the consumers are in bundle data. Default portcullis.consumers.
	DataPath string `yaml:"data_path"`
	// RevokedDataPath is where the revocation list is in bundle data: keys
	// refused although DataPath still holds them, so that revoking one is a
	// change to a small file. Default portcullis.revoked_api_keys.
	RevokedDataPath string `yaml:"revoked_data_path"`
	// ConsumerHeader is set upstream to the consumer name. Default X-Consumer-Username.
	ConsumerHeader string `yaml:"consumer_header"`
}

// RouteAuthn configures authentication on a route.
type RouteAuthn struct {
	// Methods accepted: jwt, introspection, api_key, client_cert. Empty: none (anonymous only).
	Methods []string `yaml:"methods"`
	// Anonymous lets requests without a credential reach the policy as an
	// anonymous identity. Default false: they get 401.
	Anonymous bool `yaml:"anonymous"`
	// BearerQuery names a query parameter that may carry the bearer token. Default: off.
	BearerQuery string `yaml:"bearer_query"`
	// BearerCookie names a cookie that may carry the bearer token. Default: off.
	BearerCookie string `yaml:"bearer_cookie"`
	// APIKeyQuery accepts the API key in the query parameter authn.api_keys.query.
	APIKeyQuery bool `yaml:"api_key_query"`
	// HideCredentials removes the credential before forwarding. Default true.
	HideCredentials *bool `yaml:"hide_credentials"`
}
