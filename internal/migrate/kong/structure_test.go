package kong

import (
	"strings"
	"testing"

	"github.com/portcullis/portcullis/gateway/authn/apikey"
	"github.com/portcullis/portcullis/internal/migrate"
	"github.com/portcullis/portcullis/internal/migrate/migratetest"
)

func TestConsumers(t *testing.T) {
	t.Parallel()
	src := `_format_version: "3.0"
consumers:
  - username: partner
    acls:
      - group: read
    keyauth_credentials:
      - key: secret-key-1
        id: k1
      - key: secret-key-2
        ttl: 60
    jwt_secrets:
      - algorithm: HS256
        key: https://hs.example
        secret: hmac-secret-of-thirty-two-bytes-or-more
  - username: other
    jwt_secrets:
      - key: https://hs.example
        secret: x
      - algorithm: RS256
        key: https://rs.example
        rsa_public_key: not a key
    basicauth_credentials:
      - username: u
        password: p
    plugins:
      - name: rate-limiting
        config: {minute: 1}
jwt_secrets:
  - consumer: partner
    algorithm: RS256
    key: https://top.example
    rsa_public_key: |
      -----BEGIN PUBLIC KEY-----
      AAAA
      -----END PUBLIC KEY-----
`
	p := migratetest.Import(t, Import, "kong.yaml", src)
	c := p.Consumer("partner")
	if strings.Join(c.Groups, ",") != "read" || len(c.Keys) != 2 || c.Keys[0].ID != "k1" || c.Keys[1].ID != "partner-2" {
		t.Fatalf("consumer %+v", c)
	}
	if c.Keys[0].Hash != apikey.Hash("secret-key-1") {
		t.Errorf("key hash %s", c.Keys[0].Hash)
	}
	if strings.Join(c.Issuers, ",") != "https://hs.example,https://top.example" {
		t.Errorf("issuers %v", c.Issuers)
	}
	hs := p.Issuer("https://hs.example")
	if hs == nil || hs.Secret != "hmac-secret-of-thirty-two-bytes-or-more" || hs.SecretName == "" || hs.Consumer != "partner" {
		t.Errorf("hs issuer %+v", hs)
	}
	for _, want := range []string{
		"consumers.partner.keyauth_credentials.ttl=not mapped@10",
		"consumers.other.jwt_secrets=not mapped@17",
		"consumers.other.jwt_secrets=not mapped@21",
		"consumers.other.basicauth_credentials=not mapped@22",
		"consumers.other.plugins.rate-limiting=not mapped@26",
	} {
		if !migratetest.Has(p, want) {
			t.Errorf("no %s in\n%s", want, migratetest.Dump(p))
		}
	}
	for _, it := range p.Report {
		for _, secret := range []string{"secret-key-1", "secret-key-2", "hmac-secret-of-thirty-two-bytes-or-more"} {
			if strings.Contains(it.Detail, secret) || strings.Contains(it.What, secret) {
				t.Errorf("report item %+v holds a secret", it)
			}
		}
	}
}

func TestRoutes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		src    string
		routes string // name prefix strip; ...
		report string
	}{
		{
			name:   "strip_path defaults to true",
			src:    "services:\n  - name: s\n    url: http://b:80\n    routes:\n      - name: r\n        paths: [/a]\n",
			routes: "r /a strip=/a",
		},
		{
			name:   "several paths give several routes, a regex path is not mapped",
			src:    "services:\n  - name: s\n    url: http://b:80\n    routes:\n      - name: r\n        strip_path: false\n        paths: [/a, /b, \"~/c$\"]\n",
			routes: "r-1 /a strip=; r-2 /b strip=", report: "routes.r.paths=not mapped@7",
		},
		{
			name:   "a top-level route names its service",
			src:    "services:\n  - name: s\n    host: b\n    port: 9000\nroutes:\n  - name: top\n    service: {name: s}\n    paths: [/t]\n    strip_path: false\n",
			routes: "top /t strip= up=http://b:9000",
		},
		{
			name:   "a service path is reported",
			src:    "services:\n  - name: s\n    url: http://b:80/v2\n    routes:\n      - paths: [/a]\n        strip_path: false\n",
			routes: "s-route /a strip=", report: "services.s.url=not mapped@3",
		},
		{
			name:   "upstream targets become the route's upstreams",
			src:    "upstreams:\n  - name: pool\n    targets:\n      - target: 10.0.0.1:80\n      - target: 10.0.0.2:80\nservices:\n  - name: s\n    url: http://pool\n    routes:\n      - paths: [/]\n",
			routes: "s-route / strip= up=http://10.0.0.1:80,http://10.0.0.2:80",
		},
		{
			name:   "a route of an unknown service is not mapped",
			src:    "routes:\n  - name: lost\n    service: nowhere\n    paths: [/x]\n",
			report: "routes.lost=not mapped@2",
		},
		{
			name:   "route headers matching is not mapped",
			src:    "services:\n  - name: s\n    url: http://b:80\n    routes:\n      - name: r\n        paths: [/a]\n        headers: {x: [y]}\n",
			routes: "r /a strip=/a", report: "routes.r.headers=not mapped@7",
		},
		{
			name:   "an unknown top-level section is reported",
			src:    "_format_version: \"3.0\"\nvaults:\n  - name: env\n",
			report: "vaults=not mapped@2",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := migratetest.Import(t, Import, "kong.yaml", tc.src)
			var got []string
			for _, r := range p.Routes {
				s := r.Name + " " + r.PathPrefix + " strip=" + r.StripPrefix
				if strings.Contains(tc.routes, "up=") {
					s += " up=" + strings.Join(r.Upstreams, ",")
				}
				got = append(got, s)
			}
			if g := strings.Join(got, "; "); g != tc.routes {
				t.Errorf("routes %q, want %q", g, tc.routes)
			}
			if tc.report != "" {
				if !migratetest.Has(p, tc.report) {
					t.Errorf("no %s in\n%s", tc.report, migratetest.Dump(p))
				}
			}
		})
	}
}

func TestPluginPrecedence(t *testing.T) {
	t.Parallel()
	src := `plugins:
  - name: request-size-limiting
    config: {allowed_payload_size: 1}
  - name: request-size-limiting
    service: s
    config: {allowed_payload_size: 2}
  - name: request-size-limiting
    service: s
    config: {allowed_payload_size: 9}
  - name: bot-detection
    consumer: c
services:
  - name: s
    url: http://b:80
    routes:
      - name: plain
        paths: [/p]
      - name: own
        paths: [/o]
        plugins:
          - name: request-size-limiting
            config: {allowed_payload_size: 3}
  - name: t
    url: http://b:80
    routes:
      - name: other
        paths: [/x]
`
	p := migratetest.Import(t, Import, "kong.yaml", src)
	got := map[string]int64{}
	for _, r := range p.Routes {
		got[r.Name] = r.MaxBodyBytes >> 20
	}
	if got["plain"] != 2 || got["own"] != 3 || got["other"] != 1 {
		t.Errorf("limits in MiB %v, want plain 2 (service), own 3 (route), other 1 (global)", got)
	}
	if !migratetest.Has(p, "plugins.request-size-limiting=not mapped@7") {
		t.Errorf("duplicate not reported:\n%s", migratetest.Dump(p))
	}
	if !migratetest.Has(p, "plugins.bot-detection=not mapped@10") {
		t.Errorf("consumer plugin not reported:\n%s", migratetest.Dump(p))
	}
}

func TestNotKong(t *testing.T) {
	t.Parallel()
	for _, src := range []string{"- a\n- b\n", "kind: HTTPRoute\n", "{{{"} {
		if _, err := Import([]migrate.Input{{Name: "x.yaml", Data: []byte(src)}}); err == nil {
			t.Errorf("%q: no error", src)
		}
	}
}
