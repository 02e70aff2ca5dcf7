package generation

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/portcullis/portcullis/gateway/authn/clientcert"
)

// buildClientCerts reads listen.tls_client_ca_file into the generation's
// pool and the client_cert authenticator, whose mappings come from this
// generation's bundle data: a bundle without an entry revokes it, a CA
// file without a CA distrusts its certificates, both with the generation.
func (b *builder) buildClientCerts() {
	l := b.cfg.Listen
	if l.TLSClientCAFile == "" {
		return
	}
	cas, err := readCAs(l.TLSClientCAFile)
	if err != nil {
		b.fail(fmt.Errorf("listen.tls_client_ca_file %s: %w", l.TLSClientCAFile, err))
		return
	}
	g := b.g
	g.ClientCAs = x509.NewCertPool()
	for _, c := range cas {
		g.ClientCAs.AddCert(c)
	}
	g.ClientAuth = tls.VerifyClientCertIfGiven
	if l.ClientAuth == "require" {
		g.ClientAuth = tls.RequireAndVerifyClientCert
	}
	if g.clientCerts, err = clientcert.New(clientcert.Options{Anchors: cas, Logger: b.opts.Logger, Registerer: b.opts.Registerer}); err != nil {
		b.fail(fmt.Errorf("listen.tls_client_ca_file %s: %w", l.TLSClientCAFile, err))
		return
	}
	if g.Engine == nil {
		return
	}
	path := b.cfg.Authn.ClientCerts.DataPath
	data, _ := g.Engine.Data(path)
	idx, err := clientcert.NewIndex(data)
	if err != nil {
		b.fail(fmt.Errorf("policy.bundles %s: client certificate mappings at data.%s: %w", strings.Join(bundlePaths(b.cfg), ", "), path, err))
		return
	}
	g.clientCerts.SetIndex(idx)
}

// readCAs parses every CERTIFICATE block of a PEM file; a file with none,
// or with a block that does not parse, is an error (an empty pool would
// refuse every client without saying why).
func readCAs(path string) ([]*x509.Certificate, error) {
	rest, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var cas []*x509.Certificate
	for n := 1; ; n++ {
		var blk *pem.Block
		if blk, rest = pem.Decode(rest); blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("PEM block %d is %q, want CERTIFICATE", n, blk.Type)
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("PEM block %d: %w", n, err)
		}
		cas = append(cas, c)
	}
	if len(cas) == 0 {
		return nil, errors.New("no PEM certificate in the file")
	}
	return cas, nil
}
