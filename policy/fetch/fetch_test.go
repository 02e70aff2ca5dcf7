package fetch

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

func tarball(t *testing.T, revision, extra string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for name, content := range map[string]string{
		"/.manifest":  `{"revision": "` + revision + `", "roots": ["p"]}`,
		"/authz.rego": "package p\n\ndecision := {\"allow\": true}\n" + extra,
	} {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(content)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(content)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// bundleServer serves one bundle with an ETag and answers If-None-Match
// with 304, as nginx does; it records the requests' headers.
type bundleServer struct {
	*httptest.Server
	mu       sync.Mutex
	body     []byte
	etag     string
	longPoll bool
	headers  []http.Header
}

func newBundleServer(t *testing.T, body []byte, etag string) *bundleServer {
	bs := &bundleServer{body: body, etag: etag}
	bs.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		bs.mu.Lock()
		bs.headers = append(bs.headers, r.Header.Clone())
		body, etag, lp := bs.body, bs.etag, bs.longPoll
		bs.mu.Unlock()
		if lp {
			w.Header().Set("Content-Type", "application/vnd.openpolicyagent.bundles")
		}
		if r.Header.Get("If-None-Match") == etag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("ETag", etag)
		_, _ = w.Write(body)
	}))
	t.Cleanup(bs.Close)
	return bs
}

func (bs *bundleServer) set(body []byte, etag string) {
	bs.mu.Lock()
	bs.body, bs.etag = body, etag
	bs.mu.Unlock()
}

func (bs *bundleServer) requests() []http.Header {
	bs.mu.Lock()
	defer bs.mu.Unlock()
	return append([]http.Header(nil), bs.headers...)
}

// activations records the files handed to Activate; refuse makes it fail.
type activations struct {
	mu     sync.Mutex
	files  []string
	refuse error
}

func (a *activations) activate(_ context.Context, file string, commit func() error) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, err := os.Stat(file); err != nil {
		return err
	}
	a.files = append(a.files, file)
	if a.refuse != nil {
		return a.refuse
	}
	return commit()
}

func (a *activations) count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.files)
}

func newSource(t *testing.T, dir string, a *activations, mod func(*Options)) *Source {
	t.Helper()
	o := Options{Name: "authz", Dir: dir, Persist: true, MinDelay: time.Second, MaxDelay: time.Second,
		MaxBytes: 1 << 20, Activate: a.activate, Logger: zerolog.Nop(), Metrics: NewMetrics(nil)}
	mod(&o)
	s, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 10s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func run(t *testing.T, s *Source) {
	ctx, cancel := context.WithCancel(context.Background())
	s.Start(ctx)
	t.Cleanup(func() { s.Stop(ctx); cancel() })
}

func TestETagAndPersistence(t *testing.T) {
	t.Parallel()
	bs := newBundleServer(t, tarball(t, "r1", ""), `"e1"`)
	dir := filepath.Join(t.TempDir(), "authz")
	a := &activations{}
	s := newSource(t, dir, a, func(o *Options) { o.URL = bs.URL + "/b/authz.tar.gz" })
	if s.Persisted() {
		t.Fatal("persisted before any download")
	}
	run(t, s)
	eventually(t, "a 304 after the first download", func() bool {
		for _, h := range bs.requests() {
			if h.Get("If-None-Match") == `"e1"` {
				return true
			}
		}
		return false
	})
	if n := a.count(); n != 1 {
		t.Errorf("%d activations, want 1 (304 activates nothing)", n)
	}
	st := s.Status()
	if st.ActiveRevision != "r1" || st.ETag != `"e1"` || !st.Persisted || st.Code != "" {
		t.Errorf("status %+v", st)
	}
	if !s.Persisted() {
		t.Fatal("not persisted after activation")
	}
	s.Stop(context.Background())

	// A restart sends the persisted ETag at once: nothing is downloaded.
	before := len(bs.requests())
	a2 := &activations{}
	s2 := newSource(t, dir, a2, func(o *Options) { o.URL = bs.URL + "/b/authz.tar.gz" })
	if st := s2.Status(); !st.Persisted || st.ActiveRevision != "r1" {
		t.Errorf("restart status %+v", st)
	}
	run(t, s2)
	eventually(t, "a request after restart", func() bool { return len(bs.requests()) > before })
	if h := bs.requests()[before]; h.Get("If-None-Match") != `"e1"` {
		t.Errorf("first request after restart If-None-Match %q", h.Get("If-None-Match"))
	}
	time.Sleep(100 * time.Millisecond)
	if a2.count() != 0 {
		t.Error("the persisted bundle was downloaded again")
	}
}

func TestRefusedKeepsPersisted(t *testing.T) {
	t.Parallel()
	bs := newBundleServer(t, tarball(t, "r1", ""), `"e1"`)
	dir := filepath.Join(t.TempDir(), "authz")
	a := &activations{}
	s := newSource(t, dir, a, func(o *Options) { o.URL = bs.URL + "/authz.tar.gz" })
	run(t, s)
	eventually(t, "r1 active", func() bool { return s.Status().ActiveRevision == "r1" })
	good, _ := os.Readlink(filepath.Join(dir, CurrentFile))

	a.mu.Lock()
	a.refuse = errors.New("compile error")
	a.mu.Unlock()
	bs.set(tarball(t, "r2", "# parses, and the activation refuses it"), `"e2"`)
	eventually(t, "r2 refused twice (retried with the active ETag)", func() bool { return a.count() >= 3 })
	st := s.Status()
	if st.ActiveRevision != "r1" || st.ETag != `"e1"` || st.Code != "bundle_error" || !strings.Contains(st.Message, "compile error") {
		t.Errorf("after refusal: %+v", st)
	}
	if cur, _ := os.Readlink(filepath.Join(dir, CurrentFile)); cur != good {
		t.Errorf("persisted copy replaced by a refused bundle: %s, want %s", cur, good)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 3 { // current link, its file, meta.json
		t.Errorf("refused downloads left behind: %v", ents)
	}
}

func TestOversizedRefused(t *testing.T) {
	t.Parallel()
	bs := newBundleServer(t, tarball(t, "r1", "# "+strings.Repeat("x", 4000)), `"e1"`)
	a := &activations{}
	s := newSource(t, filepath.Join(t.TempDir(), "authz"), a, func(o *Options) {
		o.URL, o.MaxBytes = bs.URL+"/authz.tar.gz", 1000
	})
	run(t, s)
	eventually(t, "an error", func() bool { return s.Status().Code != "" })
	if a.count() != 0 || s.Persisted() {
		t.Errorf("oversized bundle activated or persisted: %+v", s.Status())
	}
}

func TestBearerHeadersAndLongPoll(t *testing.T) {
	t.Parallel()
	bs := newBundleServer(t, tarball(t, "r1", ""), `"e1"`)
	bs.longPoll = true
	tok := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tok, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	a := &activations{}
	s := newSource(t, filepath.Join(t.TempDir(), "authz"), a, func(o *Options) {
		o.URL, o.LongPoll = "bundles/authz.tar.gz", 5*time.Second
		o.Service = Service{Name: "svc", URL: bs.URL + "/v1", Headers: map[string]string{"X-Tenant": "acme"},
			BearerTokenFile: tok, BearerScheme: "Bearer", Timeout: 10 * time.Second}
	})
	run(t, s)
	eventually(t, "two requests", func() bool { return len(bs.requests()) >= 2 })
	h := bs.requests()[1]
	if got := h.Get("Authorization"); got != "Bearer s3cret" {
		t.Errorf("Authorization %q", got)
	}
	if got := h.Get("X-Tenant"); got != "acme" {
		t.Errorf("X-Tenant %q", got)
	}
	if got := h.Get("Prefer"); !strings.Contains(got, "wait=5") {
		t.Errorf("Prefer %q, want a long poll", got)
	}
}

func TestNoPersistForgets(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "authz")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "x.tar.gz"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("x.tar.gz", filepath.Join(dir, CurrentFile)); err != nil {
		t.Fatal(err)
	}
	s := newSource(t, dir, &activations{}, func(o *Options) { o.URL, o.Persist = "http://127.0.0.1:1/b.tar.gz", false })
	if s.Persisted() {
		t.Error("persist: false started from an earlier download")
	}
}

func TestResolve(t *testing.T) {
	for _, tc := range []struct {
		svc, url, base, path string
		err                  bool
	}{
		{"", "http://h:1/a/b.tar.gz?x=1", "http://h:1", "/a/b.tar.gz?x=1", false},
		{"https://s/v1/", "bundles/a.tar.gz", "https://s/v1", "bundles/a.tar.gz", false},
		{"https://s/v1", "https://other/b", "https://other", "/b", false},
		{"", "bundles/a.tar.gz", "", "", true},
	} {
		base, path, err := resolve(Service{URL: tc.svc}, tc.url)
		if (err != nil) != tc.err || base != tc.base || path != tc.path {
			t.Errorf("resolve(%q, %q) = %q, %q, %v", tc.svc, tc.url, base, path, err)
		}
	}
}

func TestStopWithoutStart(t *testing.T) {
	s := newSource(t, filepath.Join(t.TempDir(), "authz"), &activations{}, func(o *Options) { o.URL = "http://127.0.0.1:1/b.tar.gz" })
	done := make(chan struct{})
	go func() { s.Stop(context.Background()); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Stop of a source never started blocks")
	}
}
