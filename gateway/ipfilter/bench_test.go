package ipfilter

import (
	"net/netip"
	"testing"
)

// BenchmarkAdmits is the cost of the lists of the example schema for one request.
func BenchmarkAdmits(b *testing.B) {
	f, err := New([]string{"10.0.0.0/8", "2001:db8::/32"}, []string{"192.0.2.0/24"})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		a, _ := netip.ParseAddr("10.1.2.3")
		if !f.Admits(a) {
			b.Fatal("refused")
		}
	}
}
