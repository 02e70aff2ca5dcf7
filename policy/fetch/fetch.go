// Package fetch downloads url bundles with OPA's own downloader
// (v1/download over the v1/plugins/rest client): polling with ETag and
// If-None-Match, long polling where the server offers it, OPA's
// credentials. Every download is handed to an activation callback (the
// gateway's all-or-nothing generation build); only an activated bundle
// becomes the persisted copy a later start-up uses while the server is
// unreachable (OPA's persist).
package fetch

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	opabundle "github.com/open-policy-agent/opa/v1/bundle"
	"github.com/open-policy-agent/opa/v1/download"
	"github.com/open-policy-agent/opa/v1/plugins"
	bundleplugin "github.com/open-policy-agent/opa/v1/plugins/bundle"
	"github.com/rs/zerolog"
)

// CurrentFile is the name, in a source's directory, of the link to its
// last activated download: what the configuration reads the bundle from.
const CurrentFile = "bundle.tar.gz"

// Activate builds and swaps in a generation that reads the bundle from
// file. It calls commit after the build succeeded and before the swap,
// under the same lock as any other build, so that no build in between
// reads an older persisted copy. An error leaves the running generation.
type Activate func(ctx context.Context, file string, commit func() error) error

// Options configure one url bundle.
type Options struct {
	Name string
	// URL is absolute, or relative to Service.URL.
	URL     string
	Service Service
	// Dir holds the downloads of this bundle (persistence_directory/bundles/<name>).
	Dir string
	// Persist keeps the last activated download across restarts.
	Persist bool
	// MinDelay, MaxDelay and LongPoll are OPA's polling, in whole seconds.
	MinDelay, MaxDelay, LongPoll time.Duration
	// MaxBytes caps a download (policy.max_bundle_bytes); the activation
	// checks it again on the whole archive.
	MaxBytes int64
	Activate Activate
	// OnStatus, when set, is called after every change of Status (the
	// OPA status report).
	OnStatus func()
	Logger   zerolog.Logger
	Metrics  *Metrics
}

// downloader is what a Source needs of OPA's two downloaders, the bundle
// protocol's (download.Downloader) and the OCI registry's
// (download.OCIDownloader).
type downloader interface {
	Start(ctx context.Context)
	Stop(ctx context.Context)
	SetCache(etag string)
}

// Source polls one url bundle.
type Source struct {
	opts    Options
	dl      downloader
	started atomic.Bool // OPA's Stop blocks on a downloader never started

	mu     sync.Mutex
	status Status
}

// Status of one url bundle: OPA's bundle status, with the ETag and when
// the next poll is due at the latest.
type Status struct {
	bundleplugin.Status
	URL  string `json:"url"`
	ETag string `json:"etag,omitempty"`
	// Persisted says a copy from an earlier run or download is on disk.
	Persisted bool `json:"persisted"`
	// NextPollBy is the latest time of the next request after a success
	// (OPA waits a random delay in min_delay..max_delay; after an error it
	// backs off up to max_delay).
	NextPollBy time.Time `json:"next_poll_by"`
}

// meta is stored beside the persisted copy, so that the first poll after
// a restart sends its ETag.
type meta struct {
	ETag     string    `json:"etag"`
	Revision string    `json:"revision"`
	File     string    `json:"file"`
	At       time.Time `json:"downloaded_at"`
}

// New prepares the source; it contacts nobody (see Start). A source that
// does not persist forgets earlier downloads now, so a start-up never
// uses them.
func New(opts Options) (*Source, error) {
	if opts.Activate == nil || opts.Dir == "" || opts.MaxBytes <= 0 || opts.Metrics == nil {
		return nil, errors.New("fetch: Activate, Dir, MaxBytes and Metrics are required")
	}
	base, path := opts.Service.URL, opts.URL // an OCI image reference
	if opts.Service.Type != "oci" {
		var err error
		if base, path, err = resolve(opts.Service, opts.URL); err != nil {
			return nil, fmt.Errorf("bundle %s: %w", opts.Name, err)
		}
	}
	client, err := opts.Service.client(base)
	if err != nil {
		return nil, fmt.Errorf("bundle %s: %w", opts.Name, err)
	}
	trigger := plugins.TriggerPeriodic
	minS, maxS := int64(opts.MinDelay/time.Second), int64(opts.MaxDelay/time.Second)
	cfg := download.Config{Trigger: &trigger, Polling: download.PollingConfig{MinDelaySeconds: &minS, MaxDelaySeconds: &maxS}}
	if opts.LongPoll > 0 {
		lp := int64(opts.LongPoll / time.Second)
		cfg.Polling.LongPollingTimeoutSeconds = &lp
	}
	if err := cfg.ValidateAndInjectDefaults(); err != nil {
		return nil, fmt.Errorf("bundle %s polling: %w", opts.Name, err)
	}
	if !opts.Persist {
		if err := os.RemoveAll(opts.Dir); err != nil {
			return nil, fmt.Errorf("bundle %s: %w", opts.Name, err)
		}
	}
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("bundle %s: persistence directory: %w", opts.Name, err)
	}
	s := &Source{opts: opts}
	s.status.Name, s.status.URL, s.status.Type = opts.Name, opts.URL, "snapshot"
	parser := ast.ParserOptions{RegoVersion: ast.RegoV1, ProcessAnnotation: true}
	if opts.Service.Type == "oci" {
		// OPA's OCI downloader keeps the pulled layers in a store of its
		// own, beside the persisted archive.
		s.dl = download.NewOCI(cfg, client, path, filepath.Join(opts.Dir, "oci")).
			WithCallback(s.update).
			WithSizeLimitBytes(opts.MaxBytes).
			WithBundlePersistence(true). // keeps the raw archive (Update.Raw)
			WithBundleParserOpts(parser)
	} else {
		s.dl = download.New(cfg, client, path).
			WithCallback(s.update).
			WithBundleName(opts.Name).
			WithSizeLimitBytes(opts.MaxBytes).
			WithBundlePersistence(true). // keeps the raw archive (Update.Raw)
			WithBundleParserOpts(parser)
	}
	if m, ok := s.readMeta(); ok {
		s.status.Persisted, s.status.ETag, s.status.ActiveRevision = true, m.ETag, m.Revision
		s.dl.SetCache(m.ETag)
	}
	return s, nil
}

// Persisted reports whether a copy to start from is on disk.
func (s *Source) Persisted() bool {
	_, err := os.Stat(filepath.Join(s.opts.Dir, CurrentFile))
	return err == nil
}

// Start polls until Stop.
func (s *Source) Start(ctx context.Context) {
	if !s.started.Swap(true) {
		s.dl.Start(ctx)
	}
}

// Stop ends polling and waits for a running download and activation.
func (s *Source) Stop(ctx context.Context) {
	if s.started.Load() {
		s.dl.Stop(ctx)
	}
}

// Status returns a copy of the source's status.
func (s *Source) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.status
	st.Errors = append([]error(nil), st.Errors...)
	return st
}

// update is the downloader's callback, on its goroutine.
func (s *Source) update(ctx context.Context, u download.Update) error {
	now := time.Now()
	var err error
	var result string
	switch {
	case u.Error != nil:
		err, result = u.Error, "failure"
	case u.Bundle == nil: // 304 Not Modified
		result = "not_modified"
	default:
		if err = s.activate(ctx, u); err != nil {
			result = "refused"
		} else {
			result = "success"
		}
	}
	s.opts.Metrics.observe(s.opts.Name, result, now)
	s.mu.Lock()
	st := &s.status
	st.SetRequest()
	st.NextPollBy = now.Add(s.opts.MaxDelay)
	switch result {
	case "success":
		st.SetDownloadSuccess()
		st.SetActivateSuccess(u.Bundle.Manifest.Revision)
		st.SetBundleSize(u.Size)
		st.SetError(nil)
		st.ETag, st.Persisted = u.ETag, s.opts.Persist
	case "refused":
		st.SetDownloadSuccess()
		st.SetError(err)
		// As OPA's bundle plugin: ask with the active bundle's ETag, so a
		// refusal caused by something else (a configuration being fixed)
		// is retried at the next poll.
		s.dl.SetCache(st.ETag)
	case "not_modified":
		st.LastSuccessfulRequest = st.LastRequest
		st.SetError(nil)
	default:
		st.SetError(err)
		s.dl.SetCache(st.ETag) // OPA's downloader forgets it on an error
	}
	s.mu.Unlock()
	if result == "failure" { // a refused bundle is logged by the activation
		s.opts.Logger.Warn().Err(err).Str("bundle", s.opts.Name).Msg("bundle download failed; the running policy is kept")
	}
	if s.opts.OnStatus != nil {
		s.opts.OnStatus()
	}
	return err
}

// activate writes the download (tmp + rename) under a name of its own
// content, hands it to the activation and, on success, points the
// current link at it and drops older downloads.
func (s *Source) activate(ctx context.Context, u download.Update) error {
	if u.Bundle.Type() != opabundle.SnapshotBundleType {
		return fmt.Errorf("%s bundles are not supported: serve snapshot bundles", u.Bundle.Type())
	}
	if u.Raw == nil {
		return errors.New("download without its archive")
	}
	raw, err := io.ReadAll(io.LimitReader(u.Raw, s.opts.MaxBytes+1))
	if err != nil {
		return err
	}
	if int64(len(raw)) > s.opts.MaxBytes {
		return fmt.Errorf("bundle archive exceeds %d bytes", s.opts.MaxBytes)
	}
	sum := sha256.Sum256(raw)
	name := hex.EncodeToString(sum[:8]) + ".tar.gz"
	m := meta{ETag: u.ETag, Revision: revision(u.Bundle), File: name, At: time.Now().UTC()}
	cur, _ := os.Readlink(filepath.Join(s.opts.Dir, CurrentFile))
	if cur == name { // the running bundle again (a server without ETags, a lost one)
		return s.commit(name, m)
	}
	file := filepath.Join(s.opts.Dir, name)
	if err := writeAtomic(file, raw); err != nil {
		return fmt.Errorf("persist: %w", err)
	}
	if err := s.opts.Activate(ctx, file, func() error { return s.commit(name, m) }); err != nil {
		_ = os.Remove(file)
		return err
	}
	return nil
}

func revision(b *opabundle.Bundle) string {
	if b == nil {
		return ""
	}
	return b.Manifest.Revision
}

// commit points CurrentFile at name (a new link renamed over the old
// one: atomic), writes meta and removes the other downloads.
func (s *Source) commit(name string, m meta) error {
	dir := s.opts.Dir
	tmp := filepath.Join(dir, ".current.tmp")
	_ = os.Remove(tmp)
	if err := os.Symlink(name, tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(dir, CurrentFile)); err != nil {
		return err
	}
	raw, _ := json.Marshal(m)
	if err := writeAtomic(filepath.Join(dir, "meta.json"), raw); err != nil {
		return err
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if n := e.Name(); n != name && n != CurrentFile && n != "meta.json" {
			_ = os.Remove(filepath.Join(dir, n))
		}
	}
	return nil
}

func (s *Source) readMeta() (meta, bool) {
	var m meta
	raw, err := os.ReadFile(filepath.Join(s.opts.Dir, "meta.json"))
	if err != nil || json.Unmarshal(raw, &m) != nil || !s.Persisted() {
		return meta{}, false
	}
	return m, true
}

// writeAtomic writes data to a temporary file beside path, syncs it and
// renames it over path: a crash leaves the old file or the new one.
func writeAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name()) // after a successful rename: nothing to remove
	if _, err := io.Copy(f, bytes.NewReader(data)); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
