package config

import (
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"
)

var fileName = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)

// Service is a bundle server, as an entry of OPA's services.
type Service struct {
	Name string `yaml:"name"`
	// URL is the base URL; a bundle's relative url and the status
	// resource are resolved against it.
	URL     string            `yaml:"url"`
	Headers map[string]string `yaml:"headers"`
	// Type is "" (OPA's HTTP bundle protocol) or "oci": an OCI registry
	// (URL its address), whose bundles' url is an image reference such as
	// ghcr.io/acme/policy:v1, pulled with OPA's OCI downloader.
	Type string `yaml:"type"`
	// Credentials: at most one kind.
	Credentials ServiceCredentials `yaml:"credentials"`
	TLS         *ServiceTLS        `yaml:"tls"`
	// Timeout waits for the response headers (not for a long poll's
	// answer). Default 10s.
	Timeout time.Duration `yaml:"timeout"`
}

// ServiceCredentials authenticate to a service, as OPA's credentials.
type ServiceCredentials struct {
	Bearer    *BearerCredential    `yaml:"bearer"`
	ClientTLS *ClientTLSCredential `yaml:"client_tls"`
}

// BearerCredential sends the token in the file, read at each request, so
// a rotated token is used without a reload.
type BearerCredential struct {
	TokenFile string `yaml:"token_file"`
	// Scheme of the Authorization header. Default Bearer.
	Scheme string `yaml:"scheme"`
}

// ClientTLSCredential presents a client certificate.
type ClientTLSCredential struct {
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// ServiceTLS adds a CA to the system roots for the service.
type ServiceTLS struct {
	CAFile string `yaml:"ca_file"`
}

// BundlePolling is OPA's polling of a bundle: a random delay between
// MinDelay and MaxDelay after each answer; with LongPollingTimeout the
// server may hold the request until the bundle changes.
type BundlePolling struct {
	MinDelay           time.Duration `yaml:"min_delay"`
	MaxDelay           time.Duration `yaml:"max_delay"`
	LongPollingTimeout time.Duration `yaml:"long_polling_timeout"`
}

// StatusReport sends OPA status updates (POST <service url>/status) after
// every bundle activation or failure.
type StatusReport struct {
	Service string `yaml:"service"`
}

// Service returns the named service, or nil.
func (p *Policy) Service(name string) *Service {
	for i := range p.Services {
		if p.Services[i].Name == name {
			return &p.Services[i]
		}
	}
	return nil
}

func (c *Config) validateServices(ch *checker) {
	p := &c.Policy
	names := map[string]bool{}
	for i, s := range p.Services {
		f := fmt.Sprintf("policy.services[%d]", i)
		if s.Name == "" {
			ch.add(f+".name", "is required")
		} else if names[s.Name] {
			ch.add(f+".name", "%q is used twice", s.Name)
		}
		names[s.Name] = true
		if u, err := url.Parse(s.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			ch.add(f+".url", "%q must be an absolute http or https URL", s.URL)
		}
		if s.Type != "" && s.Type != "oci" {
			ch.add(f+".type", "%q is not a service type (want oci, or nothing for OPA's bundle protocol)", s.Type)
		}
		if s.Timeout <= 0 || s.Timeout > 5*time.Minute {
			ch.add(f+".timeout", "%s is out of range (want 1ms..5m)", s.Timeout)
		}
		cr := s.Credentials
		if cr.Bearer != nil && cr.ClientTLS != nil {
			ch.add(f+".credentials", "set at most one of bearer, client_tls")
		}
		if b := cr.Bearer; b != nil {
			ch.fileExists(f+".credentials.bearer.token_file", b.TokenFile)
		}
		if t := cr.ClientTLS; t != nil {
			ch.fileExists(f+".credentials.client_tls.cert_file", t.CertFile)
			ch.fileExists(f+".credentials.client_tls.key_file", t.KeyFile)
		}
		if t := s.TLS; t != nil {
			ch.fileExists(f+".tls.ca_file", t.CAFile)
		}
	}
	if st := p.Status; st != nil {
		if svc := p.Service(st.Service); svc == nil {
			ch.add("policy.status.service", "%q is not in policy.services", st.Service)
		} else if svc.Type == "oci" {
			ch.add("policy.status.service", "%q is an OCI registry, which takes no status reports", st.Service)
		}
	}
}

// remoteBundle checks the url form of a bundle source; field names it.
func (c *Config) remoteBundle(ch *checker, f string, b BundleSource) {
	if !fileName.MatchString(b.Name) || b.Name == "." || b.Name == ".." {
		ch.add(f+".name", "%q names the bundle's directory: want letters, digits, '.', '_', '-'", b.Name)
	}
	if b.Service != "" && c.Policy.Service(b.Service) == nil {
		ch.add(f+".service", "%q is not in policy.services", b.Service)
	}
	if svc := c.Policy.Service(b.Service); svc != nil && svc.Type == "oci" {
		// An image reference (registry/repository:tag or @digest), not a URL.
		if strings.Contains(b.URL, "://") || !strings.Contains(b.URL, "/") {
			ch.add(f+".url", "%q is not an OCI image reference (want registry/repository:tag)", b.URL)
		}
		if b.Polling.LongPollingTimeout != 0 {
			ch.add(f+".polling.long_polling_timeout", "OCI registries do not long-poll")
		}
	} else if u, err := url.Parse(b.URL); err != nil {
		ch.add(f+".url", "%v", err)
	} else {
		switch {
		case u.IsAbs() && u.Scheme != "http" && u.Scheme != "https", u.IsAbs() && u.Host == "":
			ch.add(f+".url", "%q must be an http or https URL", b.URL)
		case !u.IsAbs() && b.Service == "":
			ch.add(f+".url", "%q is relative: name a service to resolve it against, or give an absolute URL", b.URL)
		}
	}
	pl := b.Polling
	if pl.MinDelay < time.Second || pl.MaxDelay < pl.MinDelay || pl.MaxDelay > 24*time.Hour {
		ch.add(f+".polling", "min_delay %s, max_delay %s: want 1s <= min_delay <= max_delay <= 24h", pl.MinDelay, pl.MaxDelay)
	}
	if pl.MinDelay%time.Second != 0 || pl.MaxDelay%time.Second != 0 || pl.LongPollingTimeout%time.Second != 0 {
		ch.add(f+".polling", "delays are whole seconds (OPA's protocol counts seconds)")
	}
	if pl.LongPollingTimeout < 0 || pl.LongPollingTimeout > time.Hour {
		ch.add(f+".polling.long_polling_timeout", "%s is out of range (want 0..1h)", pl.LongPollingTimeout)
	}
	if *b.Persist {
		if st, err := os.Stat(c.Policy.PersistenceDirectory); err == nil && !st.IsDir() {
			ch.add("policy.persistence_directory", "%q is not a directory", c.Policy.PersistenceDirectory)
		}
	}
}

// validateRemote checks the services and the url bundles; shadow bundles
// are candidates on disk only.
func (c *Config) validateRemote(ch *checker) {
	c.validateServices(ch)
	for i, b := range c.Policy.Bundles {
		if b.URL != "" && b.Path == "" {
			c.remoteBundle(ch, fmt.Sprintf("policy.bundles[%d]", i), b)
		}
	}
	if s := c.Policy.Shadow; s != nil {
		for i, b := range s.Bundles {
			if b.URL != "" {
				ch.add(fmt.Sprintf("policy.shadow.bundles[%d].url", i), "shadow bundles are read from a path only")
			}
		}
	}
}
