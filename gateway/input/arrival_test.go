package input

import "testing"

func TestTargetPathIsThePathAsReceived(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ target, want string }{
		{"/a/b", "/a/b"},
		{"/a/b?access_token=secret", "/a/b"},
		{"/a/%2e%2e/b", "/a/%2e%2e/b"},
		{"/a%2Fb;x=1", "/a%2Fb;x=1"},
		{"/a#frag", "/a"},
		{"//double//slash", "//double//slash"},
		{"http://user:pass@example.com/x?y=1", "/x"},
		{"https://example.com", "/"},
		{"example.com:443", "example.com:443"},
		{"user:pass@example.com:443", "example.com:443"},
		{"*", "*"},
		{"/caf\xc3\xa9", "/caf%C3%A9"},
		{"/a\x7fb\xff", "/a%7Fb%FF"},
		{"/tab\there", "/tab%09here"},
		{"", ""},
	} {
		if got := targetPath(tc.target); got != tc.want {
			t.Errorf("targetPath(%q) = %q, want %q", tc.target, got, tc.want)
		}
	}
}
