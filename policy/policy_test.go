package policy

import "testing"

func TestEnvoyFields(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		r          Request
		path, host string
		port       int
		ok         bool
	}{
		{"no query, IPv4 with port", Request{Path: "/a", RemoteAddr: "192.0.2.7:51234"}, "/a", "192.0.2.7", 51234, true},
		{"query sorted and escaped, IPv6", Request{Path: "/a", Query: map[string][]string{"b": {"x y"}, "a": {"1", "2"}}, RemoteAddr: "[2001:db8::1]:443"},
			"/a?a=1&a=2&b=x+y", "2001:db8::1", 443, true},
		{"an address without a port", Request{Path: "/", RemoteAddr: "@unix"}, "/", "@unix", 0, false},
		{"a port that is not a number", Request{Path: "/", RemoteAddr: "h:http"}, "/", "h", 0, false},
	}
	for _, tc := range tests {
		host, port, ok := tc.r.EnvoySource()
		if got := tc.r.EnvoyPath(); got != tc.path || host != tc.host || port != tc.port || ok != tc.ok {
			t.Errorf("%s: path %q, source %q %d %v; want %q, %q %d %v", tc.name, got, host, port, ok, tc.path, tc.host, tc.port, tc.ok)
		}
	}
}
