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
type Router[T any] struct {
	entries []entry[T]
}

type entry[T any] struct {
	r     *config.Route
	tmpl  *template.Template // nil for a path_prefix route
	value T
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
	rt := &Router[T]{}
	for i := range routes {
		e := entry[T]{r: &routes[i], value: values[i]}
		if p := routes[i].Match.Path; p != "" {
			t, err := template.Compile(p)
			if err != nil {
				return nil, fmt.Errorf("route %q: match.path: %w", routes[i].Name, err)
			}
			e.tmpl = t
		}
		rt.entries = append(rt.entries, e)
	}
	rank := func(e entry[T]) int {
		if e.r.Match.Path != "" {
			return 1 << 30
		}
		return len(e.r.Match.PathPrefix)
	}
	sort.SliceStable(rt.entries, func(i, j int) bool { return rank(rt.entries[i]) > rank(rt.entries[j]) })
	return rt, nil
}

// Lookup finds the route for a request. ok is false when no route's path
// and host match (404); when a path matched but no method did, ok is false
// and m.Allow lists the allowed methods (405).
func (rt *Router[T]) Lookup(method, host, path string) (m Match[T], ok bool) {
	host = stripPort(host)
	for _, e := range rt.entries {
		mt := e.r.Match
		if mt.Host != "" && !strings.EqualFold(mt.Host, host) {
			continue
		}
		if !e.matches(path) {
			continue
		}
		if len(mt.Methods) > 0 && !slices.Contains(mt.Methods, method) {
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

func (e *entry[T]) matches(path string) bool {
	if e.tmpl != nil {
		return e.tmpl.Match(path)
	}
	p := e.r.Match.PathPrefix
	if !strings.HasPrefix(path, p) {
		return false
	}
	return len(path) == len(p) || strings.HasSuffix(p, "/") || path[len(p)] == '/'
}

func stripPort(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		return h
	}
	return host
}
