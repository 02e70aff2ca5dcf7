package gwtest

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/lestrrat-go/jwx/v3/jwk"
)

// Mode is how a JWKSServer answers.
type Mode int

// Modes of a JWKSServer.
const (
	// ModeOK serves the key set.
	ModeOK Mode = iota
	// ModeFail answers 500.
	ModeFail
	// ModeHang never answers; the request ends when the client gives up.
	ModeHang
)

// JWKSServer is an httptest server on 127.0.0.1 serving a mutable JWKS at
// URL(). It counts requests and is closed when the test ends.
type JWKSServer struct {
	srv     *httptest.Server
	hits    atomic.Int64
	unblock chan struct{}

	mu           sync.Mutex
	body         []byte
	mode         Mode
	cacheControl string
}

// NewJWKSServer starts a server serving the public forms of keys.
func NewJWKSServer(t testing.TB, keys ...jwk.Key) *JWKSServer {
	t.Helper()
	s := &JWKSServer{unblock: make(chan struct{})}
	s.SetKeys(t, keys...)
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(func() {
		close(s.unblock)
		s.srv.Close()
	})
	return s
}

// URL is the address of the key set.
func (s *JWKSServer) URL() string { return s.srv.URL + "/jwks.json" }

// Hits is the number of requests served so far, failed ones included.
func (s *JWKSServer) Hits() int { return int(s.hits.Load()) }

// SetKeys replaces the served keys with the public forms of keys.
func (s *JWKSServer) SetKeys(t testing.TB, keys ...jwk.Key) {
	t.Helper()
	body, err := json.Marshal(PublicSet(t, keys...))
	if err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	s.body = body
	s.mu.Unlock()
}

// SetEntries replaces the served document with {"keys": entries}, taken
// as given: for keys the JOSE library cannot represent (too small, odd
// curves) beside real ones.
func (s *JWKSServer) SetEntries(t testing.TB, entries ...map[string]any) {
	t.Helper()
	body, err := json.Marshal(map[string]any{"keys": entries})
	if err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	s.body = body
	s.mu.Unlock()
}

// SetMode switches how the server answers from now on.
func (s *JWKSServer) SetMode(m Mode) {
	s.mu.Lock()
	s.mode = m
	s.mu.Unlock()
}

// SetCacheControl sets the Cache-Control header of successful answers
// ("" for none).
func (s *JWKSServer) SetCacheControl(v string) {
	s.mu.Lock()
	s.cacheControl = v
	s.mu.Unlock()
}

func (s *JWKSServer) serve(w http.ResponseWriter, r *http.Request) {
	s.hits.Add(1)
	s.mu.Lock()
	body, mode, cc := s.body, s.mode, s.cacheControl
	s.mu.Unlock()
	switch mode {
	case ModeFail:
		http.Error(w, "jwks down", http.StatusInternalServerError)
	case ModeHang:
		select {
		case <-r.Context().Done():
		case <-s.unblock:
		}
	default:
		if cc != "" {
			w.Header().Set("Cache-Control", cc)
		}
		w.Header().Set("Content-Type", "application/jwk-set+json")
		_, _ = w.Write(body)
	}
}
