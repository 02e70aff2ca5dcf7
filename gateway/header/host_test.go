package header

import (
	"crypto/tls"
	"net/http"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/gateway/problem"
)

func TestParseHost(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, host string
		port     int
		bad      bool
	}{
		{"api.example.com", "api.example.com", 0, false},
		{"API.Example.COM", "api.example.com", 0, false},
		{"api.example.com.", "api.example.com", 0, false},
		{"API.example.com.:8443", "api.example.com", 8443, false},
		{"api.example.com:", "api.example.com", 0, false},
		{"127.0.0.1:8080", "127.0.0.1", 8080, false},
		{"[::1]:8080", "::1", 8080, false},
		{"[0:0::1]", "::1", 0, false},
		{"[2001:DB8::1]:443", "2001:db8::1", 443, false},
		{"under_score.internal", "under_score.internal", 0, false},
		{"", "", 0, false},
		{"user@api.example.com", "", 0, true},
		{"user:pass@api.example.com", "", 0, true},
		{"api.example.com:0", "", 0, true},
		{"api.example.com:65536", "", 0, true},
		{"api.example.com:+80", "", 0, true},
		{"api.example.com:080800", "", 0, true},
		{"api.example.com:80:80", "", 0, true},
		{"api%2eexample.com", "", 0, true},
		{"api..example.com", "", 0, true},
		{".example.com", "", 0, true},
		{".", "", 0, true},
		{"api.example.com..", "", 0, true},
		{"a b", "", 0, true},
		{"[::1", "", 0, true},
		{"[::1]x", "", 0, true},
		{"[fe80::1%25eth0]", "", 0, true},
		{"[127.0.0.1]", "", 0, true},
		{"exa\\mple.com", "", 0, true},
		{"example.com/x", "", 0, true},
	}
	for _, tc := range tests {
		h, p, err := ParseHost(tc.in)
		if (err != nil) != tc.bad || h != tc.host || p != tc.port {
			t.Errorf("ParseHost(%q) = %q, %d, %v; want %q, %d, bad=%v", tc.in, h, p, err, tc.host, tc.port, tc.bad)
		}
	}
}

func TestScreenHost(t *testing.T) {
	t.Parallel()
	c, _ := newCleaner(t, cleanerOpts{})
	tests := []struct {
		name     string
		host     string
		h2Host   []string
		tls      bool
		wantHost string
		wantPort int
		wantR    string
		reason   string
	}{
		{"lower-cased, dot removed, port split", "API.Example.com.:8443", nil, false, "api.example.com", 8443, "api.example.com:8443", ""},
		{"no port is the scheme's default", "api.example.com", nil, false, "api.example.com", 80, "api.example.com", ""},
		{"no port over TLS is 443", "api.example.com", nil, true, "api.example.com", 443, "api.example.com", ""},
		{"IPv6", "[::1]:9000", nil, false, "::1", 9000, "[::1]:9000", ""},
		{"userinfo is refused", "u@api.example.com", nil, false, "", 0, "", ReasonHostRejected},
		{"HTTP/2 host equal to :authority is accepted and removed", "api.example.com", []string{"API.example.com."}, true, "api.example.com", 443, "api.example.com", ""},
		{"HTTP/2 host different from :authority", "api.example.com", []string{"admin.example.com"}, true, "", 0, "", ReasonHostMismatch},
		{"HTTP/2 host with another port", "api.example.com", []string{"api.example.com:8443"}, true, "", 0, "", ReasonHostMismatch},
		{"HTTP/2 two host headers, one different", "api.example.com", []string{"api.example.com", "other"}, true, "", 0, "", ReasonHostMismatch},
		{"HTTP/2 malformed host", "api.example.com", []string{"api.example.com@evil"}, true, "", 0, "", ReasonHostMismatch},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := request("GET", "/", nil)
			r.Host = tc.host
			if tc.h2Host != nil {
				r.ProtoMajor, r.ProtoMinor = 2, 0
				r.Header["Host"] = tc.h2Host
			}
			if tc.tls {
				r.TLS = &tls.ConnectionState{}
			}
			req, err := screen(c, r)
			if got := reason(err); got != tc.reason {
				t.Fatalf("reason %q, want %q", got, tc.reason)
			}
			if err != nil {
				if problem.As(err).Status != http.StatusBadRequest {
					t.Errorf("status %d", problem.As(err).Status)
				}
				return
			}
			if req.Host != tc.wantHost || req.Port != tc.wantPort || r.Host != tc.wantR {
				t.Errorf("host %q port %d r.Host %q", req.Host, req.Port, r.Host)
			}
			if _, ok := r.Header["Host"]; ok {
				t.Error("the host header is still in the header set")
			}
			if got := r.Header.Get("X-Forwarded-Host"); got != tc.wantR {
				t.Errorf("X-Forwarded-Host %q, want %q", got, tc.wantR)
			}
		})
	}
}

// FuzzParseHost checks that a parsed host parses to itself again: what
// routing, the policy and X-Forwarded-Host share is a fixed point.
func FuzzParseHost(f *testing.F) {
	for _, s := range []string{"api.example.com", "API.example.com.:8443", "[::1]:80", "u@h", "h:", "[fe80::1%25x]", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		h, p, err := ParseHost(s)
		if err != nil {
			return
		}
		again := h
		if strings.IndexByte(h, ':') >= 0 {
			again = "[" + h + "]"
		}
		if h2, p2, err := ParseHost(again); err != nil || h2 != h || p2 != 0 {
			t.Fatalf("ParseHost(%q) = %q; again: %q %d %v", s, h, h2, p2, err)
		}
		if p < 0 || p > 65535 {
			t.Fatalf("port %d", p)
		}
	})
}
