package body

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/portcullis/portcullis/gateway/config"
	"github.com/portcullis/portcullis/gateway/input"
	"github.com/portcullis/portcullis/gateway/pipeline"
	"github.com/portcullis/portcullis/policy"
)

func newBudget(t *testing.T, total, anon config.ByteSize) (*Budget, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	b, err := NewBudget(limitsWith(func(l *config.Limits) { l.MaxBufferedBytes, l.MaxAnonymousBufferedBytes = total, anon }), reg)
	if err != nil {
		t.Fatal(err)
	}
	return b, reg
}

// as sets the identity authentication would have set.
func as(id *policy.Identity) pipeline.Middleware {
	return func(next pipeline.Handler) pipeline.Handler {
		return pipeline.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
			input.Part.From(r.Context()).Identity = id
			return next.ServeHTTP(w, r)
		})
	}
}

var user = &policy.Identity{Authenticated: true, Method: policy.MethodJWT, Subject: "u"}

// hold is a next stage that reports the bytes in use while the request is
// still in flight.
type hold struct {
	b    *Budget
	seen int64
	ran  bool
}

func (h *hold) ServeHTTP(w http.ResponseWriter, r *http.Request) error {
	h.ran, h.seen = true, h.b.used.Load()
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func TestBudget(t *testing.T) {
	t.Parallel()
	body := func(n int) []byte { return bytes.Repeat([]byte("x"), n) }
	tests := []struct {
		name        string
		total, anon config.ByteSize
		preAnon     int64 // already reserved by other anonymous requests
		preAuth     int64 // already reserved by other authenticated requests
		id          *policy.Identity
		read        bool // the route reads the body (validation, policy)
		sized       bool // the body has a Content-Length
		size        int
		want        int
		wantHeld    int64 // at least this much reserved while next runs
	}{
		{name: "a chunked body within the budget is buffered and reserved", total: 1 << 20, anon: 1 << 20, id: user, size: 1000, want: 204, wantHeld: 1000},
		{name: "a sized body on a route that does not read it costs nothing", total: 1 << 20, anon: 1 << 20, id: user, sized: true, size: 1000, want: 204},
		{name: "a sized body on a reading route reserves its length", total: 1 << 20, anon: 1 << 20, id: user, sized: true, read: true, size: 5000, want: 204, wantHeld: 5001},
		{name: "an authenticated chunked body over what is left gets 503", total: 64 << 10, anon: 64 << 10, preAuth: 60 << 10, id: user, size: 1000, want: 503},
		{name: "an authenticated sized body over what is left gets 503", total: 64 << 10, anon: 64 << 10, preAuth: 60 << 10, id: user, sized: true, read: true, size: 8000, want: 503},
		{name: "an anonymous body over the anonymous part gets 503", total: 1 << 20, anon: 64 << 10, preAnon: 60 << 10, id: policy.Anonymous(), size: 1000, want: 503},
		{name: "an authenticated body is not held to the anonymous part", total: 1 << 20, anon: 64 << 10, preAnon: 64 << 10, id: user, size: 1000, want: 204, wantHeld: 1000},
		{name: "a request without identity counts as anonymous", total: 1 << 20, anon: 64 << 10, preAnon: 60 << 10, size: 1000, want: 503},
		{name: "a body over the size limit is still 413", total: 4 << 20, anon: 4 << 20, id: user, size: 2 << 20, want: 413},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b, reg := newBudget(t, tc.total, tc.anon)
			other := &reservation{b: b, anon: true}
			if !other.grow(tc.preAnon) {
				t.Fatal("setup: cannot reserve preAnon")
			}
			mine := &reservation{b: b}
			if !mine.grow(tc.preAuth) {
				t.Fatal("setup: cannot reserve preAuth")
			}
			l := limitsWith(nil)
			mw := b.Buffer(l)
			if tc.read {
				mw = b.Read(l, true)
			}
			next := &hold{b: b}
			var rd io.Reader = bytes.NewReader(body(tc.size))
			if !tc.sized {
				rd = unsized{rd}
			}
			r := httptest.NewRequest(http.MethodPost, "/", rd)
			r.Header.Set("Content-Type", "application/octet-stream")
			w := httptest.NewRecorder()
			serve(pipeline.Chain(next, Guard(l), as(tc.id), mw)).ServeHTTP(w, r)
			if w.Code != tc.want {
				t.Fatalf("status = %d, want %d: %s", w.Code, tc.want, w.Body)
			}
			if tc.want == 503 {
				if w.Header().Get("Retry-After") == "" || !strings.Contains(w.Body.String(), ReasonBufferBudgetExhausted) {
					t.Fatalf("503 lacks Retry-After or reason: %v %s", w.Header(), w.Body)
				}
				if got := gathered(t, reg, "portcullis_body_buffer_refusals_total"); got != 1 {
					t.Fatalf("refusals = %v, want 1", got)
				}
			}
			if held := next.seen - tc.preAnon - tc.preAuth; next.ran && held < tc.wantHeld {
				t.Fatalf("reserved %d bytes while the request ran, want at least %d", held, tc.wantHeld)
			}
			other.release()
			mine.release()
			if u, a := b.used.Load(), b.anonUsed.Load(); u != 0 || a != 0 {
				t.Fatalf("after the request %d bytes (%d anonymous) are still reserved", u, a)
			}
			if got := gathered(t, reg, "portcullis_body_buffered_bytes"); got != 0 {
				t.Fatalf("gauge = %v after the request, want 0", got)
			}
		})
	}
}

func TestBudgetHoldsUnderConcurrency(t *testing.T) {
	t.Parallel()
	b, _ := newBudget(t, 256<<10, 256<<10)
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[int]int{}
	release := make(chan struct{})
	next := pipeline.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		if u := b.used.Load(); u > b.total {
			t.Errorf("%d bytes reserved, over the budget of %d", u, b.total)
		}
		<-release
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
	h := serve(pipeline.Chain(next, Guard(limitsWith(nil)), as(user), b.Buffer(limitsWith(nil))))
	for i := 0; i < 32; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/", unsized{bytes.NewReader(make([]byte, 20<<10))}))
			mu.Lock()
			codes[w.Code]++
			mu.Unlock()
		}()
	}
	// 32 bodies of 20 KiB each reserve 32 KiB of buffer: 8 fit in 256 KiB.
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		mu.Lock()
		n := codes[503]
		mu.Unlock()
		if n == 24 {
			break
		}
	}
	close(release)
	wg.Wait()
	if codes[204] != 8 || codes[503] != 24 {
		t.Fatalf("codes %v, want 8×204 and 24×503", codes)
	}
	if b.used.Load() != 0 {
		t.Fatalf("%d bytes still reserved", b.used.Load())
	}
}

// TestUnauthenticatedChunkedBodyIsNotRead is issue 12 class 4: the 401 of a
// request without credential leaves before its body is read, and the
// connection is closed instead of drained.
func TestUnauthenticatedChunkedBodyIsNotRead(t *testing.T) {
	t.Parallel()
	b, _ := newBudget(t, 1<<20, 1<<20)
	deny := pipeline.Middleware(func(next pipeline.Handler) pipeline.Handler {
		return pipeline.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
			return fmt.Errorf("wrapped: %w", errNoState) // any refusal by authentication
		})
	})
	srv := httptest.NewServer(serve(pipeline.Chain(&recorder{}, Guard(limitsWith(nil)), deny, b.Buffer(limitsWith(nil)))))
	defer srv.Close()
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second)) // guards against a hang, not a timing assertion
	// A chunked body that never ends: before the fix the gateway waits for it.
	if _, err := io.WriteString(conn, "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n400\r\n"+strings.Repeat("x", 1024)+"\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no response before the body ended: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 500 || !resp.Close {
		t.Fatalf("status %d, close %v; want the refusal and Connection: close", resp.StatusCode, resp.Close)
	}
	if b.used.Load() != 0 {
		t.Fatal("the refused body was buffered")
	}
}

// gathered sums the values of the metric family name in reg.
func gathered(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			sum += value(m)
		}
	}
	return sum
}

func value(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	}
	return 0
}

// A request without a body (a GET) reserves and allocates no buffer on a
// reading route: nothing is read, and the body stays http.NoBody.
func TestBodylessRequestReservesNothing(t *testing.T) {
	t.Parallel()
	b, _ := newBudget(t, 1<<20, 1<<20)
	l := limitsWith(nil)
	next := &hold{b: b}
	var seen io.ReadCloser
	peek := pipeline.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		seen = r.Body
		if st := Part.From(r.Context()); !st.Read || st.Bytes == nil || len(st.Bytes) != 0 {
			t.Errorf("buffered body = %q (read %v), want empty and read", st.Bytes, st.Read)
		}
		return next.ServeHTTP(w, r)
	})
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	w := httptest.NewRecorder()
	serve(pipeline.Chain(peek, Guard(l), as(user), b.Read(l, true))).ServeHTTP(w, r)
	if w.Code != http.StatusNoContent || !next.ran {
		t.Fatalf("status = %d, want 204: %s", w.Code, w.Body)
	}
	if next.seen != 0 {
		t.Fatalf("reserved %d bytes for a request without a body, want 0", next.seen)
	}
	if seen != http.NoBody {
		t.Fatalf("body = %T, want http.NoBody", seen)
	}
}
