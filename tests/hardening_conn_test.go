package tests

// Issue 12, classes 4, 13 (refusals before the handler) and 14: bodies are
// read only after authentication and within a budget, client connections are
// bounded, and HTTP/1.x requests whose framing could be read two ways are
// answered by the gateway's own code, logged, and end the connection.

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// connConfig has an anonymous route /open, a route /locked that needs an
// API key, and the listen lines given.
func connConfig(up *upstream, listen, limits string, files map[string]string) gatewayConfig {
	return gatewayConfig{
		Listen: listen,
		Body: fmt.Sprintf(`
limits:
%s
policy:
  bundles: [{name: main, path: bundle}]
routes:
  - name: open
    match: {path_prefix: /open}
    upstream: %s
    authn: {anonymous: true}
  - name: locked
    match: {path_prefix: /locked}
    upstream: %s
    authn: {methods: [api_key]}
`, limits, up.URL, up.URL),
		Files: withFiles(allowAllBundle, files),
	}
}

// exchangeOn writes raw on c and returns every response until the gateway
// closes the connection.
func exchangeOn(t *testing.T, c net.Conn, raw string) []string {
	t.Helper()
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second)) // guards against a hang, not a timing assertion
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	var out []string
	for {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatalf("the connection stayed open after %d responses", len(out))
			}
			return out
		}
		b, _ := io.ReadAll(resp.Body)
		out = append(out, fmt.Sprintf("%d close=%v %s", resp.StatusCode, resp.Close, b))
	}
}

func TestHardeningConnSmuggling(t *testing.T) {
	certs := newTestTLS(t)
	files, pool := certs.files, certs.pool
	smuggled := "GET /open/smuggled HTTP/1.1\r\nHost: x\r\n\r\n"
	variants := []struct{ name, head, reason string }{
		{"CL then TE", "Content-Length: 6\r\nTransfer-Encoding: chunked", "framing_ambiguous"},
		{"TE then CL", "Transfer-Encoding: chunked\r\nContent-Length: 6", "framing_ambiguous"},
		{"lower-case TE", "content-length: 6\r\ntransfer-encoding: chunked", "framing_ambiguous"},
		{"upper-case Chunked", "Content-Length: 6\r\nTRANSFER-ENCODING: Chunked", "framing_ambiguous"},
		{"TE without space", "Content-Length: 6\r\nTransfer-Encoding:chunked", "framing_ambiguous"},
		{"TE with tab", "Content-Length: 6\r\nTransfer-Encoding:\tchunked", "framing_ambiguous"},
		{"TE identity", "Content-Length: 6\r\nTransfer-Encoding: identity", "framing_ambiguous"},
		{"space before the colon", "Content-Length: 6\r\nTransfer-Encoding : chunked", "head_malformed"},
		{"folded TE", "Content-Length: 6\r\nTransfer-Encoding:\r\n chunked", "head_malformed"},
		{"two Content-Lengths", "Content-Length: 6\r\nContent-Length: 5", "framing_ambiguous"},
		{"a Content-Length list", "Content-Length: 6, 5", "framing_invalid"},
		{"TE gzip", "Transfer-Encoding: gzip", "transfer_encoding_unsupported"},
		{"TE repeated", "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked", "framing_invalid"},
	}
	for _, overTLS := range []bool{false, true} {
		t.Run(fmt.Sprintf("tls=%v", overTLS), func(t *testing.T) {
			up := newUpstream(t, "up")
			listen := ""
			if overTLS {
				listen = tlsListen
			}
			g := startGateway(t, connConfig(up, listen, "  max_body_bytes: 1MiB", files))
			dial := func() net.Conn {
				addr := strings.TrimPrefix(g.proxy, "http://")
				if !overTLS {
					c, err := net.Dial("tcp", addr)
					if err != nil {
						t.Fatal(err)
					}
					return c
				}
				c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, NextProtos: []string{"http/1.1"}})
				if err != nil {
					t.Fatal(err)
				}
				return c
			}
			for _, v := range variants {
				for _, first := range []bool{true, false} {
					name := v.name
					prefix := ""
					if !first {
						name += " after a served request"
						prefix = "GET /open/first HTTP/1.1\r\nHost: x\r\n\r\n"
					}
					t.Run(name, func(t *testing.T) {
						before := len(up.requests())
						raw := prefix + "POST /open/up HTTP/1.1\r\nHost: gw.example\r\n" + v.head + "\r\n\r\n0\r\n\r\n" + smuggled
						resps := exchangeOn(t, dial(), raw)
						want := 1
						if !first {
							want = 2
						}
						if len(resps) != want {
							t.Fatalf("got %d responses %q, want %d", len(resps), resps, want)
						}
						last := resps[len(resps)-1]
						if !strings.Contains(last, "close=true") || !strings.Contains(last, `"reason":"`+v.reason+`"`) {
							t.Fatalf("refusal %q, want reason %s and Connection: close", last, v.reason)
						}
						for _, r := range up.requests()[before:] {
							if r.URL.Path != "/open/first" {
								t.Fatalf("the upstream got %s %s", r.Method, r.URL.Path)
							}
						}
					})
				}
			}
			// Every refusal is in the decision log, with what was read of it.
			// The stdout sink writes asynchronously: wait for the last events.
			refusals := func() (n int) {
				for _, ev := range eventsIn(g.stdout.String()) {
					for _, v := range variants {
						if len(ev.Portcullis.Reasons) > 0 && ev.Portcullis.Reasons[0] == v.reason {
							n++
							break
						}
					}
				}
				return n
			}
			authnPoll(10*time.Second, func() bool { return refusals() >= 2*len(variants) })
			for _, ev := range eventsIn(g.stdout.String()) {
				if ev.Portcullis.Status >= 400 && !strings.Contains(string(ev.raw), `"requested_by":"127.0.0.1:`) {
					t.Errorf("event without client address: %s", ev.raw)
				}
			}
			if n := refusals(); n != 2*len(variants) {
				t.Fatalf("%d refusals in the decision log, want %d:\n%s", n, 2*len(variants), g.stdout.String())
			}
		})
	}
}

func TestHardeningConnHeadTooLarge(t *testing.T) {
	up := newUpstream(t, "up")
	g := startGateway(t, connConfig(up, "  max_header_bytes: 2KiB\n", "  max_body_bytes: 1MiB", nil))
	out := rawRequest(t, g.proxy, "GET /open/big HTTP/1.1\r\nHost: x\r\nX-Big: "+strings.Repeat("a", 4096)+"\r\n\r\n")
	if !strings.HasPrefix(out, "HTTP/1.1 431") || !strings.Contains(out, `"reason":"headers_too_large"`) || !strings.Contains(out, "X-Decision-Id") {
		t.Fatalf("got %q, want the gateway's 431 problem", out)
	}
	found := authnPoll(5*time.Second, func() bool {
		for _, ev := range eventsIn(g.stdout.String()) {
			if ev.Portcullis.Status == 431 && ev.Portcullis.Reasons[0] == "headers_too_large" {
				return true
			}
		}
		return false
	})
	if !found {
		t.Fatalf("no decision-log event for the 431:\n%s", g.stdout.String())
	}
	if authnMetric(t, g, `portcullis_http_requests_total{method="GET",route="",status="431"}`) != 1 {
		t.Fatal("the 431 is not in the request metrics")
	}
	// Just under the limit is served.
	if out := rawRequest(t, g.proxy, "GET /open/ok HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Big: "+strings.Repeat("a", 1900)+"\r\n\r\n"); !strings.HasPrefix(out, "HTTP/1.1 200") {
		t.Fatalf("a head under the limit got %.40q", out)
	}
}

// TestHardeningConnUnauthenticatedBodiesAreNotBuffered: many anonymous
// clients start chunked bodies they never finish; each gets its 401 before
// the body is read and no buffer is held.
func TestHardeningConnUnauthenticatedBodiesAreNotBuffered(t *testing.T) {
	certs := newTestTLS(t)
	files, pool := certs.files, certs.pool
	up := newUpstream(t, "up")
	g := startGateway(t, connConfig(up, tlsListen, "  max_body_bytes: 1MiB", files))
	addr := strings.TrimPrefix(g.proxy, "http://")
	const clients = 50
	conns := make([]net.Conn, clients)
	for i := range conns {
		c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, NextProtos: []string{"http/1.1"}})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(20 * time.Second)) // guards against a hang, not a timing assertion
		// 64 KiB of a body that never ends.
		if _, err := io.WriteString(c, "POST /locked/up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n10000\r\n"+strings.Repeat("x", 1<<16)+"\r\n"); err != nil {
			t.Fatal(err)
		}
		conns[i] = c
	}
	if v := authnMetric(t, g, "portcullis_body_buffered_bytes"); v != 0 {
		t.Fatalf("%v bytes buffered for unauthenticated bodies", v)
	}
	for i, c := range conns {
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("client %d: no answer while its body is open: %v", i, err)
		}
		resp.Body.Close()
		if resp.StatusCode != 401 || !resp.Close {
			t.Fatalf("client %d: %d close=%v, want 401 and Connection: close", i, resp.StatusCode, resp.Close)
		}
	}
	if len(up.requests()) != 0 {
		t.Fatal("the upstream was contacted")
	}

	t.Run("HTTP/2: a length-less body without credential gets 401 unread", func(t *testing.T) {
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}
		defer tr.CloseIdleConnections()
		pr, pw := io.Pipe()
		defer pw.Close()
		go func() { _, _ = pw.Write(make([]byte, 256<<10)) }() // and never closed
		req, _ := http.NewRequest("POST", "https://"+addr+"/locked/up", pr)
		resp, err := (&http.Client{Transport: tr, Timeout: 20 * time.Second}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		readAll(t, resp)
		if resp.ProtoMajor != 2 || resp.StatusCode != 401 {
			t.Fatalf("got %s %d, want HTTP/2 401", resp.Proto, resp.StatusCode)
		}
		if v := authnMetric(t, g, "portcullis_body_buffered_bytes"); v != 0 {
			t.Fatalf("%v bytes buffered", v)
		}
	})
}

func TestHardeningConnBufferBudget(t *testing.T) {
	up := newUpstream(t, "up")
	// A chunked body's first buffer is 32 KiB: one fits in 48 KiB, two do not.
	g := startGateway(t, connConfig(up, "", "  max_body_bytes: 40KiB\n  max_buffered_bytes: 48KiB\n  max_anonymous_buffered_bytes: 48KiB", nil))
	addr := strings.TrimPrefix(g.proxy, "http://")
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(20 * time.Second)) // guards against a hang, not a timing assertion
	if _, err := io.WriteString(c, "POST /open/held HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n400\r\n"+strings.Repeat("x", 1024)+"\r\n"); err != nil {
		t.Fatal(err)
	}
	if !authnPoll(10*time.Second, func() bool { return authnMetric(t, g, "portcullis_body_buffered_bytes") >= 32<<10 }) {
		t.Fatal("the first body holds no buffer")
	}
	out := rawRequest(t, g.proxy, "POST /open/second HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
	if !strings.HasPrefix(out, "HTTP/1.1 503") || !strings.Contains(out, "Retry-After: 1") || !strings.Contains(out, `"reason":"buffer_budget_exhausted"`) {
		t.Fatalf("got %q, want 503 buffer_budget_exhausted with Retry-After", out)
	}
	if authnMetric(t, g, `portcullis_body_buffer_refusals_total{caller="anonymous"}`) != 1 {
		t.Fatal("the refusal is not counted")
	}
	// A body with Content-Length on a route that does not read it streams, outside the budget.
	if out := rawRequest(t, g.proxy, "POST /open/sized HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc"); !strings.HasPrefix(out, "HTTP/1.1 200") {
		t.Fatalf("a streamed body got %.40q", out)
	}
	// The first body ends; its buffer is released.
	if _, err := io.WriteString(c, "0\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("the held body: %v %v", resp, err)
	}
	resp.Body.Close()
	if !authnPoll(10*time.Second, func() bool { return authnMetric(t, g, "portcullis_body_buffered_bytes") == 0 }) {
		t.Fatal("the buffer was not released")
	}
}

func TestHardeningConnMaxConnections(t *testing.T) {
	up := newUpstream(t, "up")
	g := startGateway(t, connConfig(up, "  max_connections: 2\n", "  max_body_bytes: 1MiB", nil))
	addr := strings.TrimPrefix(g.proxy, "http://")
	var held []net.Conn
	for i := 0; i < 2; i++ {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.WriteString(c, "GET /open/x HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		held = append(held, c)
	}
	if authnMetric(t, g, "portcullis_connections_open") != 2 {
		t.Fatal("the open connections are not counted")
	}
	if out := rawRequest(t, g.proxy, "GET /open/x HTTP/1.1\r\nHost: x\r\n\r\n"); out != "" {
		t.Fatalf("a third connection got %.40q, want it closed", out)
	}
	if authnMetric(t, g, "portcullis_connections_refused_total") != 1 {
		t.Fatal("the refused connection is not counted")
	}
	held[0].Close()
	if !authnPoll(10*time.Second, func() bool { return authnMetric(t, g, "portcullis_connections_open") == 1 }) {
		t.Fatal("the closed connection still counts")
	}
	if out := rawRequest(t, g.proxy, "GET /open/x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"); !strings.HasPrefix(out, "HTTP/1.1 200") {
		t.Fatalf("a connection within the limit got %.40q", out)
	}
}
