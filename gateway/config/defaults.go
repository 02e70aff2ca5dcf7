package config

import (
	"path/filepath"
	"time"
)

// The defaults of the whole configuration live in this file and nowhere
// else: the runtime reads the loaded value, and the packages that consume
// it refuse a zero instead of substituting a number of their own.
//
// A default is set before the file is decoded over it, so a field the file
// leaves out keeps its default and a field the file sets is taken as
// written, 0 and "" included (README, "Defaults and off").

// Default returns a Config with every default set and no routes or
// bundles: what a file that sets nothing gives. Tests and code that build
// settings by hand start from it rather than restating the numbers.
func Default() *Config {
	c := &Config{Dir: "."}
	c.defaults()
	c.finish()
	return c
}

// DefaultIssuer returns an issuer with every default set.
func DefaultIssuer() Issuer {
	var is Issuer
	is.defaults(nil)
	return is
}

// DefaultIntrospection returns an introspection section with every default set.
func DefaultIntrospection() Introspection {
	var in Introspection
	in.defaults(nil)
	return in
}

func ptr[T any](v T) *T { return &v }

// defaulter is a section whose defaults are set when the file has it: an
// element of a list, or a section that is off when absent. c is the
// configuration decoded so far (routes are decoded last).
type defaulter interface{ defaults(c *Config) }

// defaults sets the defaults of the top-level sections.
func (c *Config) defaults() {
	c.Listen = Listen{
		Proxy:                  ":8080",
		Admin:                  "127.0.0.1:8081",
		ReadHeaderTimeout:      10 * time.Second,
		ReadTimeout:            60 * time.Second,
		WriteTimeout:           120 * time.Second,
		IdleTimeout:            120 * time.Second,
		MaxHeaderBytes:         64 << 10,
		MaxConnections:         10000,
		ShutdownGrace:          15 * time.Second,
		DrainDelay:             5 * time.Second,
		HeadersWithUnderscores: "drop",
		ClientAuth:             "request",
	}
	c.Log = Log{Level: "info", Format: "json"}
	c.Request.MethodOverride = "strip"
	c.Limits = Limits{
		MaxBodyBytes:              1 << 20,
		RequireContentLength:      ptr(false),
		AllowEncodedBody:          ptr(false),
		MaxHeaders:                100,
		MaxURLBytes:               8 << 10,
		MaxQueryBytes:             4 << 10,
		MaxJSONDepth:              32,
		MaxJSONKeys:               10000,
		MaxBufferedBytes:          64 << 20,
		MaxAnonymousBufferedBytes: 8 << 20,
	}
	c.Authn.JWT = JWT{MaxTokenBytes: 8 << 10, CacheSize: 10000}
	c.Authn.APIKeys = APIKeys{
		Header:          "X-API-Key",
		Query:           "apikey",
		DataPath:        "portcullis.consumers",
		RevokedDataPath: "portcullis.revoked_api_keys",
		ConsumerHeader:  "X-Consumer-Username",
	}
	c.Authn.ClientCerts = ClientCerts{DataPath: "portcullis.client_certs"}
	c.Policy = Policy{
		Decision:          "data.portcullis.authz.decision",
		Timeout:           50 * time.Millisecond,
		Watch:             ptr(true),
		Debounce:          250 * time.Millisecond,
		MaxBundleBytes:    64 << 20,
		DecisionCacheSize: 10000,
	}
	c.DecisionLog = DecisionLog{
		MaskRule: "data.system.log.mask",
		DropRule: "data.system.log.drop",
		Sample:   Sample{Allow: ptr(1.0), Deny: ptr(1.0)},
	}
	// The rest of tracing is empty: the OTEL_* environment fills it.
	c.Tracing = Tracing{Protocol: "http/protobuf", TrustIncoming: "trusted_proxies"}
	c.RateLimit = RateLimit{MaxKeys: 100000,
		AuthFailures: AuthFailures{Enabled: ptr(true), MaxFailures: 100, Window: time.Minute, BlockFor: 5 * time.Minute}}
}

// DefaultTracingServiceName is service.name when neither tracing.service_name
// nor OTEL_SERVICE_NAME sets it.
const DefaultTracingServiceName = "portcullis"

func (is *Issuer) defaults(*Config) {
	is.ClockSkew = ptr(30 * time.Second)
	is.RequiredClaims = []string{"exp"}
	is.RefreshInterval = 5 * time.Minute
	is.MinRefreshInterval = 30 * time.Second
	is.MaxStale = 24 * time.Hour
	is.FetchTimeout = 5 * time.Second
	is.GroupsClaim = "groups"
}

func (in *Introspection) defaults(*Config) {
	in.AuthMethod = "client_secret_basic"
	in.Timeout = 2 * time.Second
	in.CacheTTL = 60 * time.Second
	in.NegativeTTL = 5 * time.Second
	in.CacheSize = 10000
	in.OnError = "unavailable"
	in.TokenTypes = []string{"access_token", "Bearer", "urn:ietf:params:oauth:token-type:access_token"}
}

func (s *BundleSigning) defaults(*Config) {
	s.KeyID = "default"
	s.Algorithm = "RS256"
}

func (b *BundleSource) defaults(*Config) {
	b.Polling = BundlePolling{MinDelay: 60 * time.Second, MaxDelay: 120 * time.Second}
	b.Persist = ptr(true)
}

// finish resolves the bundle's file: a url bundle is read from its last
// good download.
func (b *BundleSource) finish(c *Config) {
	b.Path = c.Path(b.Path)
	if b.URL != "" {
		b.File = filepath.Join(c.Policy.PersistenceDirectory, "bundles", b.Name, "bundle.tar.gz")
	}
}

func (s *Service) defaults(*Config) {
	s.Timeout = 10 * time.Second
}

func (b *BearerCredential) defaults(*Config) {
	b.Scheme = "Bearer"
}

func (s *Service) finish(c *Config) {
	if b := s.Credentials.Bearer; b != nil {
		b.TokenFile = c.Path(b.TokenFile)
	}
	if t := s.Credentials.ClientTLS; t != nil {
		t.CertFile, t.KeyFile = c.Path(t.CertFile), c.Path(t.KeyFile)
	}
	if t := s.TLS; t != nil {
		t.CAFile = c.Path(t.CAFile)
	}
}

func (s *Shadow) defaults(*Config) {
	s.Sample = 1
	s.QueueSize = 1000
}

func (f *DecisionFile) defaults(*Config) {
	f.MaxSize = 100 << 20
	f.MaxAge = 168 * time.Hour
}

func (h *DecisionHTTP) defaults(*Config) {
	h.Format = "ndjson"
	h.BatchEvents = 500
	h.BatchBytes = 1 << 20
	h.FlushInterval = time.Second
	h.Timeout = 10 * time.Second
	h.QueueEvents = 10000
	h.MaxRetryDelay = 30 * time.Second
	h.SpoolMaxBytes = 1 << 30
	h.OnFull = "drop_oldest"
}

func (s *DecisionSplunk) defaults(*Config) {
	s.Source = "portcullis"
	s.Sourcetype = "_json"
}

func (ia *IdentityAssertion) defaults(*Config) {
	ia.Issuer = "portcullis"
	ia.RotationOverlap = 10 * time.Minute
}

func (a *RouteAssertion) defaults(*Config) {
	a.Header = "X-Portcullis-Assertion"
	a.TTL = 60 * time.Second
}

func (l *Limit) defaults(*Config) { l.Per = time.Second }

func (r *RateLimitRedis) defaults(*Config) {
	r.Timeout = 50 * time.Millisecond
	r.OnError = "local"
}

func (t *UpstreamTLS) defaults(*Config) { t.MinVersion = "1.2" }

// defaults of a route: its limits and input shape are the global ones,
// which are decoded before the routes.
func (r *Route) defaults(c *Config) {
	r.Timeout = 30 * time.Second
	r.ConnectTimeout = 5 * time.Second
	r.EjectFor = 10 * time.Second
	r.Authn.HideCredentials = ptr(true)
	r.Policy.InputCompat = c.Policy.InputCompat
	r.Limits = c.Limits
	r.Limits.MaxBufferedBytes, r.Limits.MaxAnonymousBufferedBytes = 0, 0 // global only
}

// finish sets what depends on the whole file: paths relative to the
// file's directory, the always-secret query parameters, stdout as the
// decision log's sink when no other is set, and the OpenAPI settings of a
// route with a spec.
func (c *Config) finish() {
	l := &c.Listen
	l.TLSCertFile, l.TLSKeyFile, l.TLSClientCAFile = c.Path(l.TLSCertFile), c.Path(l.TLSKeyFile), c.Path(l.TLSClientCAFile)
	p := &c.Policy
	if p.PersistenceDirectory == "" {
		p.PersistenceDirectory = ".portcullis"
	}
	p.PersistenceDirectory = c.Path(p.PersistenceDirectory)
	for i := range p.Bundles {
		p.Bundles[i].finish(c)
	}
	if s := p.Shadow; s != nil {
		for i := range s.Bundles {
			s.Bundles[i].finish(c)
		}
	}
	for i := range p.Services {
		p.Services[i].finish(c)
	}
	if s := p.Signing; s != nil {
		s.KeyFile = c.Path(s.KeyFile)
	}
	c.Request.withDefaultSecrets()
	d := &c.DecisionLog
	if d.Stdout == nil {
		d.Stdout = ptr(d.File == nil && d.HTTP == nil && d.Syslog == nil)
	}
	if f := d.File; f != nil {
		f.Path = c.Path(f.Path)
	}
	if h := d.HTTP; h != nil {
		h.SpoolDir, h.CAFile = c.Path(h.SpoolDir), c.Path(h.CAFile)
	}
	if sl := d.Syslog; sl != nil {
		sl.CAFile = c.Path(sl.CAFile)
	}
	if ia := c.IdentityAssertion; ia != nil {
		for i := range ia.Keys {
			ia.Keys[i].File = c.Path(ia.Keys[i].File)
		}
	}
	for i := range c.Authn.JWT.Issuers {
		keys := c.Authn.JWT.Issuers[i].Keys
		for k := range keys {
			keys[k] = c.Path(keys[k])
		}
	}
	c.RateLimit.finish(c)
	for i := range c.Routes {
		burstDefault(c.Routes[i].RateLimits)
		if t := c.Routes[i].TLS; t != nil {
			t.CAFile, t.CertFile, t.KeyFile = c.Path(t.CAFile), c.Path(t.CertFile), c.Path(t.KeyFile)
		}
		o := &c.Routes[i].OpenAPI
		if o.Spec != "" {
			o.Spec = c.Path(o.Spec)
			if o.Mode == "" {
				o.Mode = "enforce"
			}
			if o.UnknownOperation == "" {
				o.UnknownOperation = "reject"
			}
		}
	}
}

// finish resolves the password file and gives a limit without a burst
// its rate as burst.
func (rl *RateLimit) finish(c *Config) {
	if r := rl.Redis; r != nil {
		r.PasswordFile = c.Path(r.PasswordFile)
	}
	for _, ls := range rl.Classes {
		burstDefault(ls)
	}
}

func burstDefault(ls []Limit) {
	for i := range ls {
		if ls[i].Burst == 0 {
			ls[i].Burst = ls[i].Rate
		}
	}
}
