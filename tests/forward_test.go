package tests

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/textproto"
	"sync"
	"testing"
	"time"
)

// TestForwardedExchange runs the proxy's own forwarding (everything but an
// upgrade) through the binary: what the upstream reads, 1xx, hop-by-hop
// response headers, trailers, immediate flushing and an aborted body.
func TestForwardedExchange(t *testing.T) {
	t.Parallel()
	gate := make(chan struct{}, 1)
	var mu sync.Mutex
	var seen http.Header
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/fw/headers":
			mu.Lock()
			seen = r.Header.Clone()
			mu.Unlock()
			w.WriteHeader(204)
		case "/fw/sse":
			w.Header().Set("Content-Type", "text/event-stream")
			io.WriteString(w, "data: 1\n\n")
			w.(http.Flusher).Flush()
			select {
			case <-gate:
				io.WriteString(w, "data: 2\n\n")
			case <-time.After(5 * time.Second):
				io.WriteString(w, "data: not flushed\n\n")
			}
		case "/fw/trailers":
			w.Header().Set("Trailer", "X-Sum")
			io.WriteString(w, "hello")
			w.Header().Set("X-Sum", "5")
			w.Header().Set(http.TrailerPrefix+"X-Late", "yes")
		case "/fw/hints":
			w.Header().Set("Link", "</s.css>; rel=preload")
			w.WriteHeader(http.StatusEarlyHints)
			io.WriteString(w, "ok")
		case "/fw/hop":
			w.Header().Set("Connection", "X-Hop")
			w.Header().Set("X-Hop", "secret")
			w.Header().Set("X-Keep", "yes")
			io.WriteString(w, "ok")
		case "/fw/abort":
			w.Header().Set("Content-Length", "100")
			io.WriteString(w, "short")
			w.(http.Flusher).Flush()
			c, _, _ := w.(http.Hijacker).Hijack()
			c.Close()
		}
	}))
	t.Cleanup(up.Close)
	g := startGateway(t, gatewayConfig{Body: fmt.Sprintf(`
policy:
  bundles: [{name: main, path: bundle}]
routes:
  - name: fw
    match: {path_prefix: /fw}
    upstream: %s
    authn: {anonymous: true}
`, up.URL), Files: allowAllBundle})

	t.Run("request headers", func(t *testing.T) {
		req, _ := http.NewRequest("GET", g.proxy+"/fw/headers", nil)
		req.Header["User-Agent"] = nil // none: the upstream gets no Go default either
		req.Header.Set("Connection", "X-Drop-Me")
		req.Header.Set("X-Drop-Me", "1")
		req.Header.Set("Keep-Alive", "timeout=5")
		req.Header.Set("TE", "trailers")
		req.Header.Set("X-Forwarded-For", "198.51.100.1")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		readAll(t, resp)
		mu.Lock()
		defer mu.Unlock()
		for _, k := range []string{"X-Drop-Me", "Keep-Alive", "User-Agent", "Connection"} {
			if v, ok := seen[k]; ok {
				t.Errorf("upstream got %s: %q", k, v)
			}
		}
		if seen.Get("Te") != "trailers" || seen.Get("X-Forwarded-For") != "127.0.0.1" || seen.Get("X-Request-Id") == "" {
			t.Errorf("upstream headers %v", seen)
		}
	})
	t.Run("event stream flushed at once", func(t *testing.T) {
		resp := g.do("GET", "/fw/sse", nil, nil)
		defer resp.Body.Close()
		br := bufio.NewReader(resp.Body)
		first, err := br.ReadString('\n')
		if err != nil || first != "data: 1\n" {
			t.Fatalf("first line %q, %v", first, err)
		}
		gate <- struct{}{}
		rest, _ := io.ReadAll(br)
		if string(rest) != "\ndata: 2\n\n" {
			t.Errorf("rest %q", rest)
		}
	})
	t.Run("trailers", func(t *testing.T) {
		resp := g.do("GET", "/fw/trailers", nil, nil)
		if body := readAll(t, resp); body != "hello" || resp.Trailer.Get("X-Sum") != "5" || resp.Trailer.Get("X-Late") != "yes" {
			t.Errorf("body %q trailer %v", body, resp.Trailer)
		}
	})
	t.Run("103 early hints", func(t *testing.T) {
		var hints []string
		req, _ := http.NewRequest("GET", g.proxy+"/fw/hints", nil)
		req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
			Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
				hints = append(hints, fmt.Sprint(code, " ", h.Get("Link")))
				return nil
			},
		}))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if body := readAll(t, resp); body != "ok" || len(hints) != 1 || hints[0] != "103 </s.css>; rel=preload" {
			t.Errorf("body %q hints %q", body, hints)
		}
	})
	t.Run("hop-by-hop response headers", func(t *testing.T) {
		resp := g.do("GET", "/fw/hop", nil, nil)
		readAll(t, resp)
		if resp.Header.Get("X-Hop") != "" || resp.Header.Get("X-Keep") != "yes" {
			t.Errorf("response headers %v", resp.Header)
		}
	})
	t.Run("upstream closing mid-body aborts the response", func(t *testing.T) {
		// The gateway had not sent the headers yet: the client sees the
		// connection closed, before or in the body, never a whole response.
		resp, err := http.Get(g.proxy + "/fw/abort")
		if err != nil {
			return
		}
		defer resp.Body.Close()
		if b, err := io.ReadAll(resp.Body); err == nil {
			t.Errorf("read %q, a whole response; want an aborted one", b)
		}
	})
}
