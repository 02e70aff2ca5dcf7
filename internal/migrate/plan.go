// Package migrate holds the plan that the Kong, APISIX and Envoy Gateway
// importers produce and writes it out as a Portcullis configuration.
package migrate

import (
	"fmt"
	"slices"
	"time"
)

// Plan is what an importer understood of its input, in Portcullis terms.
// The writer turns it into files; the importers never write files.
type Plan struct {
	// Source names the input format: "kong", "apisix" or "envoy-gateway".
	Source string
	Files  []string
	Routes []Route
	// Issuers are the JWT issuers, selected by the token's iss.
	Issuers       []Issuer
	Introspection *Introspection
	// APIKeyHeader and APIKeyQuery are where keys are read (global in Portcullis).
	APIKeyHeader string
	APIKeyQuery  string
	Consumers    []Consumer
	Report       Report
}

// Route is one Portcullis route with the controls of its input route.
type Route struct {
	Name string
	// Line is where the input route starts.
	File string
	Line int
	// PathPrefix or Path (exact) is the match; Hosts, when several, give one
	// Portcullis route each.
	PathPrefix  string
	Path        string
	Methods     []string
	Hosts       []string
	Upstreams   []string
	StripPrefix string

	// Authn are the accepted methods: jwt, introspection, api_key. None: anonymous.
	Authn           []string
	BearerQuery     string
	BearerCookie    string
	HideCredentials *bool

	// ACL semantics, enforced by the generated policy.
	AllowGroups    []string
	DenyGroups     []string
	AllowConsumers []string
	DenyConsumers  []string
	// Issuers, when set, are the only JWT issuers accepted on the route.
	Issuers []string

	MaxBodyBytes         int64
	RequireContentLength bool
	// BodySchema is a JSON Schema for request bodies; ContentTypes the media types allowed.
	BodySchema   any
	ContentTypes []string
	// BodyMethods are the methods whose bodies are validated; empty: POST, PUT, PATCH.
	BodyMethods []string

	RateLimits []RateLimit
	CORS       *CORS
	IPAllow    []string
	IPDeny     []string
}

// Issuer is a JWT issuer.
type Issuer struct {
	Issuer string
	// PublicKeys are PEM blocks written to files next to the config.
	PublicKeys []string
	// SecretName, when set, is the HMAC secret written to secrets/<name>.
	SecretName  string
	Secret      string
	JWKSURI     string
	Algorithms  []string
	Audiences   []string
	Required    []string
	Refresh     time.Duration
	ClockSkew   *time.Duration
	ClaimsToHdr map[string]string
	// Consumer is the input consumer the issuer's credential belongs to.
	Consumer string
}

// Introspection is an RFC 7662 endpoint with its client credentials.
type Introspection struct {
	Endpoint     string
	ClientID     string
	ClientSecret string
	AuthMethod   string
	CacheTTL     time.Duration
}

// Consumer is an input consumer: its ACL groups and credentials.
type Consumer struct {
	Name   string
	Groups []string
	// Keys are API keys as their hashes; the cleartext never leaves the importer.
	Keys []Key
	// Issuers are the JWT issuers whose tokens identify this consumer.
	Issuers []string
}

// Key is one hashed API key.
type Key struct {
	ID   string
	Hash string
}

// RateLimit is a route's rate limit (routes[].rate_limits).
type RateLimit struct {
	Name  string
	Key   []string
	Rate  int64
	Per   time.Duration
	Burst int64
}

// CORS is a route's CORS policy (routes[].cors).
type CORS struct {
	AllowOrigins     []string
	AllowMethods     []string
	AllowHeaders     []string
	ExposeHeaders    []string
	AllowCredentials bool
	MaxAge           time.Duration
}

// Outcome says what became of one input item.
type Outcome string

// The outcomes; NotMapped makes the import incomplete.
const (
	Mapped    Outcome = "mapped"
	Partial   Outcome = "differs"
	NotMapped Outcome = "not mapped"
)

// Item is one line of the migration report.
type Item struct {
	File    string
	Line    int
	What    string
	Outcome Outcome
	Detail  string
}

// Report lists every input item with what it became.
type Report []Item

// Add appends an item.
func (r *Report) Add(file string, line int, what string, o Outcome, format string, a ...any) {
	*r = append(*r, Item{File: file, Line: line, What: what, Outcome: o, Detail: fmt.Sprintf(format, a...)})
}

// Complete tells whether every item mapped (possibly with differences).
func (r Report) Complete() bool {
	return !slices.ContainsFunc(r, func(it Item) bool { return it.Outcome == NotMapped })
}

// Consumer returns the consumer named name, adding it when absent.
func (p *Plan) Consumer(name string) *Consumer {
	for i := range p.Consumers {
		if p.Consumers[i].Name == name {
			return &p.Consumers[i]
		}
	}
	p.Consumers = append(p.Consumers, Consumer{Name: name})
	return &p.Consumers[len(p.Consumers)-1]
}

// Input is one input file.
type Input struct {
	Name string
	Data []byte
}

// AddAuthn adds an accepted authentication method to r, once.
func (r *Route) AddAuthn(method string) {
	if !slices.Contains(r.Authn, method) {
		r.Authn = append(slices.Clone(r.Authn), method)
	}
}
