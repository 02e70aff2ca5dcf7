// Package template compiles route path templates such as /users/{id}.
//
// It is a leaf package so that gateway/config can report a bad template
// with the same compiler gateway/route matches with.
package template

import (
	"fmt"
	"regexp"
	"strings"
)

// Template matches whole paths against a template: literal segments match
// themselves, a {name} segment matches any one non-empty segment.
type Template struct{ re *regexp.Regexp }

var varRE = regexp.MustCompile(`^\{[A-Za-z_][A-Za-z0-9_]*\}$`)

// Compile parses t, which starts with "/" and has segments that are each
// a literal or a whole {name}.
func Compile(t string) (*Template, error) {
	if !strings.HasPrefix(t, "/") {
		return nil, fmt.Errorf("%q must start with /", t)
	}
	var b strings.Builder
	b.WriteString("^")
	for _, s := range strings.Split(t[1:], "/") {
		b.WriteString("/")
		switch {
		case varRE.MatchString(s):
			b.WriteString("[^/]+")
		case strings.ContainsAny(s, "{}"):
			return nil, fmt.Errorf("%q: segment %q must be a literal or a whole {name}", t, s)
		default:
			b.WriteString(regexp.QuoteMeta(s))
		}
	}
	b.WriteString("$")
	return &Template{re: regexp.MustCompile(b.String())}, nil
}

// Match tells whether the normalized path matches the template.
func (t *Template) Match(path string) bool { return t.re.MatchString(path) }
