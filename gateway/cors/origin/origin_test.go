package origin

import (
	"net/url"
	"strings"
	"testing"
)

func mustSet(t testing.TB, patterns ...string) *Set {
	t.Helper()
	s, err := NewSet(patterns)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestMatch(t *testing.T) {
	t.Parallel()
	s := mustSet(t, "http://localhost:3000", "https://*.example.com", "https://api.example.org", "http://[2001:db8::1]:8080", "https://*.example.net:8443")
	for _, tc := range []struct {
		name   string
		origin string
		want   bool
	}{
		{"an exact origin matches", "http://localhost:3000", true},
		{"an exact origin matches whatever the case", "HTTP://LocalHost:3000", true},
		{"another port does not match", "http://localhost:3001", false},
		{"no port does not match a port", "http://localhost", false},
		{"another scheme does not match", "https://localhost:3000", false},
		{"a path after the origin does not match", "http://localhost:3000/", false},
		{"a subdomain matches the wildcard", "https://a.example.com", true},
		{"a deeper subdomain matches the wildcard", "https://a.b.example.com", true},
		{"the wildcard's own domain does not match", "https://example.com", false},
		{"a suffix attack does not match", "https://a.example.com.evil.com", false},
		{"a name ending in the domain without a dot does not match", "https://evilexample.com", false},
		{"an empty label does not match", "https://.example.com", false},
		{"two dots do not match", "https://a..example.com", false},
		{"the wildcard with another scheme does not match", "http://a.example.com", false},
		{"the wildcard with a port does not match a portless pattern", "https://a.example.com:444", false},
		{"the wildcard with its port matches", "https://x.example.net:8443", true},
		{"the wildcard without its port does not match", "https://x.example.net", false},
		{"userinfo does not match", "https://user@a.example.com", false},
		{"a backslash does not match", `https://a.example.com\@evil.com`, false},
		{"a bracketed IPv6 origin matches exactly", "http://[2001:db8::1]:8080", true},
		{"null does not match", "null", false},
		{"an empty origin does not match", "", false},
		{"an exact origin does not act as a wildcard", "https://x.api.example.org", false},
		{"a port with a leading zero does not match", "https://x.example.net:08443", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := s.Match(tc.origin); got != tc.want {
				t.Fatalf("Match(%q) = %v, want %v", tc.origin, got, tc.want)
			}
		})
	}
}

func TestMatchAny(t *testing.T) {
	t.Parallel()
	s := mustSet(t, "*")
	for origin, want := range map[string]bool{"https://anything.test": true, "http://127.0.0.1:8080": true, "null": false, "not an origin": false, "https://a.test/path": false} {
		if got := s.Match(origin); got != want {
			t.Errorf("Match(%q) = %v, want %v", origin, got, want)
		}
	}
	if !s.AllowsAny() {
		t.Fatal("AllowsAny is false for *")
	}
}

// FuzzMatch checks what a match promises against net/url's reading of the
// origin: a matched origin is scheme://host[:port] and nothing else, and a
// wildcard match is a proper subdomain with the pattern's scheme and port.
func FuzzMatch(f *testing.F) {
	for _, s := range []string{"https://a.example.com", "https://example.com", "https://a.example.com.evil.com", "http://localhost:3000",
		"https://a.example.com:8443", "https://user@a.example.com", "https://a.example.com/x", "https://[::1]", "null", "HTTPS://A.EXAMPLE.COM"} {
		f.Add(s)
	}
	s := mustSet(f, "http://localhost:3000", "https://*.example.com", "https://*.example.net:8443")
	f.Fuzz(func(t *testing.T, origin string) {
		if !s.Match(origin) {
			return
		}
		u, err := url.Parse(strings.ToLower(origin))
		if err != nil || u.User != nil || u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
			t.Fatalf("Match(%q) is true for something that is not an origin (%v)", origin, err)
		}
		host, port := u.Hostname(), u.Port()
		switch {
		case u.Scheme == "http" && host == "localhost" && port == "3000":
		case u.Scheme == "https" && port == "" && strings.HasSuffix(host, ".example.com") && len(host) > len(".example.com") && !strings.Contains(host, ".."):
		case u.Scheme == "https" && port == "8443" && strings.HasSuffix(host, ".example.net") && len(host) > len(".example.net") && !strings.Contains(host, ".."):
		default:
			t.Fatalf("Match(%q) is true: scheme %q host %q port %q fit no pattern", origin, u.Scheme, host, port)
		}
	})
}
