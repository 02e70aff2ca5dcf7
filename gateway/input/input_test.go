package input

import (
	"net/http/httptest"
	"reflect"
	"testing"

	"github.com/portcullis/portcullis/gateway/config"
	"github.com/portcullis/portcullis/gateway/header"
)

func TestRoutedHidesCredentialQueryAndKeepsTheWholeQueryForValidation(t *testing.T) {
	t.Parallel()
	rt := &config.Route{Name: "r"}
	b := New(Options{
		Exclude:         header.NewSet("Authorization"),
		Secret:          func(name string) bool { return name == "password" },
		CredentialQuery: map[*config.Route][]string{rt: {"access_token"}},
	})
	for _, tc := range []struct {
		target      string
		input, full map[string][]string
	}{
		{"/a", nil, nil},
		{"/a?limit=1&limit=2&x=", map[string][]string{"limit": {"1", "2"}, "x": {""}}, map[string][]string{"limit": {"1", "2"}, "x": {""}}},
		{"/a?access_token=t&limit=1", map[string][]string{"limit": {"1"}}, map[string][]string{"access_token": {"t"}, "limit": {"1"}}},
		{"/a?password=p&access_token=t", map[string][]string{}, map[string][]string{"access_token": {"t"}, "password": {"p"}}},
		{"/a?limit=1&password=p", map[string][]string{"limit": {"1"}}, map[string][]string{"limit": {"1"}, "password": {"p"}}},
	} {
		r := httptest.NewRequest("GET", tc.target, nil)
		var d Doc
		b.Routed(&d, r, rt)
		if !reflect.DeepEqual(d.Request.Query, tc.input) {
			t.Errorf("%s: input query %v, want %v", tc.target, d.Request.Query, tc.input)
		}
		q, ok := d.ParsedQuery(r.URL.RawQuery)
		if ok != (tc.full != nil) || ok && !reflect.DeepEqual(map[string][]string(q), tc.full) {
			t.Errorf("%s: parsed query %v, %v, want %v", tc.target, q, ok, tc.full)
		}
		if _, ok := d.ParsedQuery(r.URL.RawQuery + "&y=1"); ok {
			t.Errorf("%s: parsed query offered for another raw query", tc.target)
		}
	}
}

func BenchmarkRouted(b *testing.B) {
	rt := &config.Route{Name: "r"}
	bl := New(Options{Exclude: header.NewSet("Authorization"), Secret: func(string) bool { return false }})
	r := httptest.NewRequest("GET", "/api/v1/users/bench-user-00042?limit=10", nil)
	r.Header.Set("Authorization", "Bearer x")
	r.Header.Set("Accept", "application/json")
	r.Header.Set("User-Agent", "wrk")
	b.ReportAllocs()
	for b.Loop() {
		var d Doc
		bl.Routed(&d, r, rt)
	}
}

func TestRoutedHeadersAreLowerCaseWithoutExcludedOnes(t *testing.T) {
	t.Parallel()
	rt := &config.Route{Name: "r"}
	b := New(Options{Exclude: header.NewSet("authorization", "X-Api-Key", "X-User-Id"), Secret: func(string) bool { return false }})
	r := httptest.NewRequest("GET", "/a", nil)
	for k, v := range map[string][]string{
		"Authorization": {"Bearer x"}, "X-Api-Key": {"k"}, "X-User-Id": {"u"}, "Cookie": {"a=1"},
		"Accept": {"a", "b"}, "User-Agent": {"wrk"}, "X-Custom-Thing": {"c"},
	} {
		r.Header[k] = v
	}
	var d Doc
	b.Routed(&d, r, rt)
	want := map[string]string{"cookie": "a=1", "accept": "a, b", "user-agent": "wrk", "x-custom-thing": "c"}
	if !reflect.DeepEqual(d.Request.Headers, want) {
		t.Errorf("headers %v, want %v", d.Request.Headers, want)
	}
}
