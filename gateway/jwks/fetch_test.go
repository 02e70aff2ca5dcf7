package jwks

import (
	"net/http"
	"net/url"
	"testing"
	"time"
)

func TestNextRefreshHonoursMaxAgeWithinBounds(t *testing.T) {
	t.Parallel()
	s, err := New(WithTestDefaults(Options{URL: "https://issuer.test/jwks", RefreshInterval: 5 * time.Minute, MinRefreshInterval: 30 * time.Second}))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		cc   []string
		want time.Duration
	}{
		{name: "no Cache-Control uses the refresh interval", want: 5 * time.Minute},
		{name: "max-age within bounds is used", cc: []string{"public, max-age=3600"}, want: time.Hour},
		{name: "max-age below the minimum is raised", cc: []string{"max-age=0"}, want: 30 * time.Second},
		{name: "max-age above a day is capped", cc: []string{"max-age=999999"}, want: 24 * time.Hour},
		{name: "directive names are case-insensitive", cc: []string{"Max-Age=120"}, want: 2 * time.Minute},
		{name: "a quoted value is accepted", cc: []string{`max-age="60"`}, want: time.Minute},
		{name: "a negative max-age is ignored", cc: []string{"max-age=-5"}, want: 5 * time.Minute},
		{name: "a garbage max-age is ignored", cc: []string{"max-age=soon"}, want: 5 * time.Minute},
		{name: "conflicting max-age values are ignored", cc: []string{"max-age=60", "max-age=120"}, want: 5 * time.Minute},
		{name: "other directives are ignored", cc: []string{"no-cache, must-revalidate"}, want: 5 * time.Minute},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := s.nextRefresh(tc.cc); got != tc.want {
				t.Fatalf("nextRefresh(%q) = %s, want %s", tc.cc, got, tc.want)
			}
		})
	}
}

func FuzzMaxAge(f *testing.F) {
	for _, s := range []string{"max-age=60", "public, max-age=0", "max-age", "max-age=", "MAX-AGE=\"1\"", ",,,", "max-age=99999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		d, ok := maxAge([]string{v})
		if !ok && d != 0 {
			t.Fatalf("maxAge(%q) = %s with ok=false", v, d)
		}
		if d < 0 {
			t.Fatalf("maxAge(%q) = %s, negative", v, d)
		}
	})
}

func TestCheckRedirect(t *testing.T) {
	t.Parallel()
	req := func(raw string) *http.Request {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		return &http.Request{URL: u}
	}
	tests := []struct {
		name string
		to   string
		via  []*http.Request
		ok   bool
	}{
		{name: "https to https is followed", to: "https://b.test/", via: []*http.Request{req("https://a.test/")}, ok: true},
		{name: "https to http is refused", to: "http://b.test/", via: []*http.Request{req("https://a.test/")}},
		{name: "a fourth redirect is refused", to: "https://b.test/", via: []*http.Request{req("https://a.test/"), req("https://a.test/"), req("https://a.test/")}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if err := checkRedirect(req(tc.to), tc.via); (err == nil) != tc.ok {
				t.Fatalf("checkRedirect = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}
