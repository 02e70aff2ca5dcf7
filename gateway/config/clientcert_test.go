package config

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestClientCertSettings(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	route := func(methods string) string {
		return "routes:\n  - name: r\n    match: {path_prefix: /}\n    upstream: http://127.0.0.1:1\n    authn: {methods: [" + methods + "]}\n"
	}
	for _, tc := range []struct {
		name, yaml string
		want       []string
	}{
		{"client_auth is request or require", "listen: {client_auth: always}\n" + minimal,
			[]string{`c.yaml:1: listen.client_auth: "always" is not allowed (want "request", "require")`}},
		{"a client CA needs TLS", "listen: {tls_client_ca_file: ca.pem}\n" + minimal,
			[]string{"listen.tls_client_ca_file: needs listen.tls_cert_file"}},
		{"client_cert needs the client CA file", route("client_cert"),
			[]string{"routes[0].authn.methods[0]: client_cert needs listen.tls_client_ca_file"}},
		{"client_cert is a method", route("client_certificate"),
			[]string{`routes[0].authn.methods[0]: "client_certificate" is not allowed (want "jwt", "introspection", "api_key", "client_cert")`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse(filepath.Join(dir, "c.yaml"), []byte(tc.yaml))
			for _, w := range tc.want {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("error\n%v\nlacks %q", err, w)
				}
			}
		})
	}
	c, err := Parse(filepath.Join(dir, "c.yaml"), []byte(minimal))
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen.ClientAuth != "request" || c.Authn.ClientCerts.DataPath != "portcullis.client_certs" {
		t.Fatalf("defaults: client_auth %q, data_path %q", c.Listen.ClientAuth, c.Authn.ClientCerts.DataPath)
	}
}
