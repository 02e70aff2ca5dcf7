package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"time"
)

// profiled wraps phase, the last round of gateway target t, so that a CPU
// profile of the gateway is taken from its /debug/pprof/ meanwhile and
// written to the -profile directory as <key>.pprof (`go tool pprof` reads
// it). The profile covers whole seconds of the phase; the sampling costs the
// gateway a little CPU, so that round reads slightly low.
func (b *bench) profiled(ctx context.Context, t *target, phase func() *outcome) func() *outcome {
	return func() *outcome {
		seconds := max(1, int(b.opts.duration/time.Second))
		done := make(chan error, 1)
		go func() { done <- b.fetchProfile(ctx, t, seconds) }()
		o := phase()
		if err := <-done; err != nil {
			b.progress("%s: no CPU profile: %v", t.title, err)
		}
		return o
	}
}

func (b *bench) fetchProfile(ctx context.Context, t *target, seconds int) error {
	ctx, cancel := context.WithTimeout(ctx, time.Duration(seconds+10)*time.Second)
	defer cancel()
	url := fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", t.admin, seconds)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	dir := b.opts.profile
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(b.root, dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	path := filepath.Join(dir, t.key+".pprof")
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	b.progress("%s: CPU profile of its last round in %s", t.title, path)
	return nil
}
