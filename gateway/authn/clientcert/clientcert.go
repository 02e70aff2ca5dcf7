// Package clientcert authenticates verified TLS client certificates against a mapping table in bundle data.
package clientcert

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/portcullis/portcullis/gateway/problem"
	"github.com/portcullis/portcullis/internal/promreg"
	"github.com/portcullis/portcullis/policy"
)

// Reason codes of the problems Authenticate returns.
const (
	ReasonUnknown     = "client_cert_unknown"
	ReasonUntrusted   = "client_cert_untrusted"
	ReasonExpired     = "client_cert_expired"
	ReasonUnavailable = "client_certs_unavailable"
)

// challenge is the WWW-Authenticate value of a 401 for a refused
// certificate; like apikey's it names a scheme no registry defines.
const challenge = "ClientCert"

// Options are the dependencies of an Authenticator.
type Options struct {
	// Anchors are the certificates of listen.tls_client_ca_file: a chain
	// verified at the handshake authenticates only while its root is one
	// of them, so a CA removed from the file also stops connections that
	// are already open. Required.
	Anchors []*x509.Certificate
	// Logger receives debug events for refused certificates (fingerprint only).
	Logger zerolog.Logger
	// Registerer receives the metrics; nil registers none.
	Registerer prometheus.Registerer
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Authenticator turns the verified chain of a TLS connection into an
// identity. It is safe for concurrent use; SetIndex may run at any time.
type Authenticator struct {
	idx     atomic.Pointer[Index]
	anchors map[string]bool // DER of each anchor
	log     zerolog.Logger
	now     func() time.Time
	results *prometheus.CounterVec
	ok      prometheus.Counter
}

// New returns an Authenticator with no index: until SetIndex is called every
// certificate gets 503 client_certs_unavailable (fail closed while bundles
// load). It fails without anchors.
func New(opts Options) (*Authenticator, error) {
	if len(opts.Anchors) == 0 {
		return nil, errors.New("clientcert: no CA certificates")
	}
	a := &Authenticator{anchors: make(map[string]bool, len(opts.Anchors)), log: opts.Logger, now: opts.Now}
	for _, c := range opts.Anchors {
		a.anchors[string(c.Raw)] = true
	}
	if a.now == nil {
		a.now = time.Now
	}
	a.results = promreg.MustRegister(opts.Registerer, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "portcullis_client_cert_authentications_total",
		Help: "Client-certificate authentications by result: ok or the reason code of the rejection.",
	}, []string{"result"}))
	a.ok = a.results.WithLabelValues("ok")
	return a, nil
}

// SetIndex atomically replaces the mapping table: requests that start
// afterwards see only the new entries, so removing an entry from bundle
// data revokes its certificates.
func (a *Authenticator) SetIndex(x *Index) { a.idx.Store(x) }

// Authenticate maps the verified chains of a connection
// (tls.ConnectionState.VerifiedChains) to an identity. Chains that the
// handshake did not verify never reach it: PeerCertificates alone are not
// evidence of anything. It returns a 401 problem for a certificate whose
// root is no longer trusted, that expired since the handshake, or that no
// entry maps.
func (a *Authenticator) Authenticate(chains [][]*x509.Certificate) (*policy.Identity, error) {
	chain := a.trusted(chains)
	if chain == nil {
		return nil, a.reject(ReasonUntrusted, "the client certificate is not issued by a trusted CA", "")
	}
	leaf := chain[0]
	fp := sha256.Sum256(leaf.Raw)
	fingerprint := FingerprintPrefix + hex.EncodeToString(fp[:])
	// A connection outlives the handshake that checked the dates.
	if now := a.now(); now.After(leaf.NotAfter) || now.Before(leaf.NotBefore) {
		return nil, a.reject(ReasonExpired, "the client certificate is not valid at this time", fingerprint)
	}
	x := a.idx.Load()
	if x == nil {
		a.results.WithLabelValues(ReasonUnavailable).Inc()
		return nil, problem.New(http.StatusServiceUnavailable, ReasonUnavailable, "client certificate mappings are not loaded yet").
			WithHeader("Retry-After", "5")
	}
	cert := describe(leaf, fingerprint)
	m := x.lookup(fp, cert.URIs)
	if m == nil {
		return nil, a.reject(ReasonUnknown, "the client certificate is not mapped to a consumer", fingerprint)
	}
	a.ok.Inc()
	return &policy.Identity{
		Authenticated: true,
		Method:        policy.MethodClientCert,
		Subject:       m.Consumer,
		Consumer:      m.Consumer,
		Groups:        m.Groups,
		KeyID:         m.Key,
		ExpiresAt:     leaf.NotAfter,
		Certificate:   cert,
	}, nil
}

// trusted returns the first chain whose root is a current anchor.
func (a *Authenticator) trusted(chains [][]*x509.Certificate) []*x509.Certificate {
	for _, c := range chains {
		if len(c) > 0 && a.anchors[string(c[len(c)-1].Raw)] {
			return c
		}
	}
	return nil
}

func (a *Authenticator) reject(reason, detail, fingerprint string) *problem.Problem {
	a.results.WithLabelValues(reason).Inc()
	a.log.Debug().Str("reason", reason).Str("fingerprint", fingerprint).Msg("client certificate refused")
	return problem.New(http.StatusUnauthorized, problem.Reason(reason), detail).WithHeader("WWW-Authenticate", challenge)
}

// describe returns the fields of c the policy input carries.
func describe(c *x509.Certificate, fingerprint string) *policy.Certificate {
	d := &policy.Certificate{
		Subject:           c.Subject.String(),
		Issuer:            c.Issuer.String(),
		FingerprintSHA256: fingerprint,
		DNSNames:          c.DNSNames,
		Emails:            c.EmailAddresses,
		NotAfter:          c.NotAfter,
	}
	if c.SerialNumber != nil {
		d.Serial = c.SerialNumber.Text(16)
	}
	for _, u := range c.URIs {
		d.URIs = append(d.URIs, u.String())
	}
	return d
}
