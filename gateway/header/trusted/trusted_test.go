package trusted

import "testing"

func TestParse(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want, err string }{
		{in: "10.1.2.3/8", want: "10.0.0.0/8"},
		{in: "192.0.2.1", want: "192.0.2.1/32"},
		{in: "2001:db8::1", want: "2001:db8::1/128"},
		{in: "proxy.internal", err: `"proxy.internal" is not a CIDR or IP address`},
	} {
		p, err := Parse(tc.in)
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("Parse(%q) err = %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || p.String() != tc.want {
			t.Errorf("Parse(%q) = %v, %v; want %s", tc.in, p, err, tc.want)
		}
	}
}
