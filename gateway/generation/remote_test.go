package generation

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/rs/zerolog"

	"github.com/portcullis/portcullis/gateway/config"
	"github.com/portcullis/portcullis/gateway/problem"
)

// A url bundle never downloaded builds a generation that is not ready and
// refuses every request; check writes nothing for it.
func TestPendingURLBundleIsClosed(t *testing.T) {
	dir := t.TempDir()
	cfg, err := config.Parse(filepath.Join(dir, "portcullis.yaml"), []byte(`
policy:
  require_tests: true
  bundles: [{name: authz, url: "http://127.0.0.1:1/authz.tar.gz"}]
routes:
  - {name: r, match: {path_prefix: /}, upstream: "http://127.0.0.1:9000", authn: {anonymous: true}}
`))
	if err != nil {
		t.Fatal(err)
	}
	if errs := Check(context.Background(), cfg); len(errs) > 0 {
		t.Fatalf("check: %v", errs)
	}
	if _, err := os.Stat(cfg.Policy.PersistenceDirectory); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("check wrote %s: %v", cfg.Policy.PersistenceDirectory, err)
	}
	g, err := Build(context.Background(), cfg, nil, Options{Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close(context.Background())
	if len(g.Pending) != 1 || g.Ready() == nil {
		t.Errorf("pending %v, ready %v", g.Pending, g.Ready())
	}
	p, ok := errors.AsType[*problem.Problem](g.Accepting())
	if !ok || p.Reason != "policy_unavailable" || p.Status != 503 {
		t.Errorf("accepting: %v", g.Accepting())
	}
}
