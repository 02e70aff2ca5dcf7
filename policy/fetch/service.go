package fetch

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/open-policy-agent/opa/v1/logging"
	"github.com/open-policy-agent/opa/v1/plugins/rest"
)

// Service is a bundle server as OPA's services entry: the client, its
// credentials and headers are OPA's (plugins/rest), so a server that
// works with OPA works here.
type Service struct {
	Name string
	URL  string
	// Type is "" (OPA's bundle protocol) or "oci" (an OCI registry).
	Type    string
	Headers map[string]string
	// BearerTokenFile is read at every request (OPA's token_path).
	BearerTokenFile, BearerScheme string
	CertFile, KeyFile             string
	CAFile                        string
	// Timeout waits for the response headers.
	Timeout time.Duration
}

// restConfig is the service in OPA's JSON form.
func (s Service) restConfig() ([]byte, error) {
	type bearer struct {
		TokenPath string `json:"token_path"`
		Scheme    string `json:"scheme,omitempty"`
	}
	type clientTLS struct {
		Cert       string `json:"cert"`
		PrivateKey string `json:"private_key"`
	}
	type creds struct {
		Bearer    *bearer    `json:"bearer,omitempty"`
		ClientTLS *clientTLS `json:"client_tls,omitempty"`
	}
	type serverTLS struct {
		CACert string `json:"ca_cert"`
	}
	c := struct {
		Name                         string            `json:"name"`
		URL                          string            `json:"url"`
		Type                         string            `json:"type,omitempty"`
		Headers                      map[string]string `json:"headers,omitempty"`
		ResponseHeaderTimeoutSeconds int64             `json:"response_header_timeout_seconds"`
		TLS                          *serverTLS        `json:"tls,omitempty"`
		Credentials                  creds             `json:"credentials"`
	}{Name: s.Name, URL: s.URL, Type: s.Type, Headers: s.Headers, ResponseHeaderTimeoutSeconds: max(1, int64(s.Timeout/time.Second))}
	if s.CAFile != "" {
		c.TLS = &serverTLS{CACert: s.CAFile}
	}
	if s.BearerTokenFile != "" {
		c.Credentials.Bearer = &bearer{TokenPath: s.BearerTokenFile, Scheme: s.BearerScheme}
	}
	if s.CertFile != "" {
		c.Credentials.ClientTLS = &clientTLS{Cert: s.CertFile, PrivateKey: s.KeyFile}
	}
	return json.Marshal(c)
}

// client returns OPA's REST client for s with its base URL replaced by
// base (scheme://host[/prefix]).
func (s Service) client(base string) (rest.Client, error) {
	s.URL = base
	raw, err := s.restConfig()
	if err != nil {
		return rest.Client{}, err
	}
	c, err := rest.New(raw, nil, rest.Logger(logging.NewNoOpLogger()))
	if err != nil {
		return rest.Client{}, fmt.Errorf("service %s: %w", s.Name, err)
	}
	return c, nil
}

// resolve splits a bundle's url into the client's base URL and the
// resource path: an absolute url keeps only its origin as the base, a
// relative one is OPA's resource under the service's url.
func resolve(svc Service, raw string) (base, path string, err error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", "", err
	}
	if !u.IsAbs() {
		if svc.URL == "" {
			return "", "", fmt.Errorf("url %q is relative and no service is named", raw)
		}
		return strings.TrimRight(svc.URL, "/"), u.RequestURI(), nil
	}
	origin := &url.URL{Scheme: u.Scheme, Host: u.Host}
	return origin.String(), u.RequestURI(), nil
}
