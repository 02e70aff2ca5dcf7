package engine

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/portcullis/portcullis/policy"
	"github.com/portcullis/portcullis/policy/bundle"
)

// writeFiles writes files (path relative to dir) and returns dir.
func writeFiles(t testing.TB, dir string, files map[string]string) string {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// authzBundle is a bundle rooted at portcullis whose authz.rego holds body.
func authzBundle(t testing.TB, revision, body string) string {
	t.Helper()
	return writeFiles(t, t.TempDir(), map[string]string{
		".manifest":  `{"revision": "` + revision + `", "roots": ["portcullis"]}`,
		"authz.rego": "package portcullis.authz\n\n" + body + "\n",
	})
}

func newEngine(t testing.TB, opts Options) *Engine {
	t.Helper()
	if opts.Timeout == 0 {
		opts.Timeout = 10 * time.Second // loaded CI machines; no timing assertions
	}
	e, err := New(context.Background(), withRules(opts))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return e
}

// withRules sets the rules and the bundle cap that opts leaves empty (the
// gateway passes its configuration's).
func withRules(opts Options) Options {
	if opts.Query == "" {
		opts.Query = "data.portcullis.authz.decision"
	}
	if opts.MaskRule == "" {
		opts.MaskRule, opts.DropRule = "data.system.log.mask", "data.system.log.drop"
	}
	if opts.Timeout == 0 {
		opts.Timeout = 10 * time.Second
	}
	if opts.MaxBundleBytes == 0 {
		opts.MaxBundleBytes = 1 << 30
	}
	return opts
}

func sources(paths ...string) []bundle.Source {
	out := make([]bundle.Source, len(paths))
	for i, p := range paths {
		out[i] = bundle.Source{Path: p}
	}
	return out
}

// typicalInput is a JWT-authenticated GET on the users API.
func typicalInput() *policy.Input {
	return &policy.Input{
		Request: policy.Request{
			ID: "req-1", Method: "GET", WireMethod: "GET", Port: 443, Path: "/api/v1/users", Segments: []string{"api", "v1", "users"},
			Host: "api.example.com", Scheme: "https",
			Query:      map[string][]string{"page": {"2"}},
			Headers:    map[string]string{"accept": "application/json", "user-agent": "curl/8.5"},
			RemoteAddr: "192.0.2.7:51234", ClientIP: "192.0.2.7",
		},
		Route: policy.Route{Name: "users", OperationID: "listUsers", PathParams: map[string]string{}, Tags: []string{"users"}},
		Identity: &policy.Identity{
			Authenticated: true, Method: policy.MethodJWT, Subject: "alice", Issuer: "https://auth.example.com",
			Groups: []string{"user-group"}, Scopes: []string{"users:read"},
			Claims: map[string]any{"sub": "alice", "role": "user", "exp": 1.7e9},
			KeyID:  "k1",
		},
		Validation: policy.Validation{Ran: true, Valid: true},
	}
}

const exampleBundle = "../../bundles/portcullis"
