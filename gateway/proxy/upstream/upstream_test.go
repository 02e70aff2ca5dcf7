package upstream

import (
	"errors"
	"testing"
)

func TestParseAll(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		one  string
		list []string
		want int
		err  string
	}{
		{name: "one upstream", one: "http://a:1", want: 1},
		{name: "a list of upstreams", list: []string{"http://a:1", "https://b/base"}, want: 2},
		{name: "none is refused", err: "no upstream"},
		{name: "both is refused", one: "http://a", list: []string{"http://b"}, err: "set upstream or upstreams, not both"},
		{name: "another scheme is refused", one: "ftp://a", err: `"ftp://a" must be an absolute http or https URL`},
		{name: "a relative URL is refused", list: []string{"http://a", "/b"}, err: `"/b" must be an absolute http or https URL`},
		{name: "a query is refused", one: "http://a/?x=1", err: `"http://a/?x=1" must not have a query or fragment`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			us, err := ParseAll(tc.one, tc.list)
			if tc.err != "" {
				if err == nil || err.Error() != tc.err {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || len(us) != tc.want {
				t.Fatalf("got %v, %v; want %d URLs", us, err, tc.want)
			}
		})
	}
	if _, err := ParseAll("", nil); !errors.Is(err, ErrNone) {
		t.Fatalf("err = %v, want ErrNone", err)
	}
}
