package template

import "testing"

func TestCompile(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, tmpl, path string
		match            bool
		err              string
	}{
		{name: "a variable matches one segment", tmpl: "/users/{id}", path: "/users/7", match: true},
		{name: "a variable does not match two segments", tmpl: "/users/{id}", path: "/users/7/x"},
		{name: "a variable does not match an empty segment", tmpl: "/users/{id}", path: "/users/"},
		{name: "literals are not patterns", tmpl: "/a.b", path: "/axb"},
		{name: "a literal matches itself", tmpl: "/a.b/{x}/c", path: "/a.b/1/c", match: true},
		{name: "a template must start with a slash", tmpl: "users", err: `"users" must start with /`},
		{name: "a variable must be a whole segment", tmpl: "/users/{id}x", err: `"/users/{id}x": segment "{id}x" must be a literal or a whole {name}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tp, err := Compile(tc.tmpl)
			if tc.err != "" {
				if err == nil || err.Error() != tc.err {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := tp.Match(tc.path); got != tc.match {
				t.Fatalf("Match(%q) = %v, want %v", tc.path, got, tc.match)
			}
		})
	}
}
