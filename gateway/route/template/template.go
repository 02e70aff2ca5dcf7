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
type Template struct {
	// Segments are the template's segments after the leading "/": a
	// literal, or "" with Var set for a {name}. "/" has one empty literal.
	Segments []Segment
}

// Segment is one segment of a template.
type Segment struct {
	Literal string
	Var     bool
}

var varRE = regexp.MustCompile(`^\{[A-Za-z_][A-Za-z0-9_]*\}$`)

// Compile parses t, which starts with "/" and has segments that are each
// a literal or a whole {name}.
func Compile(t string) (*Template, error) {
	if !strings.HasPrefix(t, "/") {
		return nil, fmt.Errorf("%q must start with /", t)
	}
	tp := &Template{}
	for s := range strings.SplitSeq(t[1:], "/") {
		switch {
		case varRE.MatchString(s):
			tp.Segments = append(tp.Segments, Segment{Var: true})
		case strings.ContainsAny(s, "{}"):
			return nil, fmt.Errorf("%q: segment %q must be a literal or a whole {name}", t, s)
		default:
			tp.Segments = append(tp.Segments, Segment{Literal: s})
		}
	}
	return tp, nil
}
