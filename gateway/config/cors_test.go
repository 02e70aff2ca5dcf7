package config

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// withEdge is minimal with lines added to its route.
func withEdge(lines string) string {
	return strings.Replace(minimal, "    upstream:", lines+"    upstream:", 1)
}

func TestEdgeErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		yaml string
		want []string
	}{
		{"a wildcard origin with credentials is refused", withEdge("    cors: {allow_origins: ['*'], allow_credentials: true}\n"),
			[]string{`c.yaml:7: routes[0].cors.allow_origins: "*" cannot go with allow_credentials: true (browsers refuse credentials for a wildcard origin): list the origins`}},
		{"a wildcard origin beside others is refused", withEdge("    cors: {allow_origins: ['https://a.example', '*']}\n"),
			[]string{`routes[0].cors.allow_origins[1]: "*" allows every origin and must be the only entry`}},
		{"a CORS section needs origins", withEdge("    cors: {allow_methods: [PUT]}\n"),
			[]string{"routes[0].cors.allow_origins: at least one origin is required"}},
		{"an origin with a path is refused", withEdge("    cors:\n      allow_origins: [https://a.example/]\n"),
			[]string{`c.yaml:8: routes[0].cors.allow_origins[0]: "https://a.example/" is not an origin (want scheme://host[:port], no path, as in "https://app.example.com")`}},
		{"an origin with its default port is refused with the spelling browsers send", withEdge("    cors: {allow_origins: ['https://a.example:443']}\n"),
			[]string{`routes[0].cors.allow_origins[0]: "https://a.example:443" names the default port: browsers leave it out, so write "https://a.example"`}},
		{"the null origin is refused", withEdge("    cors: {allow_origins: ['null']}\n"),
			[]string{`routes[0].cors.allow_origins[0]: "null" cannot be allowed: any sandboxed page or file can send it`}},
		{"a wildcard inside a label is refused", withEdge("    cors: {allow_origins: ['https://a*.example.com', 'https://*.*.example.com', '*://example.com']}\n"),
			[]string{`allow_origins[0]: "https://a*.example.com": host "a*.example.com" is not a DNS name or IP address (only a leading "*." label is a wildcard)`,
				`allow_origins[1]: "https://*.*.example.com": "*.example.com" after the wildcard is not a DNS name`,
				`allow_origins[2]: "*://example.com" is not an origin`}},
		{"a wildcard over a top-level domain is refused", withEdge("    cors: {allow_origins: ['https://*.com']}\n"),
			[]string{`allow_origins[0]: "https://*.com" would allow every name under the top-level domain "com"`}},
		{"methods are upper-case tokens", withEdge("    cors: {allow_origins: ['http://localhost:3000'], allow_methods: [put, '*']}\n"),
			[]string{`routes[0].cors.allow_methods[0]: "put" is not an upper-case HTTP method`, `routes[0].cors.allow_methods[1]: "*" is not an upper-case HTTP method`}},
		{"headers are names, not a wildcard", withEdge("    cors: {allow_origins: ['http://localhost:3000'], allow_headers: ['X Bad'], expose_headers: ['*']}\n"),
			[]string{`routes[0].cors.allow_headers[0]: "X Bad" is not a header name (list the names; "*" is not supported)`, `routes[0].cors.expose_headers[0]: "*" is not a header name`}},
		{"a max age beyond what browsers keep is refused", withEdge("    cors: {allow_origins: ['http://localhost:3000'], max_age: 48h}\n"),
			[]string{"routes[0].cors.max_age: 48h0m0s is out of range (want 0..24h; browsers ignore more)"}},
		{"IP lists take CIDRs and addresses", withEdge("    ip_allow: [10.0.0.0/8, office]\n    ip_deny: ['2001:db8::/129']\n"),
			[]string{`c.yaml:7: routes[0].ip_allow[1]: "office" is not a CIDR or IP address`, `routes[0].ip_deny[0]: "2001:db8::/129" is not a CIDR or IP address`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse(filepath.Join(dir, "c.yaml"), []byte(tc.yaml))
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error\n%s\nlacks %q", err, w)
				}
			}
		})
	}
}

func TestEdgeSchemaDecodes(t *testing.T) {
	t.Parallel()
	c, err := Parse(filepath.Join(t.TempDir(), "c.yaml"), []byte(withEdge(`    cors:
      allow_origins: ["http://localhost:3000", "https://*.example.com"]
      allow_methods: [GET, POST]
      allow_headers: [Authorization, Content-Type]
      expose_headers: [X-Request-Id]
      allow_credentials: false
      max_age: 10m
    ip_allow: ["10.0.0.0/8", "2001:db8::/32", "192.0.2.7"]
    ip_deny: ["192.0.2.0/24"]
`)))
	if err != nil {
		t.Fatal(err)
	}
	r := c.Routes[0]
	if r.CORS == nil || len(r.CORS.AllowOrigins) != 2 || r.CORS.MaxAge != 10*time.Minute || len(r.IPAllow) != 3 || len(r.IPDeny) != 1 {
		t.Fatalf("decoded %+v, cors %+v", r, r.CORS)
	}
}
