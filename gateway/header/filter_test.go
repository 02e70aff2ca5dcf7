package header

import "testing"

// FuzzCleanerKind checks that the filter in front of the kinds table never
// hides a name the table holds, in any spelling.
func FuzzCleanerKind(f *testing.F) {
	for _, n := range append(append(append([]string{"", "X-Request-Id", "x_forwarded_for", "PROXY", "te"}, HopByHop...), ForwardingHeaders...), MethodOverrideHeaders...) {
		f.Add(n)
	}
	c, _ := newCleaner(f, cleanerOpts{forwarding: []string{"X-Custom-Client"}})
	f.Fuzz(func(t *testing.T, name string) {
		if got, want := c.kind(name), c.kinds[Fold(name)]; got != want {
			t.Fatalf("kind(%q) = %b, the table says %b", name, got, want)
		}
	})
}

// TestFilterPassesOrdinaryHeadersQuickly pins what the filter is for: the
// headers of an ordinary request are answered without a lookup.
func TestFilterPassesOrdinaryHeadersQuickly(t *testing.T) {
	t.Parallel()
	c, _ := newCleaner(t, cleanerOpts{})
	for _, n := range []string{"Accept", "Accept-Encoding", "Authorization", "Content-Type", "Content-Length", "Cookie", "User-Agent"} {
		if c.filter.mayHold(n) {
			t.Errorf("%s goes to the table", n)
		}
	}
}
