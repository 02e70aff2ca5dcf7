package config

import (
	"net"
	"net/url"
	"strings"
)

// UpstreamTLS configures the TLS connections of a route to its https
// upstreams: whom to trust, which name to verify, the lowest version and
// the client certificate of mutual TLS. A route without it trusts the
// system roots and sends no certificate. The files reload live.
type UpstreamTLS struct {
	// CAFile is a PEM bundle of the certificates trusted to sign the
	// upstreams' certificates, instead of the system roots.
	CAFile string `yaml:"ca_file"`
	// ServerName is sent as SNI and verified against the upstream's
	// certificate. Default: each upstream URL's host.
	ServerName string `yaml:"server_name"`
	// MinVersion is "1.2" (default) or "1.3".
	MinVersion string `yaml:"min_version"`
	// CertFile and KeyFile (PEM, both or neither) are the client
	// certificate and key the gateway presents to upstreams that ask.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// validateUpstreamTLS checks the tls block of route r at path p; the
// files are read and parsed when the generation is built (gateway/proxy),
// here they must only exist.
func validateUpstreamTLS(ch *checker, p string, r *Route) {
	t := r.TLS
	if t == nil {
		return
	}
	p += ".tls"
	for _, s := range append([]string{r.Upstream}, r.Upstreams...) {
		// Sending a client certificate or trusting a CA means nothing
		// over cleartext, and silently ignoring the block would hide that.
		if u, err := url.Parse(s); err == nil && u.Scheme == "http" {
			ch.add(p, "is set but upstream %q is http (want https)", s)
		}
	}
	ch.oneOf(p+".min_version", t.MinVersion, "1.2", "1.3")
	if n := t.ServerName; n != "" && (strings.ContainsAny(n, "/@ \t") || (strings.Contains(n, ":") && net.ParseIP(n) == nil)) {
		ch.add(p+".server_name", "%q is not a host name (no scheme, port or path)", n)
	}
	if t.CAFile != "" {
		ch.fileExists(p+".ca_file", t.CAFile)
	}
	switch {
	case (t.CertFile == "") != (t.KeyFile == ""):
		ch.add(p+".cert_file", "cert_file and key_file go together")
	case t.CertFile != "":
		ch.fileExists(p+".cert_file", t.CertFile)
		ch.fileExists(p+".key_file", t.KeyFile)
	}
}
