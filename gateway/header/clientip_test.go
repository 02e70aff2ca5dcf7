package header

import (
	"testing"

	"github.com/portcullis/portcullis/policy"
)

func TestClientIP(t *testing.T) {
	trusted := []string{"10.0.0.0/8", "2001:db8:ffff::/48"}
	for _, tc := range []struct {
		name, remote string
		hdr          [][2]string
		want         string
	}{
		{"an untrusted peer is the client, whatever it forwards", "203.0.113.5:4711",
			[][2]string{{"X-Forwarded-For", "198.51.100.1"}}, "203.0.113.5"},
		{"a trusted peer without a chain is the client", "10.0.0.2:4711", nil, "10.0.0.2"},
		{"the right-most untrusted hop behind a trusted peer", "10.0.0.2:4711",
			[][2]string{{"X-Forwarded-For", "1.1.1.1, 198.51.100.7, 10.1.2.3"}}, "198.51.100.7"},
		{"several X-Forwarded-For fields are one list", "10.0.0.2:4711",
			[][2]string{{"X-Forwarded-For", "1.1.1.1"}, {"X-Forwarded-For", "198.51.100.7"}}, "198.51.100.7"},
		{"a spoofed left-most entry is never believed", "10.0.0.2:4711",
			[][2]string{{"X-Forwarded-For", "10.9.9.9, 198.51.100.7"}}, "198.51.100.7"},
		{"every hop trusted: the left-most", "10.0.0.2:4711",
			[][2]string{{"X-Forwarded-For", "10.3.3.3, 10.1.2.3"}}, "10.3.3.3"},
		{"garbage ends the walk at the last trusted hop", "10.0.0.2:4711",
			[][2]string{{"X-Forwarded-For", "198.51.100.7, nonsense, 10.1.2.3"}}, "10.1.2.3"},
		{"hops with ports", "10.0.0.2:4711",
			[][2]string{{"X-Forwarded-For", "198.51.100.7:1234, 10.1.2.3:80"}}, "198.51.100.7"},
		{"IPv6 peer and hops", "[2001:db8:ffff::1]:443",
			[][2]string{{"X-Forwarded-For", "2001:db8::7, 2001:db8:ffff::2"}}, "2001:db8::7"},
		{"Forwarded for= without X-Forwarded-For", "10.0.0.2:4711",
			[][2]string{{"Forwarded", `for=198.51.100.7;proto=https, for="[2001:db8:ffff::9]:80"`}}, "198.51.100.7"},
		{"Forwarded for=unknown stops at the trusted hop", "10.0.0.2:4711",
			[][2]string{{"Forwarded", "for=unknown, for=10.1.2.3"}}, "10.1.2.3"},
		{"Forwarded element without for= stops the walk", "10.0.0.2:4711",
			[][2]string{{"Forwarded", "for=198.51.100.7, proto=http"}}, "10.0.0.2"},
		{"X-Forwarded-For wins over Forwarded", "10.0.0.2:4711",
			[][2]string{{"X-Forwarded-For", "198.51.100.1"}, {"Forwarded", "for=198.51.100.2"}}, "198.51.100.1"},
		{"IPv4-mapped peer is trusted as IPv4", "[::ffff:10.0.0.2]:4711",
			[][2]string{{"X-Forwarded-For", "198.51.100.7"}}, "198.51.100.7"},
		{"a peer without an IP address has none", "@unix", nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := newCleaner(t, cleanerOpts{trusted: trusted})
			r := request("GET", "/", tc.hdr)
			r.RemoteAddr = tc.remote
			var req policy.Request
			if err := c.Screen(r, &req); err != nil {
				t.Fatal(err)
			}
			if req.ClientIP != tc.want {
				t.Errorf("client ip %q, want %q", req.ClientIP, tc.want)
			}
		})
	}
}

// FuzzClientIP: behind a trusted peer with an address, any forwarding
// chain yields some address (the peer's at worst), and never panics.
func FuzzClientIP(f *testing.F) {
	f.Add("1.1.1.1, 198.51.100.7, 10.1.2.3", `for=198.51.100.7;proto=https, for="[2001:db8::9]:80"`)
	f.Add("", "for=unknown")
	f.Add("[::1]:80,,", `for="`)
	c, _ := newCleaner(f, cleanerOpts{trusted: []string{"10.0.0.0/8", "::1/128"}})
	f.Fuzz(func(t *testing.T, xff, fwd string) {
		peer, _ := parseHop("10.0.0.2")
		var x, fw []string
		if xff != "" {
			x = []string{xff}
		}
		if fwd != "" {
			fw = []string{fwd}
		}
		got := c.clientIP(peer, x, fw)
		if !got.IsValid() {
			t.Fatalf("no client address for a trusted peer with an address")
		}
	})
}

func TestAddrStringIsTheCanonicalForm(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"203.0.113.5", "::1", "::ffff:192.0.2.1", "[2001:db8::1]", "2001:DB8::1", "[192.0.2.1]", "0.0.0.0"} {
		a, ok := parseAddr(s)
		if !ok {
			t.Fatalf("parseAddr(%q) failed", s)
		}
		if got := addrString(a, s); got != a.String() {
			t.Errorf("addrString(%q) = %q, want %q", s, got, a.String())
		}
	}
}
