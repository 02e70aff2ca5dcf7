package migrate

import (
	"fmt"
	"strings"
	"time"
)

// The shapes of portcullis.yaml that the writer emits. They mirror
// gateway/config field for field (tests decode the output strictly with
// it) but leave out what the import does not set, so the file shows only
// what came from the input and Portcullis defaults stay visible as defaults.
// rate_limits, cors, ip_allow and ip_deny included.

type outConfig struct {
	Authn  *outAuthn  `yaml:"authn,omitempty"`
	Policy outPolicy  `yaml:"policy"`
	Routes []outRoute `yaml:"routes"`
}

type outAuthn struct {
	JWT           *outJWT           `yaml:"jwt,omitempty"`
	Introspection *outIntrospection `yaml:"introspection,omitempty"`
	APIKeys       *outAPIKeys       `yaml:"api_keys,omitempty"`
}

type outJWT struct {
	Issuers []outIssuer `yaml:"issuers"`
}

type outIssuer struct {
	Issuer          string            `yaml:"issuer"`
	JWKSURI         string            `yaml:"jwks_uri,omitempty"`
	Keys            []string          `yaml:"keys,omitempty"`
	Secret          string            `yaml:"secret,omitempty"`
	Algorithms      []string          `yaml:"algorithms"`
	Audiences       []string          `yaml:"audiences,omitempty"`
	ClockSkew       string            `yaml:"clock_skew,omitempty"`
	RequiredClaims  []string          `yaml:"required_claims,omitempty"`
	RefreshInterval string            `yaml:"refresh_interval,omitempty"`
	ClaimsToHeaders map[string]string `yaml:"claims_to_headers,omitempty"`
}

type outIntrospection struct {
	Endpoint     string `yaml:"endpoint"`
	ClientID     string `yaml:"client_id,omitempty"`
	ClientSecret string `yaml:"client_secret,omitempty"`
	AuthMethod   string `yaml:"auth_method,omitempty"`
	CacheTTL     string `yaml:"cache_ttl,omitempty"`
}

type outAPIKeys struct {
	Header   string `yaml:"header,omitempty"`
	Query    string `yaml:"query,omitempty"`
	DataPath string `yaml:"data_path"`
}

type outPolicy struct {
	Bundles  []outBundle `yaml:"bundles"`
	Decision string      `yaml:"decision"`
}

type outBundle struct {
	Name string `yaml:"name"`
	Path string `yaml:"path"`
}

type outRoute struct {
	Name        string        `yaml:"name"`
	Match       outMatch      `yaml:"match"`
	Upstream    string        `yaml:"upstream,omitempty"`
	Upstreams   []string      `yaml:"upstreams,omitempty"`
	StripPrefix string        `yaml:"strip_prefix,omitempty"`
	Authn       outRouteAuthn `yaml:"authn"`
	OpenAPI     *outOpenAPI   `yaml:"openapi,omitempty"`
	Limits      *outLimits    `yaml:"limits,omitempty"`
	RateLimits  []outRate     `yaml:"rate_limits,omitempty"`
	CORS        *outCORS      `yaml:"cors,omitempty"`
	IPAllow     []string      `yaml:"ip_allow,omitempty"`
	IPDeny      []string      `yaml:"ip_deny,omitempty"`
}

type outMatch struct {
	PathPrefix string   `yaml:"path_prefix,omitempty"`
	Path       string   `yaml:"path,omitempty"`
	Methods    []string `yaml:"methods,omitempty"`
	Host       string   `yaml:"host,omitempty"`
}

type outRouteAuthn struct {
	Methods         []string `yaml:"methods,omitempty"`
	Anonymous       bool     `yaml:"anonymous,omitempty"`
	BearerQuery     string   `yaml:"bearer_query,omitempty"`
	BearerCookie    string   `yaml:"bearer_cookie,omitempty"`
	HideCredentials *bool    `yaml:"hide_credentials,omitempty"`
}

type outOpenAPI struct {
	Spec             string   `yaml:"spec"`
	Mode             string   `yaml:"mode"`
	UnknownOperation string   `yaml:"unknown_operation"`
	ContentTypes     []string `yaml:"content_types,omitempty"`
}

type outLimits struct {
	MaxBodyBytes         int64 `yaml:"max_body_bytes,omitempty"`
	RequireContentLength bool  `yaml:"require_content_length,omitempty"`
}

type outRate struct {
	Name  string   `yaml:"name"`
	Key   []string `yaml:"key"`
	Rate  int64    `yaml:"rate"`
	Per   string   `yaml:"per"`
	Burst int64    `yaml:"burst,omitempty"`
}

type outCORS struct {
	AllowOrigins     []string `yaml:"allow_origins"`
	AllowMethods     []string `yaml:"allow_methods,omitempty"`
	AllowHeaders     []string `yaml:"allow_headers,omitempty"`
	ExposeHeaders    []string `yaml:"expose_headers,omitempty"`
	AllowCredentials bool     `yaml:"allow_credentials,omitempty"`
	MaxAge           string   `yaml:"max_age,omitempty"`
}

// dur writes d the way a person would: 300s as 5m, 90s as 1m30s.
func dur(d time.Duration) string {
	if d == 0 {
		return ""
	}
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// routeConfig is the portcullis.yaml form of one expanded route.
func routeConfig(r *Route, name, host, spec string) outRoute {
	out := outRoute{
		Name:        name,
		Match:       outMatch{PathPrefix: r.PathPrefix, Path: r.Path, Methods: r.Methods, Host: host},
		StripPrefix: r.StripPrefix,
		Authn: outRouteAuthn{
			Methods:         r.Authn,
			Anonymous:       len(r.Authn) == 0,
			BearerQuery:     r.BearerQuery,
			BearerCookie:    r.BearerCookie,
			HideCredentials: r.HideCredentials,
		},
		IPAllow: r.IPAllow,
		IPDeny:  r.IPDeny,
	}
	if len(r.Upstreams) == 1 {
		out.Upstream = r.Upstreams[0]
	} else {
		out.Upstreams = r.Upstreams
	}
	if spec != "" {
		out.OpenAPI = &outOpenAPI{Spec: spec, Mode: "enforce", UnknownOperation: "pass", ContentTypes: r.ContentTypes}
	}
	if r.MaxBodyBytes > 0 || r.RequireContentLength {
		out.Limits = &outLimits{MaxBodyBytes: r.MaxBodyBytes, RequireContentLength: r.RequireContentLength}
	}
	for _, rl := range r.RateLimits {
		out.RateLimits = append(out.RateLimits, outRate{Name: rl.Name, Key: rl.Key, Rate: rl.Rate, Per: dur(rl.Per), Burst: rl.Burst})
	}
	if c := r.CORS; c != nil {
		out.CORS = &outCORS{AllowOrigins: c.AllowOrigins, AllowMethods: c.AllowMethods, AllowHeaders: c.AllowHeaders,
			ExposeHeaders: c.ExposeHeaders, AllowCredentials: c.AllowCredentials, MaxAge: dur(c.MaxAge)}
	}
	return out
}

// fileName makes s safe as one path element.
func fileName(s string) string {
	var b strings.Builder
	for _, c := range strings.ToLower(s) {
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '_', c == '.':
			b.WriteRune(c)
		default:
			b.WriteByte('-')
		}
	}
	out := strings.Trim(b.String(), "-.")
	if out == "" {
		return "x"
	}
	return out
}

// issuerConfig is the portcullis.yaml form of an issuer whose key files are keyFiles.
func issuerConfig(is *Issuer, keyFiles []string) outIssuer {
	out := outIssuer{
		Issuer:          is.Issuer,
		JWKSURI:         is.JWKSURI,
		Keys:            keyFiles,
		Algorithms:      is.Algorithms,
		Audiences:       is.Audiences,
		RequiredClaims:  is.Required,
		RefreshInterval: dur(is.Refresh),
		ClaimsToHeaders: is.ClaimsToHdr,
	}
	if is.SecretName != "" {
		out.Secret = fmt.Sprintf("file:secrets/%s", fileName(is.SecretName))
	}
	if is.ClockSkew != nil {
		out.ClockSkew = dur(*is.ClockSkew)
		if out.ClockSkew == "" {
			out.ClockSkew = "0s"
		}
	}
	return out
}
