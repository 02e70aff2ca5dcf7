package template

import (
	"reflect"
	"testing"
)

func TestCompile(t *testing.T) {
	t.Parallel()
	lit := func(s string) Segment { return Segment{Literal: s} }
	v := Segment{Var: true}
	for _, tc := range []struct {
		name, tmpl string
		want       []Segment
		err        string
	}{
		{name: "literals and variables", tmpl: "/a.b/{x}/c", want: []Segment{lit("a.b"), v, lit("c")}},
		{name: "the root is one empty literal", tmpl: "/", want: []Segment{lit("")}},
		{name: "a trailing slash is an empty last literal", tmpl: "/users/{id}/", want: []Segment{lit("users"), v, lit("")}},
		{name: "a template must start with a slash", tmpl: "users", err: `"users" must start with /`},
		{name: "a variable must be a whole segment", tmpl: "/users/{id}x", err: `"/users/{id}x": segment "{id}x" must be a literal or a whole {name}`},
		{name: "a variable name is an identifier", tmpl: "/users/{1d}", err: `"/users/{1d}": segment "{1d}" must be a literal or a whole {name}`},
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
			if !reflect.DeepEqual(tp.Segments, tc.want) {
				t.Fatalf("Segments = %+v, want %+v", tp.Segments, tc.want)
			}
		})
	}
}
