package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// tlsRoute is a route to upstream with the tls block given (YAML flow
// mapping), as a whole configuration.
func tlsRoute(upstream, block string) string {
	return "policy:\n  bundles: [{name: b, path: .}]\nroutes:\n  - name: r\n    match: {path_prefix: /}\n" +
		"    upstream: " + upstream + "\n    tls: " + block + "\n"
}

func TestUpstreamTLSDefaultsAndPaths(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, f := range []string{"ca.pem", "c.pem", "k.pem"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	c, err := Parse(filepath.Join(dir, "c.yaml"), []byte(tlsRoute("https://b.internal", "{ca_file: ca.pem, cert_file: c.pem, key_file: k.pem}")))
	if err != nil {
		t.Fatal(err)
	}
	got := *c.Routes[0].TLS
	want := UpstreamTLS{CAFile: filepath.Join(dir, "ca.pem"), MinVersion: "1.2", CertFile: filepath.Join(dir, "c.pem"), KeyFile: filepath.Join(dir, "k.pem")}
	if got != want {
		t.Fatalf("tls = %+v, want %+v", got, want)
	}
	c, err = Parse(filepath.Join(dir, "c.yaml"), []byte(minimal))
	if err != nil {
		t.Fatal(err)
	}
	if c.Routes[0].TLS != nil {
		t.Fatalf("a route without tls got %+v", c.Routes[0].TLS)
	}
}

func TestUpstreamTLSErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "c.pem"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, upstream, block string
		want                  []string
	}{
		{"tls on an http upstream is refused", "http://b.internal", "{min_version: '1.3'}",
			[]string{`c.yaml:7: routes[0].tls: is set but upstream "http://b.internal" is http (want https)`}},
		{"an unknown version is refused", "https://b.internal", "{min_version: '1.1'}",
			[]string{`routes[0].tls.min_version: "1.1" is not allowed (want "1.2", "1.3")`}},
		{"an empty version is refused", "https://b.internal", "{min_version: ''}",
			[]string{`routes[0].tls.min_version: "" is not allowed`}},
		{"a certificate needs its key", "https://b.internal", "{cert_file: c.pem}",
			[]string{"routes[0].tls.cert_file: cert_file and key_file go together"}},
		{"a key needs its certificate", "https://b.internal", "{key_file: c.pem}",
			[]string{"routes[0].tls.cert_file: cert_file and key_file go together"}},
		{"a missing CA file is named", "https://b.internal", "{ca_file: nope.pem}",
			[]string{"routes[0].tls.ca_file: stat " + filepath.Join(dir, "nope.pem") + ": no such file or directory"}},
		{"a missing key file is named", "https://b.internal", "{cert_file: c.pem, key_file: k.pem}",
			[]string{"routes[0].tls.key_file: stat " + filepath.Join(dir, "k.pem")}},
		{"a server name with a port is refused", "https://b.internal", "{server_name: 'b.internal:443'}",
			[]string{`routes[0].tls.server_name: "b.internal:443" is not a host name`}},
		{"a server name with a scheme is refused", "https://b.internal", "{server_name: 'https://b.internal'}",
			[]string{`routes[0].tls.server_name: "https://b.internal" is not a host name`}},
		{"an unknown field is refused", "https://b.internal", "{insecure_skip_verify: true}",
			[]string{"routes[0].tls.insecure_skip_verify: unknown field"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse(filepath.Join(dir, "c.yaml"), []byte(tlsRoute(tc.upstream, tc.block)))
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error\n%s\nlacks %q", err, w)
				}
			}
		})
	}
}

func TestUpstreamTLSAccepted(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, tc := range []struct{ name, upstream, block string }{
		{"an empty block on https", "https://b.internal", "{}"},
		{"TLS 1.3 and a server name", "https://10.0.0.7:8443", "{min_version: '1.3', server_name: users.internal}"},
		{"an IPv6 server name", "https://[::1]:8443", "{server_name: '::1'}"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if _, err := Parse(filepath.Join(dir, "c.yaml"), []byte(tlsRoute(tc.upstream, tc.block))); err != nil {
				t.Fatal(err)
			}
		})
	}
}
