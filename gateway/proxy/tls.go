package proxy

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"

	"github.com/portcullis/portcullis/gateway/config"
)

// TLS is a route's tls block loaded: the client configuration of its
// transport, and a digest of the files it was read from, so that a
// generation builds a new transport exactly when a file's content changed.
type TLS struct {
	config *tls.Config
	digest string
}

// Digest is the SHA-256 of the files read, in hex. It is a hash of key
// material: compare it, never log it.
func (t *TLS) Digest() string { return t.digest }

var tlsVersions = map[string]uint16{"1.2": tls.VersionTLS12, "1.3": tls.VersionTLS13}

// LoadTLS reads and parses the files of c; the error names the field and
// file at fault. The certificate and its key are read together and checked
// against each other, so a half-rotated pair is refused, never used.
func LoadTLS(c *config.UpstreamTLS) (*TLS, error) {
	v, ok := tlsVersions[c.MinVersion]
	if !ok {
		return nil, fmt.Errorf("tls.min_version: %q is not allowed (want \"1.2\" or \"1.3\")", c.MinVersion)
	}
	if (c.CertFile == "") != (c.KeyFile == "") {
		return nil, errors.New("tls.cert_file: cert_file and key_file go together")
	}
	h := sha256.New()
	read := func(field, path string) ([]byte, error) {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("tls.%s: %w", field, err)
		}
		fmt.Fprintf(h, "%s\x00%d\x00", field, len(b))
		h.Write(b)
		return b, nil
	}
	cfg := &tls.Config{MinVersion: v, ServerName: c.ServerName}
	if c.CAFile != "" {
		b, err := read("ca_file", c.CAFile)
		if err != nil {
			return nil, err
		}
		if cfg.RootCAs, err = parseBundle(b); err != nil {
			return nil, fmt.Errorf("tls.ca_file %s: %w", c.CAFile, err)
		}
	}
	if c.CertFile != "" {
		cb, err := read("cert_file", c.CertFile)
		if err != nil {
			return nil, err
		}
		kb, err := read("key_file", c.KeyFile)
		if err != nil {
			return nil, err
		}
		pair, err := tls.X509KeyPair(cb, kb)
		if err != nil {
			return nil, fmt.Errorf("tls.cert_file %s, tls.key_file %s: %w", c.CertFile, c.KeyFile, err)
		}
		// Sent to any upstream that asks, whatever authorities it names:
		// a backend that distrusts it then says so in its own log,
		// instead of seeing no certificate at all.
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &pair, nil }
	}
	return &TLS{config: cfg, digest: hex.EncodeToString(h.Sum(nil))}, nil
}

// parseBundle parses every certificate of a PEM bundle. Text between
// blocks (the comments of a distribution's bundle) is skipped; a block
// that is not a certificate or does not parse is an error, because
// x509.CertPool.AppendCertsFromPEM would skip it silently.
func parseBundle(b []byte) (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	n := 0
	for {
		var blk *pem.Block
		if blk, b = pem.Decode(b); blk == nil {
			break
		}
		n++
		if blk.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("PEM block %d is %q, want CERTIFICATE", n, blk.Type)
		}
		cert, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("PEM block %d: %w", n, err)
		}
		pool.AddCert(cert)
	}
	if n == 0 {
		return nil, errors.New("no PEM certificate found")
	}
	return pool, nil
}

// tlsFailure tells whether err is a failed TLS exchange with the upstream
// rather than a connection that could not be made: a certificate that does
// not verify (unknown authority, name mismatch, expired), an alert either
// side sent (a required client certificate missing or refused, no common
// protocol version or cipher suite), or a peer that does not speak TLS.
func tlsFailure(err error) bool {
	if _, ok := errors.AsType[*tls.CertificateVerificationError](err); ok {
		return true
	}
	if _, ok := errors.AsType[tls.RecordHeaderError](err); ok {
		return true
	}
	// crypto/tls reports alerts as *net.OpError with these two operations
	// and an unexported alert type (tls.AlertError is QUIC's). In TLS 1.3
	// a server refuses the client certificate after the client's
	// handshake is done, so this alert arrives on the first read, not
	// from the handshake.
	if op, ok := errors.AsType[*net.OpError](err); ok && (op.Op == "remote error" || op.Op == "local error") {
		return true
	}
	return false
}
