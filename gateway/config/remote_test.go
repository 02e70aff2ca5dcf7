package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestRemoteBundles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "token"), []byte("t"), 0o600); err != nil {
		t.Fatal(err)
	}
	parse := func(policy string) (*Config, error) {
		return Parse(filepath.Join(dir, "portcullis.yaml"), []byte(strings.Replace(minimal, "  bundles: [{name: b, path: .}]\n", policy, 1)))
	}
	t.Run("defaults: OPA's polling, persisted beside the file, read from the download", func(t *testing.T) {
		t.Parallel()
		c, err := parse(`  services: [{name: s, url: "https://bundles.example.com/v1", credentials: {bearer: {token_file: token}}}]
  bundles: [{name: authz, url: authz.tar.gz, service: s}, {name: local, path: .}]
`)
		if err != nil {
			t.Fatal(err)
		}
		p := c.Policy
		b := p.Bundles[0]
		if b.Polling != (BundlePolling{MinDelay: time.Minute, MaxDelay: 2 * time.Minute}) || !*b.Persist {
			t.Errorf("bundle %+v", b)
		}
		if want := filepath.Join(dir, ".portcullis", "bundles", "authz", "bundle.tar.gz"); b.File != want {
			t.Errorf("file %q, want %q", b.File, want)
		}
		s := p.Services[0]
		if s.Timeout != 10*time.Second || s.Credentials.Bearer.Scheme != "Bearer" || s.Credentials.Bearer.TokenFile != filepath.Join(dir, "token") {
			t.Errorf("service %+v", s)
		}
		if p.Bundles[1].File != "" || p.Bundles[1].Path != dir {
			t.Errorf("path bundle %+v", p.Bundles[1])
		}
	})
	t.Run("a bundle from an OCI registry names its image", func(t *testing.T) {
		t.Parallel()
		c, err := parse(`  services: [{name: ghcr, url: "https://ghcr.io", type: oci, credentials: {bearer: {token_file: token}}}]
  bundles: [{name: authz, url: ghcr.io/acme/policy:v1, service: ghcr}]
`)
		if err != nil {
			t.Fatal(err)
		}
		if b := c.Policy.Bundles[0]; b.URL != "ghcr.io/acme/policy:v1" || c.Policy.Services[0].Type != "oci" {
			t.Errorf("bundle %+v, service %+v", b, c.Policy.Services[0])
		}
	})
	for _, tc := range []struct{ name, policy, want string }{
		{"path and url", "  bundles: [{name: a, path: ., url: http://h/a.tar.gz}]\n", "policy.bundles[0]: set exactly one of path, url"},
		{"neither", "  bundles: [{name: a}]\n", "policy.bundles[0].path: is required (or url)"},
		{"unknown service", "  bundles: [{name: a, url: a.tar.gz, service: nope}]\n", `policy.bundles[0].service: "nope" is not in policy.services`},
		{"relative without service", "  bundles: [{name: a, url: a.tar.gz}]\n", "policy.bundles[0].url: \"a.tar.gz\" is relative"},
		{"not http", "  bundles: [{name: a, url: \"ftp://h/a\"}]\n", "must be an http or https URL"},
		{"name escapes the directory", "  bundles: [{name: ../x, url: \"http://h/a\"}]\n", "policy.bundles[0].name"},
		{"min above max", "  bundles: [{name: a, url: \"http://h/a\", polling: {min_delay: 5s, max_delay: 2s}}]\n", "policy.bundles[0].polling: min_delay 5s, max_delay 2s"},
		{"fractional seconds", "  bundles: [{name: a, url: \"http://h/a\", polling: {min_delay: 1500ms, max_delay: 2s}}]\n", "delays are whole seconds"},
		{"shadow from a url", "  bundles: [{name: b, path: .}]\n  shadow: {bundles: [{name: c, url: \"http://h/c\"}]}\n", "policy.shadow.bundles[0].url: shadow bundles are read from a path only"},
		{"service without url", "  services: [{name: s}]\n  bundles: [{name: b, path: .}]\n", "policy.services[0].url"},
		{"two credentials", "  services: [{name: s, url: \"http://h\", credentials: {bearer: {token_file: token}, client_tls: {cert_file: token, key_file: token}}}]\n  bundles: [{name: b, path: .}]\n", "policy.services[0].credentials: set at most one of bearer, client_tls"},
		{"missing token file", "  services: [{name: s, url: \"http://h\", credentials: {bearer: {token_file: nope}}}]\n  bundles: [{name: b, path: .}]\n", "policy.services[0].credentials.bearer.token_file"},
		{"status to an unknown service", "  bundles: [{name: b, path: .}]\n  status: {service: nope}\n", `policy.status.service: "nope" is not in policy.services`},
		{"unknown field", "  bundles: [{name: a, url: \"http://h/a\", polling: {min_delay_seconds: 5}}]\n", "min_delay_seconds"},
		{"unknown service type", "  services: [{name: s, url: \"http://h\", type: s3}]\n  bundles: [{name: b, path: .}]\n", `policy.services[0].type: "s3" is not a service type`},
		{"an OCI bundle names an image, not a URL", "  services: [{name: r, url: \"https://ghcr.io\", type: oci}]\n  bundles: [{name: a, url: \"https://ghcr.io/acme/policy:v1\", service: r}]\n", "is not an OCI image reference"},
		{"OCI registries do not long-poll", "  services: [{name: r, url: \"https://ghcr.io\", type: oci}]\n  bundles: [{name: a, url: \"ghcr.io/acme/policy:v1\", service: r, polling: {long_polling_timeout: 10s}}]\n", "OCI registries do not long-poll"},
		{"status to a registry", "  services: [{name: r, url: \"https://ghcr.io\", type: oci}]\n  bundles: [{name: b, path: .}]\n  status: {service: r}\n", "is an OCI registry, which takes no status reports"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := parse(tc.policy)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
}
