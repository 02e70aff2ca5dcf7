package config

import "time"

// Default returns a Config with every default set and no routes or
// bundles: what a file that sets nothing would give. Tests and code that
// build settings by hand start from it rather than restating the numbers.
func Default() *Config {
	c := &Config{Dir: "."}
	c.setDefaults()
	return c
}

func setDur(d *time.Duration, v time.Duration) {
	if *d == 0 {
		*d = v
	}
}

func setStr(s *string, v string) {
	if *s == "" {
		*s = v
	}
}

func setInt[T ~int | ~int64](n *T, v T) {
	if *n == 0 {
		*n = v
	}
}

func setBool(b **bool, v bool) {
	if *b == nil {
		*b = &v
	}
}

func (c *Config) setDefaults() {
	l := &c.Listen
	setStr(&l.Proxy, ":8080")
	setStr(&l.Admin, "127.0.0.1:8081")
	setDur(&l.ReadHeaderTimeout, 10*time.Second)
	setDur(&l.ReadTimeout, 60*time.Second)
	setDur(&l.WriteTimeout, 120*time.Second)
	setDur(&l.IdleTimeout, 120*time.Second)
	setInt(&l.MaxHeaderBytes, 64<<10)
	setInt(&l.MaxConnections, 10000)
	setDur(&l.ShutdownGrace, 15*time.Second)
	setStr(&l.HeadersWithUnderscores, "drop")
	setStr(&c.Request.MethodOverride, "strip")
	l.TLSCertFile, l.TLSKeyFile = c.Path(l.TLSCertFile), c.Path(l.TLSKeyFile)

	setStr(&c.Log.Level, "info")
	setStr(&c.Log.Format, "json")

	g := &c.Limits
	setInt(&g.MaxBodyBytes, 1<<20)
	setBool(&g.RequireContentLength, false)
	setBool(&g.AllowEncodedBody, false)
	setInt(&g.MaxHeaders, 100)
	setInt(&g.MaxURLBytes, 8<<10)
	setInt(&g.MaxQueryBytes, 4<<10)
	setInt(&g.MaxJSONDepth, 32)
	setInt(&g.MaxJSONKeys, 10000)
	setInt(&g.MaxBufferedBytes, 64<<20)
	setInt(&g.MaxAnonymousBufferedBytes, 8<<20)

	j := &c.Authn.JWT
	setInt(&j.MaxTokenBytes, 8<<10)
	setInt(&j.CacheSize, 10000)
	for i := range j.Issuers {
		is := &j.Issuers[i]
		if is.ClockSkew == nil {
			d := 30 * time.Second
			is.ClockSkew = &d
		}
		if is.RequiredClaims == nil {
			is.RequiredClaims = []string{"exp"}
		}
		setDur(&is.RefreshInterval, 5*time.Minute)
		setDur(&is.MinRefreshInterval, 30*time.Second)
		setDur(&is.MaxStale, 24*time.Hour)
		setDur(&is.FetchTimeout, 5*time.Second)
		setStr(&is.GroupsClaim, "groups")
	}
	if in := c.Authn.Introspection; in != nil {
		setStr(&in.AuthMethod, "client_secret_basic")
		setDur(&in.Timeout, 2*time.Second)
		setDur(&in.CacheTTL, 60*time.Second)
		setDur(&in.NegativeTTL, 5*time.Second)
		setInt(&in.CacheSize, 10000)
		setStr(&in.OnError, "unavailable")
		if in.TokenTypes == nil {
			in.TokenTypes = []string{"access_token", "Bearer", "urn:ietf:params:oauth:token-type:access_token"}
		}
	}
	k := &c.Authn.APIKeys
	setStr(&k.Header, "X-API-Key")
	setStr(&k.Query, "apikey")
	setStr(&k.DataPath, "portcullis.consumers")
	setStr(&k.ConsumerHeader, "X-Consumer-Username")

	p := &c.Policy
	setStr(&p.Decision, "data.portcullis.authz.decision")
	setDur(&p.Timeout, 50*time.Millisecond)
	setBool(&p.Watch, true)
	setDur(&p.Debounce, 250*time.Millisecond)
	setInt(&p.MaxBundleBytes, 64<<20)
	setInt(&p.DecisionCacheSize, 10000)
	for i := range p.Bundles {
		b := &p.Bundles[i]
		b.Path = c.Path(b.Path)
	}
	if s := p.Signing; s != nil {
		setStr(&s.KeyID, "default")
		setStr(&s.Algorithm, "RS256")
		s.KeyFile = c.Path(s.KeyFile)
	}

	c.Request.withDefaultSecrets()
	d := &c.DecisionLog
	setStr(&d.MaskRule, "data.system.log.mask")
	setStr(&d.DropRule, "data.system.log.drop")
	one := 1.0
	if d.Sample.Allow == nil {
		d.Sample.Allow = &one
	}
	if d.Sample.Deny == nil {
		d.Sample.Deny = &one
	}
	setBool(&d.Stdout, d.File == nil && d.HTTP == nil && d.Syslog == nil)
	if f := d.File; f != nil {
		f.Path = c.Path(f.Path)
		setInt(&f.MaxSize, 100<<20)
		setDur(&f.MaxAge, 168*time.Hour)
	}
	if h := d.HTTP; h != nil {
		setStr(&h.Format, "ndjson")
		setInt(&h.BatchEvents, 500)
		setInt(&h.BatchBytes, 1<<20)
		setDur(&h.FlushInterval, time.Second)
		setDur(&h.Timeout, 10*time.Second)
		setInt(&h.QueueEvents, 10000)
		setDur(&h.MaxRetryDelay, 30*time.Second)
		setInt(&h.SpoolMaxBytes, 1<<30)
		setStr(&h.OnFull, "drop_oldest")
		if h.SpoolDir != "" {
			h.SpoolDir = c.Path(h.SpoolDir)
		}
		if h.CAFile != "" {
			h.CAFile = c.Path(h.CAFile)
		}
	}

	if sl := d.Syslog; sl != nil && sl.CAFile != "" {
		sl.CAFile = c.Path(sl.CAFile)
	}
	for i := range j.Issuers {
		for k, f := range j.Issuers[i].Keys {
			j.Issuers[i].Keys[k] = c.Path(f)
		}
	}
	for i := range c.Routes {
		r := &c.Routes[i]
		setDur(&r.Timeout, 30*time.Second)
		setDur(&r.ConnectTimeout, 5*time.Second)
		setDur(&r.EjectFor, 10*time.Second)
		if r.Authn.HideCredentials == nil {
			t := true
			r.Authn.HideCredentials = &t
		}
		if r.OpenAPI.Spec != "" {
			r.OpenAPI.Spec = c.Path(r.OpenAPI.Spec)
			setStr(&r.OpenAPI.Mode, "enforce")
			setStr(&r.OpenAPI.UnknownOperation, "reject")
		}
		setStr(&r.Policy.InputCompat, p.InputCompat)
		r.Limits.inherit(g)
	}
}

// inherit fills every field l does not set from the defaults d.
func (l *Limits) inherit(d *Limits) {
	setInt(&l.MaxBodyBytes, d.MaxBodyBytes)
	if l.RequireContentLength == nil {
		l.RequireContentLength = d.RequireContentLength
	}
	if l.AllowEncodedBody == nil {
		l.AllowEncodedBody = d.AllowEncodedBody
	}
	setInt(&l.MaxHeaders, d.MaxHeaders)
	setInt(&l.MaxURLBytes, d.MaxURLBytes)
	setInt(&l.MaxQueryBytes, d.MaxQueryBytes)
	setInt(&l.MaxJSONDepth, d.MaxJSONDepth)
	setInt(&l.MaxJSONKeys, d.MaxJSONKeys)
}
