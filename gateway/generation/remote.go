package generation

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/portcullis/portcullis/gateway/config"
	"github.com/portcullis/portcullis/policy/bundle"
	"github.com/portcullis/portcullis/policy/engine"
)

// pendingBundles are the url bundles with nothing to read yet: never
// downloaded and none persisted.
func pendingBundles(cfg *config.Config) []string {
	var names []string
	for _, b := range cfg.Policy.Bundles {
		if b.URL == "" {
			continue
		}
		if _, err := os.Stat(b.File); err != nil {
			names = append(names, b.Name)
		}
	}
	return names
}

// closeUntilDownloaded sets Pending and, when a url bundle is pending,
// gives eo the closed policy. The returned func removes what check wrote.
func (b *builder) closeUntilDownloaded(eo *engine.Options) func() {
	cfg, g := b.cfg, b.g
	if g.Pending = pendingBundles(cfg); g.Pending == nil {
		return func() {}
	}
	eo.RequireTests, eo.Signing = false, nil
	dir := filepath.Join(cfg.Policy.PersistenceDirectory, "closed")
	cleanup := func() {}
	var err error
	if b.opts.Check { // check writes nothing of the gateway's
		if dir, err = os.MkdirTemp("", "portcullis-check-"); err == nil {
			cleanup = func() { _ = os.RemoveAll(dir) }
		}
	}
	if err == nil {
		eo.Sources, err = closedSources(cfg, dir)
	}
	if err != nil {
		b.fail(fmt.Errorf("policy: %w", err))
	}
	return cleanup
}

// closedSources is the policy of a generation that waits for a url
// bundle: its decision rule denies. It exists so that the generation can
// be built and answer /readyz and /v1/status; requests are refused before
// it is evaluated (Accepting). It is written into dir.
func closedSources(cfg *config.Config, dir string) ([]bundle.Source, error) {
	ref := strings.TrimPrefix(cfg.Policy.Decision, "data.")
	i := strings.LastIndexByte(ref, '.')
	if i < 0 {
		return nil, fmt.Errorf("policy.decision %s: want a rule inside a package", cfg.Policy.Decision)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	mod := fmt.Sprintf("package %s\n\n# Written by Portcullis while no url bundle is downloaded yet.\n%s := {\"allow\": false}\n", ref[:i], ref[i+1:])
	if err := os.WriteFile(filepath.Join(dir, "closed.rego"), []byte(mod), 0o600); err != nil {
		return nil, err
	}
	return []bundle.Source{{Name: "closed", Path: dir}}, nil
}
