package ipfilter

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/gateway/input"
	"github.com/portcullis/portcullis/gateway/pipeline"
	"github.com/portcullis/portcullis/gateway/problem"
)

func TestAdmits(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name        string
		allow, deny []string
		addr        string
		want        bool
	}{
		{"an address in the allow list passes", []string{"10.0.0.0/8"}, nil, "10.1.2.3", true},
		{"an address outside the allow list is refused", []string{"10.0.0.0/8"}, nil, "11.0.0.1", false},
		{"the first address of a CIDR is in it", []string{"10.0.0.0/8"}, nil, "10.0.0.0", true},
		{"the last address of a CIDR is in it", []string{"10.0.0.0/8"}, nil, "10.255.255.255", true},
		{"the address after a CIDR is not", []string{"10.0.0.0/8"}, nil, "11.0.0.0", false},
		{"a CIDR with host bits is masked", []string{"192.0.2.77/24"}, nil, "192.0.2.1", true},
		{"deny is checked first", []string{"192.0.2.0/24"}, []string{"192.0.2.7"}, "192.0.2.7", false},
		{"deny alone lets others pass", nil, []string{"192.0.2.0/24"}, "198.51.100.1", true},
		{"deny alone refuses its own", nil, []string{"192.0.2.0/24"}, "192.0.2.200", false},
		{"a single address allows only itself", []string{"192.0.2.7"}, nil, "192.0.2.8", false},
		{"an IPv6 CIDR admits its addresses", []string{"2001:db8::/32"}, nil, "2001:db8:ffff::1", true},
		{"an IPv6 CIDR refuses others", []string{"2001:db8::/32"}, nil, "2001:db9::1", false},
		{"an IPv4-mapped client is compared as IPv4", []string{"10.0.0.0/8"}, nil, "::ffff:10.0.0.1", true},
		{"an IPv4-mapped entry covers IPv4 clients", []string{"::ffff:10.0.0.0/104"}, nil, "10.9.9.9", true},
		{"an IPv4-mapped deny entry refuses IPv4 clients", nil, []string{"::ffff:192.0.2.1"}, "192.0.2.1", false},
		{"an IPv4 list does not admit IPv6", []string{"0.0.0.0/0"}, nil, "2001:db8::1", false},
		{"an IPv6 list does not admit IPv4", []string{"::/0"}, nil, "192.0.2.1", false},
		{"an unknown address is refused by a deny list", nil, []string{"192.0.2.0/24"}, "", false},
		{"an unknown address is refused by an allow list", []string{"0.0.0.0/0", "::/0"}, nil, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f, err := New(tc.allow, tc.deny)
			if err != nil {
				t.Fatal(err)
			}
			a, _ := netip.ParseAddr(tc.addr)
			if got := f.Admits(a); got != tc.want {
				t.Fatalf("Admits(%q) = %v, want %v", tc.addr, got, tc.want)
			}
		})
	}
}

func TestNewRefuses(t *testing.T) {
	t.Parallel()
	if _, err := New(nil, nil); err == nil {
		t.Fatal("New without lists succeeded")
	}
	_, err := New([]string{"10.0.0.0/8", "office"}, []string{"::1/200"})
	if err == nil || !strings.Contains(err.Error(), `ip_allow[1]: "office" is not a CIDR or IP address`) || !strings.Contains(err.Error(), `ip_deny[0]: "::1/200"`) {
		t.Fatalf("err = %v", err)
	}
}

func TestMiddlewareRefusesBeforeTheNextStage(t *testing.T) {
	t.Parallel()
	f, err := New(nil, []string{"192.0.2.0/24"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		clientIP string
		want     problem.Reason // "" passes
	}{{"192.0.2.9", ReasonDenied}, {"198.51.100.1", ""}, {"", ReasonDenied}} {
		ran := false
		h := f.Middleware(pipeline.HandlerFunc(func(http.ResponseWriter, *http.Request) error { ran = true; return nil }))
		var rq pipeline.Request
		var d input.Doc
		d.Request.ClientIP = tc.clientIP
		input.Part.Bind(&rq, &d)
		r := httptest.NewRequest("GET", "/", nil).WithContext(pipeline.WithRequest(context.Background(), &rq))
		err := h.ServeHTTP(httptest.NewRecorder(), r)
		p := problem.As(err)
		switch {
		case tc.want == "" && (err != nil || !ran):
			t.Errorf("%q: err %v, next ran %v", tc.clientIP, err, ran)
		case tc.want != "" && (p == nil || p.Reason != tc.want || p.Status != http.StatusForbidden || ran):
			t.Errorf("%q: err %v, next ran %v; want 403 %s", tc.clientIP, err, ran, tc.want)
		}
	}
}
