package route

import (
	"fmt"
	"net"
	"slices"
	"sort"
	"strings"

	"github.com/portcullis/portcullis/gateway/config"
	"github.com/portcullis/portcullis/gateway/route/template"
)

// Router matches a method, host and normalized path to a route. Path
// templates (match.path) are tried first in config order, then path
// prefixes, longest first. A prefix matches on a segment boundary: /api
// matches /api and /api/x, never /apix.
//
// A lookup costs the number of the path's segments, not the number of
// routes: prefixes are found in a map by the path's own boundaries,
// templates by a walk of a segment trie, each per host (and once more for
// the routes without one). Only the routes whose path and host matched are
// then ranked, as the order above would have met them.
type Router[T any] struct {
	entries []entry[T] // in rank order
	// hosts maps a lower-case match.host, and "" for the routes without
	// one, to the index of its routes.
	hosts map[string]*index
	// byHost tells that some route names a host.
	byHost bool
}

type entry[T any] struct {
	r     *config.Route
	value T
}

// index finds the routes of one host whose path matches.
type index struct {
	// prefixes maps a path_prefix to its routes' ranks, ascending.
	prefixes  map[string][]int
	templates *node
}

// node is a segment of path templates: a literal child per segment value,
// one child for a {name} segment, and the ranks of the templates that end
// here.
type node struct {
	lit  map[string]*node
	wild *node
	ends []int
}

// Match is the result of a lookup.
type Match[T any] struct {
	Route *config.Route
	Value T
	// Allow lists the methods of the routes whose path matched, when none
	// accepted the method (405); empty otherwise.
	Allow []string
}

// NewRouter builds a router over routes; values[i] belongs to routes[i].
// It compiles the path templates and refuses a bad one.
func NewRouter[T any](routes []config.Route, values []T) (*Router[T], error) {
	type ranked struct {
		e    entry[T]
		tmpl *template.Template // nil for a path_prefix route
	}
	all := make([]ranked, len(routes))
	for i := range routes {
		all[i].e = entry[T]{r: &routes[i], value: values[i]}
		if p := routes[i].Match.Path; p != "" {
			t, err := template.Compile(p)
			if err != nil {
				return nil, fmt.Errorf("route %q: match.path: %w", routes[i].Name, err)
			}
			all[i].tmpl = t
		}
	}
	rank := func(x ranked) int {
		if x.tmpl != nil {
			return 1 << 30
		}
		return len(x.e.r.Match.PathPrefix)
	}
	sort.SliceStable(all, func(i, j int) bool { return rank(all[i]) > rank(all[j]) })
	rt := &Router[T]{hosts: map[string]*index{}}
	for i, x := range all {
		rt.entries = append(rt.entries, x.e)
		host := strings.ToLower(x.e.r.Match.Host)
		rt.byHost = rt.byHost || host != ""
		ix := rt.hosts[host]
		if ix == nil {
			ix = &index{prefixes: map[string][]int{}, templates: &node{}}
			rt.hosts[host] = ix
		}
		if x.tmpl == nil {
			p := x.e.r.Match.PathPrefix
			ix.prefixes[p] = append(ix.prefixes[p], i)
			continue
		}
		n := ix.templates
		for _, s := range x.tmpl.Segments {
			n = n.child(s)
		}
		n.ends = append(n.ends, i)
	}
	return rt, nil
}

func (n *node) child(s template.Segment) *node {
	if s.Var {
		if n.wild == nil {
			n.wild = &node{}
		}
		return n.wild
	}
	if n.lit == nil {
		n.lit = map[string]*node{}
	}
	c := n.lit[s.Literal]
	if c == nil {
		c = &node{}
		n.lit[s.Literal] = c
	}
	return c
}

// Lookup finds the route for a request. ok is false when no route's path
// and host match (404); when a path matched but no method did, ok is false
// and m.Allow lists the allowed methods (405).
func (rt *Router[T]) Lookup(method, host, path string) (m Match[T], ok bool) {
	var buf [16]int
	found := buf[:0]
	if ix := rt.hosts[""]; ix != nil {
		found = ix.collect(path, found)
	}
	if host = stripPort(host); rt.byHost && host != "" {
		if ix := rt.hosts[lower(host)]; ix != nil {
			found = ix.collect(path, found)
		}
	}
	slices.Sort(found)
	for _, i := range found {
		e := &rt.entries[i]
		if mt := e.r.Match; len(mt.Methods) > 0 && !slices.Contains(mt.Methods, method) {
			for _, a := range mt.Methods {
				if !slices.Contains(m.Allow, a) {
					m.Allow = append(m.Allow, a)
				}
			}
			continue
		}
		return Match[T]{Route: e.r, Value: e.value}, true
	}
	sort.Strings(m.Allow)
	return m, false
}

// collect appends the ranks of the routes whose path matches path.
func (ix *index) collect(path string, found []int) []int {
	if rest, ok := strings.CutPrefix(path, "/"); ok {
		found = ix.templates.collect(rest, found)
	}
	if len(ix.prefixes) == 0 {
		return found
	}
	// A prefix p matches path when p is path itself, or path up to a "/"
	// (p = path[:j]) or through it (p = path[:j+1]).
	found = append(found, ix.prefixes[path]...)
	for j := len(path) - 1; j >= 0; j-- {
		if path[j] != '/' {
			continue
		}
		if j+1 < len(path) { // else path[:j+1] is path, found above
			found = append(found, ix.prefixes[path[:j+1]]...)
		}
		found = append(found, ix.prefixes[path[:j]]...)
	}
	return found
}

// collect appends the templates matching rest, the path after a "/".
func (n *node) collect(rest string, found []int) []int {
	seg, next, more := strings.Cut(rest, "/")
	if c := n.lit[seg]; c != nil {
		found = c.visit(next, more, found)
	}
	if n.wild != nil && seg != "" {
		found = n.wild.visit(next, more, found)
	}
	return found
}

func (n *node) visit(next string, more bool, found []int) []int {
	if more {
		return n.collect(next, found)
	}
	return append(found, n.ends...)
}

func stripPort(host string) string {
	i := strings.LastIndexByte(host, ':')
	if i < 0 || strings.IndexByte(host[i:], ']') >= 0 {
		return host // no port: spare SplitHostPort's error value
	}
	if h, _, err := net.SplitHostPort(host); err == nil {
		return h
	}
	return host
}

// lower is strings.ToLower without the allocation for a lower-case host,
// the normal case: gateway/header lower-cases the host it routes by.
func lower(s string) string {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			return strings.ToLower(s)
		}
	}
	return s
}
