package envoygateway

import (
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/migrate"
	"github.com/portcullis/portcullis/internal/migrate/migratetest"
)

const route = `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: api, namespace: prod}
spec:
  hostnames: [a.example, b.example]
  rules:
    - matches:
        - path: {type: PathPrefix, value: /api}
        - path: {type: Exact, value: /health}
          method: GET
        - path: {type: RegularExpression, value: "/x.*"}
        - path: {value: /h}
          headers: [{name: x, value: y}]
      backendRefs:
        - {name: backend, port: 8080}
      filters: [{type: RequestHeaderModifier}]
`

func TestHTTPRoute(t *testing.T) {
	t.Parallel()
	p, err := Import([]migrate.Input{{Name: "r.yaml", Data: []byte(route)}})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range p.Routes {
		got = append(got, r.Name+" "+r.PathPrefix+r.Path+" "+strings.Join(r.Methods, ",")+" "+strings.Join(r.Hosts, ",")+" "+r.Upstreams[0])
	}
	want := "api-1-1 /api  a.example,b.example http://backend.prod:8080; " +
		"api-1-2 /health GET a.example,b.example http://backend.prod:8080; " +
		"api-1-4 /h  a.example,b.example http://backend.prod:8080"
	if g := strings.Join(got, "; "); g != want {
		t.Errorf("routes\n%s\nwant\n%s", g, want)
	}
	for _, spec := range []string{"matches.path=not mapped@11", "matches.headers=not mapped@13", "rules.filters=not mapped@16"} {
		if !migratetest.Has(p, spec) {
			t.Errorf("no %s:\n%s", spec, migratetest.Dump(p))
		}
	}
}

func TestSecurityPolicy(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		policy string
		check  func(t *testing.T, p *migrate.Plan)
		report string
	}{
		{
			name: "jwt provider becomes an issuer for the targeted routes only",
			policy: `apiVersion: gateway.envoyproxy.io/v1alpha1
kind: SecurityPolicy
metadata: {name: jwt, namespace: prod}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: HTTPRoute, name: api}]
  jwt:
    providers:
      - name: p
        issuer: https://idp.example
        audiences: [api]
        remoteJWKS: {uri: "https://idp.example/jwks", cacheDuration: 300s}
        claimToHeaders: [{claim: sub, header: x-user-id}]
`,
			check: func(t *testing.T, p *migrate.Plan) {
				is := p.Issuer("https://idp.example")
				if is == nil || is.JWKSURI != "https://idp.example/jwks" || is.Refresh != 5*time.Minute || is.ClaimsToHdr["sub"] != "X-User-Id" || is.Audiences[0] != "api" {
					t.Fatalf("issuer %+v", is)
				}
				for _, r := range p.Routes {
					if strings.Join(r.Authn, ",") != "jwt" || strings.Join(r.Issuers, ",") != "https://idp.example" {
						t.Errorf("route %s authn %v issuers %v", r.Name, r.Authn, r.Issuers)
					}
				}
			},
			report: "jwt.providers.p.exp=differs@8",
		},
		{
			name: "a target that is not in the input is reported",
			policy: `kind: SecurityPolicy
metadata: {name: jwt, namespace: other}
spec:
  targetRefs: [{kind: HTTPRoute, name: api}]
`,
			report: "targetRefs=not mapped@4",
		},
		{
			name: "extractFrom and optional are reported",
			policy: `kind: SecurityPolicy
metadata: {name: jwt, namespace: prod}
spec:
  targetRef: {kind: HTTPRoute, name: api}
  jwt:
    optional: true
    providers:
      - name: p
        issuer: i
        remoteJWKS: {uri: "https://i/jwks"}
        extractFrom: {headers: [{name: X-Token}]}
`,
			report: "jwt.providers.p.extractFrom=not mapped@11",
		},
		{
			name: "other security features are reported",
			policy: `kind: SecurityPolicy
metadata: {name: s, namespace: prod}
spec:
  targetRefs: [{kind: HTTPRoute, name: api}]
  basicAuth: {users: {name: htpasswd}}
`,
			report: "basicAuth=not mapped@5",
		},
		{
			name: "a provider without remoteJWKS is reported",
			policy: `kind: SecurityPolicy
metadata: {name: s, namespace: prod}
spec:
  targetRefs: [{kind: HTTPRoute, name: api}]
  jwt:
    providers:
      - name: local
        issuer: i
        localJWKS: {type: Inline}
`,
			report: "jwt.providers.local=not mapped@7",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p, err := Import([]migrate.Input{{Name: "p.yaml", Data: []byte(tc.policy)}, {Name: "r.yaml", Data: []byte(route)}})
			if err != nil {
				t.Fatal(err)
			}
			if tc.check != nil {
				tc.check(t, p)
			}
			if !migratetest.Has(p, tc.report) {
				t.Errorf("no %s:\n%s", tc.report, migratetest.Dump(p))
			}
		})
	}
}

func TestNotEnvoyGateway(t *testing.T) {
	t.Parallel()
	if _, err := Import([]migrate.Input{{Name: "x.yaml", Data: []byte("kind: Deployment\n")}}); err == nil {
		t.Error("no error for input without SecurityPolicy or HTTPRoute")
	}
}
