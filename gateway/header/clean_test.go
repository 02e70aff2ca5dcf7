package header

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/portcullis/portcullis/gateway/config"
	"github.com/portcullis/portcullis/gateway/problem"
	"github.com/portcullis/portcullis/policy"
)

type cleanerOpts struct {
	underscores, override string
	trusted               []string
	forwarding            []string
}

func newCleaner(t testing.TB, o cleanerOpts) (*Cleaner, *prometheus.Registry) {
	t.Helper()
	if o.underscores == "" {
		o.underscores = "drop"
	}
	if o.override == "" {
		o.override = "strip"
	}
	cfg := &config.Config{}
	cfg.Listen.HeadersWithUnderscores = o.underscores
	cfg.Listen.TrustedProxies = o.trusted
	cfg.Request.MethodOverride = o.override
	cfg.Request.ForwardingHeaders = o.forwarding
	reg := prometheus.NewRegistry()
	c, err := New(cfg, reg)
	if err != nil {
		t.Fatal(err)
	}
	return c, reg
}

// request builds a request from the client at 203.0.113.5 with raw header
// names exactly as given (no canonicalization: HTTP/1.1 clients send any
// spelling, Go's server canonicalizes only what it can).
func request(method, target string, hdr [][2]string) *http.Request {
	r := httptest.NewRequest(method, target, nil)
	r.RemoteAddr = "203.0.113.5:4711"
	for _, kv := range hdr {
		if kv[0] == "Host" {
			r.Host = kv[1]
			continue
		}
		k := kv[0]
		if !strings.ContainsAny(k, "_") {
			k = http.CanonicalHeaderKey(k)
		}
		r.Header[k] = append(r.Header[k], kv[1])
	}
	return r
}

func screen(c *Cleaner, r *http.Request) (*policy.Request, error) {
	req := &policy.Request{ID: "rid-1"}
	return req, c.Screen(r, req)
}

func reason(err error) string {
	if p := problem.As(err); p != nil {
		return string(p.Reason)
	}
	if err != nil {
		return err.Error()
	}
	return ""
}

func TestUnderscoreModes(t *testing.T) {
	t.Parallel()
	spoofs := [][2]string{{"X_User_Id", "admin"}, {"x-user_id", "admin"}, {"X_API_KEY", "k2"}, {"Accept", "*/*"}}
	t.Run("drop removes every name with an underscore and counts them", func(t *testing.T) {
		c, reg := newCleaner(t, cleanerOpts{underscores: "drop"})
		r := request("GET", "/", spoofs)
		if _, err := screen(c, r); err != nil {
			t.Fatal(err)
		}
		for k := range r.Header {
			if strings.Contains(k, "_") {
				t.Errorf("%s kept", k)
			}
		}
		if r.Header.Get("Accept") != "*/*" {
			t.Error("Accept lost")
		}
		if n := counter(t, reg, "dropped"); n != 3 {
			t.Errorf("dropped = %v, want 3", n)
		}
	})
	t.Run("reject answers 400 header_name_rejected and counts the request", func(t *testing.T) {
		c, reg := newCleaner(t, cleanerOpts{underscores: "reject"})
		for _, h := range spoofs[:3] {
			_, err := screen(c, request("GET", "/", [][2]string{h}))
			if p := problem.As(err); p == nil || p.Status != 400 || p.Reason != ReasonNameRejected {
				t.Errorf("%s: got %v", h[0], err)
			}
		}
		if _, err := screen(c, request("GET", "/", [][2]string{{"X-User-Id", "a"}})); err != nil {
			t.Errorf("a dashed name was rejected: %v", err)
		}
		if n := counter(t, reg, "rejected"); n != 3 {
			t.Errorf("rejected = %v, want 3", n)
		}
	})
	t.Run("allow keeps them and counts nothing", func(t *testing.T) {
		c, reg := newCleaner(t, cleanerOpts{underscores: "allow"})
		r := request("GET", "/", spoofs)
		if _, err := screen(c, r); err != nil {
			t.Fatal(err)
		}
		if r.Header["X_User_Id"] == nil || r.Header["x-user_id"] == nil {
			t.Errorf("allow dropped a header: %v", r.Header)
		}
		if counter(t, reg, "dropped")+counter(t, reg, "rejected") != 0 {
			t.Error("allow counted")
		}
	})
}

// counter reads portcullis_headers_with_underscores_total{action}.
func counter(t *testing.T, reg *prometheus.Registry, action string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "portcullis_headers_with_underscores_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "action" && l.GetValue() == action {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	t.Fatalf("no series for action %q", action)
	return 0
}

func TestHopByHop(t *testing.T) {
	t.Parallel()
	c, _ := newCleaner(t, cleanerOpts{underscores: "allow"})
	tests := []struct {
		name   string
		hdr    [][2]string
		gone   []string
		kept   map[string]string
		reason string
	}{
		{"the standard list goes", [][2]string{{"Keep-Alive", "5"}, {"Proxy-Connection", "keep-alive"}, {"Trailer", "X"}, {"Proxy-Authorization", "Basic x"}, {"Accept", "a"}},
			[]string{"Keep-Alive", "Proxy-Connection", "Trailer", "Proxy-Authorization"}, map[string]string{"Accept": "a"}, ""},
		{"nominated names go in every spelling", [][2]string{{"Connection", "X-Tenant, x_role"}, {"X-Tenant", "t1"}, {"X_Tenant", "t2"}, {"X-Role", "admin"}, {"Accept", "a"}},
			[]string{"Connection", "X-Tenant", "X_Tenant", "X-Role"}, map[string]string{"Accept": "a"}, ""},
		{"underscore spellings of the standard list go", [][2]string{{"Keep_Alive", "5"}, {"Proxy_Connection", "x"}, {"Transfer_Encoding", "chunked"}},
			[]string{"Keep_Alive", "Proxy_Connection", "Transfer_Encoding"}, nil, ""},
		{"TE: trailers stays as ReverseProxy forwards it", [][2]string{{"Te", "gzip, trailers"}},
			nil, map[string]string{"Te": "trailers"}, ""},
		{"other TE goes", [][2]string{{"Te", "gzip"}}, []string{"Te"}, nil, ""},
		{"a nominated gateway header is removed from the client's request only", [][2]string{{"Connection", "X-Request-Id, X-Forwarded-For"}, {"X-Request-Id", "mine"}},
			nil, map[string]string{"X-Request-Id": "rid-1", "X-Forwarded-For": "203.0.113.5"}, ""},
		{"a WebSocket upgrade keeps exactly what is forwarded", [][2]string{{"Connection", "keep-alive, Upgrade, X-Secret"}, {"Upgrade", "websocket"}, {"X-Secret", "s"}},
			[]string{"X-Secret"}, map[string]string{"Connection": "Upgrade", "Upgrade": "websocket"}, ""},
		{"h2c is refused", [][2]string{{"Connection", "Upgrade, HTTP2-Settings"}, {"Upgrade", "h2c"}, {"Http2-Settings", "AAMAAABkAAQAoAAAAAIAAAAA"}}, nil, nil, ReasonUpgradeRefused},
		{"h2c in a list is refused", [][2]string{{"Connection", "Upgrade"}, {"Upgrade", "websocket, H2C"}}, nil, nil, ReasonUpgradeRefused},
		{"h2c with a version is refused", [][2]string{{"Connection", "Upgrade"}, {"Upgrade", "h2c/1"}}, nil, nil, ReasonUpgradeRefused},
		{"an Upgrade under an underscore spelling is refused", [][2]string{{"Connection", "Upgrade"}, {"Upgrade_", "x"}, {"UPGRADE", "h2c"}}, nil, nil, ReasonUpgradeRefused},
		{"another protocol is refused", [][2]string{{"Connection", "Upgrade"}, {"Upgrade", "TLS/1.2"}}, nil, nil, ReasonUpgradeRefused},
		{"websocket without Connection: upgrade is refused", [][2]string{{"Upgrade", "websocket"}}, nil, nil, ReasonUpgradeRefused},
		{"two Upgrade lines are refused", [][2]string{{"Connection", "Upgrade"}, {"Upgrade", "websocket"}, {"Upgrade", "websocket"}}, nil, nil, ReasonUpgradeRefused},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := request("GET", "/", tc.hdr)
			_, err := screen(c, r)
			if got := reason(err); got != tc.reason {
				t.Fatalf("reason %q, want %q", got, tc.reason)
			}
			if err != nil {
				if p := problem.As(err); p.Status != http.StatusForbidden {
					t.Errorf("status %d, want 403", p.Status)
				}
				return
			}
			for _, g := range tc.gone {
				if _, ok := r.Header[g]; ok {
					t.Errorf("%s kept: %v", g, r.Header)
				}
			}
			for k, v := range tc.kept {
				if got := strings.Join(r.Header[k], ", "); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
		})
	}
}

func TestWebSocketNeedsGETOverHTTP11(t *testing.T) {
	t.Parallel()
	c, _ := newCleaner(t, cleanerOpts{})
	ws := [][2]string{{"Connection", "Upgrade"}, {"Upgrade", "WebSocket"}}
	if _, err := screen(c, request("POST", "/", ws)); reason(err) != ReasonUpgradeRefused {
		t.Errorf("POST upgrade: %v", err)
	}
	r := request("GET", "/", ws)
	r.ProtoMajor, r.ProtoMinor = 1, 0
	if _, err := screen(c, r); reason(err) != ReasonUpgradeRefused {
		t.Errorf("HTTP/1.0 upgrade: %v", err)
	}
	r = request("GET", "/", ws)
	if _, err := screen(c, r); err != nil {
		t.Fatal(err)
	}
	if err := c.Prepare(r, &config.Route{}); reason(err) != ReasonUpgradeRefused {
		t.Errorf("route without upgrade: %v", err)
	}
	if err := c.Prepare(r, &config.Route{Upgrade: []string{"websocket"}}); err != nil {
		t.Errorf("opted-in route: %v", err)
	}
	if err := c.Prepare(request("GET", "/", nil), &config.Route{}); err != nil {
		t.Errorf("plain request: %v", err)
	}
}

func TestConnectRefused(t *testing.T) {
	t.Parallel()
	c, _ := newCleaner(t, cleanerOpts{})
	_, err := screen(c, request("CONNECT", "/", nil))
	if p := problem.As(err); p == nil || p.Status != http.StatusMethodNotAllowed || p.Reason != ReasonConnectRefused {
		t.Fatalf("got %v", err)
	}
}

func TestMethodOverride(t *testing.T) {
	t.Parallel()
	overrides := []struct {
		name   string
		target string
		hdr    [][2]string
	}{
		{"X-HTTP-Method-Override", "/x", [][2]string{{"X-HTTP-Method-Override", "DELETE"}}},
		{"X-Method-Override lower case", "/x", [][2]string{{"x-method-override", "delete"}}},
		{"X-HTTP-Method", "/x", [][2]string{{"X-Http-Method", "Delete"}}},
		{"underscore spelling", "/x", [][2]string{{"X_HTTP_Method_Override", "DELETE"}}},
		{"mixed spelling", "/x", [][2]string{{"x-http_method-OVERRIDE", "DELETE"}}},
		{"_method query", "/x?a=1&_method=DELETE&b=2", nil},
		{"_method upper case", "/x?_METHOD=delete", nil},
		{"_method encoded", "/x?%5Fmethod=DELETE", nil},
		{"_method with an encoded letter", "/x?_m%65thod=DELETE", nil},
		{"PHP reads .method as _method", "/x?.method=DELETE", nil},
		{"PHP reads +method as _method", "/x?+method=DELETE", nil},
		{"PHP reads [method as _method", "/x?[method=DELETE", nil},
		{"Rack reads ; as a separator", "/x?a=1;_method=DELETE", nil},
		{"_method without a value", "/x?_method", nil},
	}
	for _, tc := range overrides {
		t.Run("strip removes "+tc.name, func(t *testing.T) {
			c, _ := newCleaner(t, cleanerOpts{underscores: "allow"})
			r := request("POST", tc.target, tc.hdr)
			req, err := screen(c, r)
			if err != nil {
				t.Fatal(err)
			}
			for k := range r.Header {
				if c.kind(k)&kindOverride != 0 {
					t.Errorf("%s kept", k)
				}
			}
			if hasOverrideParam(r.URL.RawQuery) || strings.Contains(strings.ToLower(r.URL.RawQuery), "method") {
				t.Errorf("query kept an override: %q", r.URL.RawQuery)
			}
			if strings.Contains(tc.target, "a=1&") && !strings.Contains(r.URL.RawQuery, "a=1") {
				t.Errorf("other parameters lost: %q", r.URL.RawQuery)
			}
			if req.Method != "POST" || req.WireMethod != "POST" {
				t.Errorf("method %s wire %s", req.Method, req.WireMethod)
			}
		})
		t.Run("reject refuses "+tc.name, func(t *testing.T) {
			c, _ := newCleaner(t, cleanerOpts{underscores: "allow", override: "reject"})
			_, err := screen(c, request("POST", tc.target, tc.hdr))
			if p := problem.As(err); p == nil || p.Status != 400 || p.Reason != ReasonOverrideRejected {
				t.Errorf("got %v", err)
			}
		})
		if tc.name == "_method without a value" {
			continue
		}
		t.Run("judge shows both methods for "+tc.name, func(t *testing.T) {
			c, _ := newCleaner(t, cleanerOpts{underscores: "allow", override: "judge"})
			r := request("POST", tc.target, tc.hdr)
			raw := r.URL.RawQuery
			req, err := screen(c, r)
			if err != nil {
				t.Fatal(err)
			}
			if req.Method != "DELETE" || req.WireMethod != "POST" {
				t.Errorf("method %s wire %s, want DELETE and POST", req.Method, req.WireMethod)
			}
			if r.URL.RawQuery != raw || len(tc.hdr) != 0 && len(Values(r.Header, tc.hdr[0][0])) != 1 {
				t.Errorf("the override is not forwarded: %q %v", r.URL.RawQuery, r.Header)
			}
		})
	}
	t.Run("judge refuses overrides that disagree or are no method", func(t *testing.T) {
		c, _ := newCleaner(t, cleanerOpts{override: "judge"})
		for _, r := range []*http.Request{
			request("POST", "/x?_method=PUT", [][2]string{{"X-HTTP-Method-Override", "DELETE"}}),
			request("POST", "/x", [][2]string{{"X-HTTP-Method-Override", "DELETE"}, {"X-Method-Override", "PUT"}}),
			request("POST", "/x", [][2]string{{"X-HTTP-Method-Override", "DELETE, PUT"}}),
			request("POST", "/x?_method=DEL%20ETE", nil),
			request("POST", "/x?_method=", nil),
		} {
			if _, err := screen(c, r); reason(err) != ReasonOverrideInvalid {
				t.Errorf("%s %v: got %v", r.URL, r.Header, err)
			}
		}
		req, err := screen(c, request("POST", "/x?_method=delete", [][2]string{{"X-HTTP-Method-Override", "DELETE"}}))
		if err != nil || req.Method != "DELETE" {
			t.Errorf("agreeing overrides: %v %v", req.Method, err)
		}
	})
	t.Run("parameters that only look alike stay", func(t *testing.T) {
		c, _ := newCleaner(t, cleanerOpts{override: "reject"})
		for _, q := range []string{"/x?method=DELETE", "/x?__method=DELETE", "/x?_methods=1", "/x?x_method=1", "/x?q=_method"} {
			if _, err := screen(c, request("POST", q, nil)); err != nil {
				t.Errorf("%s: %v", q, err)
			}
		}
	})
}

func TestForwardingHeaders(t *testing.T) {
	t.Parallel()
	spoofs := [][2]string{}
	for _, n := range ForwardingHeaders {
		spoofs = append(spoofs, [2]string{n, "10.0.0.1"}, [2]string{strings.ReplaceAll(strings.ToLower(n), "-", "_"), "10.0.0.2"})
	}
	spoofs = append(spoofs, [2]string{"X-Custom-Client", "1.1.1.1"}, [2]string{"Proxy", "http://evil:3128"}, [2]string{"Accept", "a"})
	trusted := []string{"203.0.113.0/24"}
	t.Run("an untrusted peer's are replaced, in every spelling", func(t *testing.T) {
		c, _ := newCleaner(t, cleanerOpts{underscores: "allow", forwarding: []string{"X-Custom-Client"}})
		r := request("GET", "/", append(spoofs, [2]string{"Host", "API.Example.com:8443"}))
		if _, err := screen(c, r); err != nil {
			t.Fatal(err)
		}
		want := http.Header{"Accept": {"a"}, "X-Forwarded-For": {"203.0.113.5"}, "X-Forwarded-Host": {"api.example.com:8443"},
			"X-Forwarded-Proto": {"http"}, "X-Request-Id": {"rid-1"}}
		if !equalHeaders(r.Header, want) {
			t.Errorf("got %v\nwant %v", r.Header, want)
		}
	})
	t.Run("a trusted peer's are kept and X-Forwarded-For appended to", func(t *testing.T) {
		c, _ := newCleaner(t, cleanerOpts{trusted: trusted})
		r := request("GET", "/", [][2]string{{"X-Forwarded-For", "198.51.100.1"}, {"X-Forwarded-Host", "front.example"},
			{"X-Forwarded-Proto", "https"}, {"X-Real-IP", "198.51.100.1"}, {"Forwarded", "for=x"}, {"Proxy", "http://evil"}})
		if _, err := screen(c, r); err != nil {
			t.Fatal(err)
		}
		want := http.Header{"X-Forwarded-For": {"198.51.100.1, 203.0.113.5"}, "X-Forwarded-Host": {"front.example"},
			"X-Forwarded-Proto": {"https"}, "X-Real-Ip": {"198.51.100.1"}, "X-Request-Id": {"rid-1"}}
		if !equalHeaders(r.Header, want) {
			t.Errorf("got %v\nwant %v", r.Header, want)
		}
	})
	t.Run("a trusted peer's odd X-Forwarded-Proto is replaced", func(t *testing.T) {
		c, _ := newCleaner(t, cleanerOpts{trusted: trusted})
		r := request("GET", "/", [][2]string{{"X-Forwarded-Proto", "gopher"}})
		r.TLS = &tls.ConnectionState{}
		if _, err := screen(c, r); err != nil {
			t.Fatal(err)
		}
		if got := r.Header.Get("X-Forwarded-Proto"); got != "https" {
			t.Errorf("X-Forwarded-Proto %q", got)
		}
	})
	t.Run("CopyForwarding sends what Screen set", func(t *testing.T) {
		out := http.Header{}
		CopyForwarding(http.Header{"X-Forwarded-For": {"a"}, "X-Forwarded-Host": {"h"}, "X-Forwarded-Proto": {"http"}, "X-Real-Ip": {"b"}}, out)
		if len(out) != 3 || out.Get("X-Forwarded-For") != "a" {
			t.Errorf("copied %v", out)
		}
	})
}

func equalHeaders(a, b http.Header) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if !slices.Equal(v, b[k]) {
			return false
		}
	}
	return true
}

func TestRequestIDHeader(t *testing.T) {
	t.Parallel()
	c, _ := newCleaner(t, cleanerOpts{underscores: "allow"})
	for _, hdr := range [][][2]string{nil, {{"X-Request-Id", "rid-1"}}, {{"X-Request-Id", "other"}}, {{"X_Request_Id", "spoof"}}, {{"X-Request-Id", "rid-1"}, {"x_request_id", "spoof"}}} {
		r := request("GET", "/", hdr)
		if _, err := screen(c, r); err != nil {
			t.Fatal(err)
		}
		if v := Values(r.Header, RequestIDHeader); !slices.Equal(v, []string{"rid-1"}) {
			t.Errorf("%v: request id headers %v", hdr, v)
		}
	}
}
