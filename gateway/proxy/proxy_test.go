package proxy

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/portcullis/portcullis/gateway/config"
	"github.com/portcullis/portcullis/gateway/problem"
	upstreams "github.com/portcullis/portcullis/gateway/proxy/upstream"
)

func routeTo(t *testing.T, timeout time.Duration, ups ...string) *config.Route {
	t.Helper()
	return &config.Route{Timeout: timeout, ConnectTimeout: time.Second, EjectFor: time.Minute, Upstreams: ups}
}

// transport is a pool for routes whose tls block loaded is lt (nil: none),
// closed with the test.
func transport(t *testing.T, lt *TLS) *Transport {
	t.Helper()
	tr, err := NewTransport(time.Second, lt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tr.CloseIdleConnections)
	return tr
}

func TestNewRefusesARouteWithoutUpstreams(t *testing.T) {
	t.Parallel()
	if _, err := New(routeTo(t, time.Second), transport(t, nil)); !errors.Is(err, upstreams.ErrNone) {
		t.Fatalf("err = %v, want ErrNone", err)
	}
	if _, err := New(routeTo(t, 0, "http://127.0.0.1:1"), transport(t, nil)); err == nil {
		t.Fatal("a zero timeout was accepted")
	}
}

func mustNew(t *testing.T, r *config.Route) *Proxy {
	t.Helper()
	p, err := New(r, transport(t, nil))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// serve runs one request through p from remote, with a fresh state that
// setup (if not nil) prepares.
func serve(p *Proxy, r *http.Request, remote string, setup func(*testState)) (*httptest.ResponseRecorder, *testState, error) {
	st := newTestState()
	st.Input.Request.ID = "rid-1"
	if setup != nil {
		setup(st)
	}
	r.RemoteAddr = remote
	r = st.with(r)
	w := httptest.NewRecorder()
	err := p.Handler().ServeHTTP(w, r)
	st.done()
	return w, st, err
}

func TestProxyHeaders(t *testing.T) {
	t.Parallel()
	var got *http.Request
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r
		w.WriteHeader(204)
	}))
	defer up.Close()
	// The server's header.Cleaner computed the forwarding headers before
	// the policy ran; the proxy sends exactly those, trusted peer or not.
	tests := []struct {
		name, xff, wantXFF string
	}{
		{"the cleaned X-Forwarded-For is sent as it is", "192.0.2.7", "192.0.2.7"},
		{"an appended X-Forwarded-For is not appended to again", "203.0.113.9, 192.0.2.7", "203.0.113.9, 192.0.2.7"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rt := routeTo(t, 5*time.Second, up.URL)
			rt.StripPrefix = "/api"
			p := mustNew(t, rt)
			req := httptest.NewRequest("GET", "/api/v1/x?q=1", nil)
			req.Header.Set("X-Forwarded-For", tc.xff)
			req.Header.Set("Connection", "X-Consumer-Id, X-Request-Id")
			req.Header.Set("X-Request-Id", "spoofed")
			_, st, err := serve(p, req, "192.0.2.7:1234", func(st *testState) { st.SetHeader("X-Consumer-Id", "alice") })
			if err != nil {
				t.Fatal(err)
			}
			if xff := got.Header.Get("X-Forwarded-For"); xff != tc.wantXFF {
				t.Errorf("X-Forwarded-For = %q, want %q", xff, tc.wantXFF)
			}
			if got.Header.Get("X-Consumer-Id") != "alice" || got.Header.Get("X-Request-Id") != "rid-1" {
				t.Errorf("gateway headers lost: consumer %q request id %q", got.Header.Get("X-Consumer-Id"), got.Header.Get("X-Request-Id"))
			}
			if got.URL.Path != "/v1/x" || got.URL.RawQuery != "q=1" {
				t.Errorf("forwarded %s?%s, want /v1/x?q=1", got.URL.Path, got.URL.RawQuery)
			}
			if st.UpstreamStatus != 204 {
				t.Errorf("UpstreamStatus = %d", st.UpstreamStatus)
			}
		})
	}
}

func TestProxyPassesContentCodingsThrough(t *testing.T) {
	t.Parallel()
	gzipped := []byte("\x1f\x8b\x08\x00not really gzip")
	var asked []string
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked = append(asked, r.Header.Get("Accept-Encoding"))
		w.Header().Set("Content-Encoding", "gzip")
		_, _ = w.Write(gzipped)
	}))
	defer up.Close()
	p := mustNew(t, routeTo(t, 5*time.Second, up.URL))
	tests := []struct {
		name, acceptEncoding string
	}{
		{"a client that asks for no coding", ""},
		{"a client that asks for gzip", "gzip"},
	}
	for _, tc := range tests {
		req := httptest.NewRequest("GET", "/x", nil)
		if tc.acceptEncoding != "" {
			req.Header.Set("Accept-Encoding", tc.acceptEncoding)
		}
		w, _, err := serve(p, req, "192.0.2.7:1234", nil)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got := asked[len(asked)-1]; got != tc.acceptEncoding {
			t.Errorf("%s: the upstream was asked Accept-Encoding %q, want %q", tc.name, got, tc.acceptEncoding)
		}
		if w.Header().Get("Content-Encoding") != "gzip" || w.Body.String() != string(gzipped) {
			t.Errorf("%s: the response was changed on the way: %q %q", tc.name, w.Header().Get("Content-Encoding"), w.Body.String())
		}
	}
}

func TestProxyBufferedBodyIsSent(t *testing.T) {
	t.Parallel()
	var body string
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		body = string(b)
	}))
	defer up.Close()
	p := mustNew(t, routeTo(t, 5*time.Second, up.URL))
	_, _, err := serve(p, httptest.NewRequest("POST", "/x", nil), "127.0.0.1:1", func(st *testState) {
		st.Body, st.BodyRead = []byte(`{"a":1}`), true
	})
	if err != nil {
		t.Fatal(err)
	}
	if body != `{"a":1}` {
		t.Fatalf("upstream got %q", body)
	}
}

func TestProxyErrors(t *testing.T) {
	t.Parallel()
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(5 * time.Second):
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	closed := closedURL(t)

	t.Run("a refused connection is a 502 and ejects the upstream", func(t *testing.T) {
		p := mustNew(t, routeTo(t, 5*time.Second, closed))
		_, _, err := serve(p, httptest.NewRequest("GET", "/", nil), "127.0.0.1:1", nil)
		if pr := problem.As(err); pr == nil || pr.Status != 502 || pr.Reason != "upstream_unavailable" {
			t.Fatalf("err = %v, want 502 upstream_unavailable", err)
		}
		if p.upstreams[0].ejectedAt.Load() <= time.Now().UnixNano() {
			t.Fatal("the upstream was not ejected")
		}
	})
	t.Run("a slow upstream is a 504", func(t *testing.T) {
		p := mustNew(t, routeTo(t, 100*time.Millisecond, slow.URL))
		_, _, err := serve(p, httptest.NewRequest("GET", "/", nil), "127.0.0.1:1", nil)
		if pr := problem.As(err); pr == nil || pr.Status != 504 {
			t.Fatalf("err = %v, want 504", err)
		}
	})
	t.Run("a client that went away is not an upstream error", func(t *testing.T) {
		p := mustNew(t, routeTo(t, 5*time.Second, slow.URL))
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(50*time.Millisecond, cancel)
		_, _, err := serve(p, httptest.NewRequest("GET", "/", nil).WithContext(ctx), "127.0.0.1:1", nil)
		if !errors.Is(err, ErrClientGone) {
			t.Fatalf("err = %v, want ErrClientGone", err)
		}
	})
	t.Run("round robin skips an ejected upstream", func(t *testing.T) {
		p := mustNew(t, routeTo(t, 5*time.Second, closed, slow.URL))
		p.upstreams[0].ejectedAt.Store(time.Now().Add(time.Hour).UnixNano())
		for range 4 {
			if u := p.pick(); u != p.upstreams[1] {
				t.Fatalf("picked %v", u.url)
			}
		}
	})
}

// closedURL is the URL of a 127.0.0.1 port nothing listens on.
func closedURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return "http://" + l.Addr().String()
}

func TestProxyTimesTheUpstream(t *testing.T) {
	t.Parallel()
	const delay = 30 * time.Millisecond
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(delay)
		_, _ = w.Write([]byte("ok"))
	}))
	defer up.Close()
	closed := closedURL(t)
	for _, tc := range []struct {
		name     string
		upstream string
		min      time.Duration
	}{
		{"an answer: until its headers", up.URL, delay},
		{"a refused connection: until the failure", closed, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := mustNew(t, routeTo(t, 5*time.Second, tc.upstream))
			before := time.Now()
			_, st, _ := serve(p, httptest.NewRequest("GET", "/", nil), "127.0.0.1:1", nil)
			if st.Forwarded.Before(before) || st.Forwarded.After(time.Now()) {
				t.Fatalf("Forwarded = %v, want the moment the request was forwarded", st.Forwarded)
			}
			if st.UpstreamLatency <= tc.min || st.UpstreamLatency > time.Since(before) {
				t.Fatalf("UpstreamLatency = %v, want more than %v and at most the exchange", st.UpstreamLatency, tc.min)
			}
			if st.Relayed.Before(st.Forwarded.Add(st.UpstreamLatency)) || st.Relayed.After(time.Now()) {
				t.Fatalf("Relayed = %v, want the end of the exchange (forwarded %v, upstream %v)", st.Relayed, st.Forwarded, st.UpstreamLatency)
			}
		})
	}
}

func TestProxyFramesAnEmptyBufferedBodyAsBefore(t *testing.T) {
	t.Parallel()
	type seen struct {
		length int64
		te     []string
		cl     string
	}
	got := make(chan seen, 1)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.ReadAll(r.Body)
		got <- seen{r.ContentLength, r.TransferEncoding, r.Header.Get("Content-Length")}
	}))
	defer up.Close()
	p := mustNew(t, routeTo(t, 5*time.Second, up.URL))
	for _, tc := range []struct {
		name, method string
		want         seen
	}{
		// What the transport sends after probing the empty body of a
		// method that usually has none: nothing, no framing header.
		{"a GET carries no body and no framing", "GET", seen{0, nil, ""}},
		{"a DELETE carries no body and no framing", "DELETE", seen{0, nil, ""}},
		// Other methods keep the chunked empty body they were sent with.
		{"a POST keeps its chunked empty body", "POST", seen{-1, []string{"chunked"}, ""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := serve(p, httptest.NewRequest(tc.method, "/x", nil), "127.0.0.1:1", func(st *testState) {
				st.Body, st.BodyRead = []byte{}, true
			})
			if err != nil {
				t.Fatal(err)
			}
			s := <-got
			if s.length != tc.want.length || !slices.Equal(s.te, tc.want.te) || s.cl != tc.want.cl {
				t.Fatalf("upstream saw length %d, transfer-encoding %q, content-length %q; want %+v", s.length, s.te, s.cl, tc.want)
			}
		})
	}
}

func TestForwardBodyLeavesNoBodyToProbe(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		method string
		b      []byte
		isNil  bool
	}{
		{"GET", []byte{}, true},
		{"HEAD", nil, true},
		{"OPTIONS", []byte{}, true},
		{"GET", []byte("x"), false},
		{"POST", []byte{}, false},
		{"PUT", []byte("x"), false},
	} {
		if got := forwardBody(tc.method, tc.b, &bytes.Reader{}); (got == nil) != tc.isNil {
			t.Errorf("forwardBody(%s, %q) = %v, want nil %v", tc.method, tc.b, got, tc.isNil)
		}
	}
}

// pick skips an upstream ejected until later, takes one whose ejection
// is over, and reads the clock only when it meets an ejected upstream.
func TestPickReadsTheClockOnlyForAnEjectedUpstream(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	past, future := now.Add(-time.Second).UnixNano(), now.Add(time.Second).UnixNano()
	for _, tc := range []struct {
		name     string
		ejected  []int64 // per upstream; 0 = healthy
		want     int     // index picked after the first upstream's turn
		readings int
	}{
		{"all healthy", []int64{0, 0, 0}, 1, 0},
		{"the next is ejected until later", []int64{0, future, 0}, 2, 1},
		{"the next's ejection is over", []int64{0, past, 0}, 1, 1},
		{"the next two are ejected", []int64{0, future, future}, 0, 1},
		{"all are ejected: round robin anyway", []int64{future, future, future}, 1, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &Proxy{}
			readings := 0
			p.now = func() time.Time { readings++; return now }
			for _, at := range tc.ejected {
				u := &upstream{}
				u.ejectedAt.Store(at)
				p.upstreams = append(p.upstreams, u)
			}
			if u := p.pick(); u != p.upstreams[tc.want] {
				t.Errorf("picked upstream %d, want %d", slices.Index(p.upstreams, u), tc.want)
			}
			if readings != tc.readings {
				t.Errorf("%d clock readings, want %d", readings, tc.readings)
			}
		})
	}
}
