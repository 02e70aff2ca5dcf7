package validate

import (
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy/pathpattern"
)

// methodRoutes are the routes of one method: the trie, and the answers the
// trie gives for the document's own paths that hold no template parameter
// (/users), worked out once so that such a request is one map lookup
// instead of a walk that allocates its value slice.
type methodRoutes struct {
	trie  *pathpattern.Node
	exact map[string]*routers.Route
}

// routes builds, for every method of doc, the trie of its paths that
// legacy.NewRouter builds for all methods at once (its keys are
// method+" "+path; here the method picks the trie), each leaf holding
// the route the router would return. doc has been validated by Load.
func routes(doc *openapi3.T) (map[string]*methodRoutes, error) {
	paths := map[string]*methodRoutes{}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			m := paths[method]
			if m == nil {
				m = &methodRoutes{trie: &pathpattern.Node{}, exact: map[string]*routers.Route{}}
				paths[method] = m
			}
			route := &routers.Route{Spec: doc, Path: path, PathItem: item, Method: method, Operation: op}
			if err := m.trie.Add(path, route, nil); err != nil {
				return nil, err
			}
		}
	}
	// Only once every path is in: the trie's answer for a path may
	// depend on the others (/users and /users/ share a leaf).
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			m := paths[method]
			if route, params := trieMatch(m.trie, path); route != nil && len(params) == 0 {
				m.exact[path] = route
			}
		}
	}
	return paths, nil
}

// noParams are the path parameters of a route matched without any. The
// policy input and the decision log only read them; one shared empty map
// spares every such request an allocation.
var noParams = map[string]string{}

// match is legacy.Router.FindRoute for method and path: the route and its
// path parameters (a map, empty when there are none, as the router
// returns it), nil on a miss.
func (c *compiled) match(method, path string) (*routers.Route, map[string]string) {
	m := c.paths[method]
	if m == nil {
		return nil, nil
	}
	if route := m.exact[path]; route != nil {
		return route, noParams
	}
	return trieMatch(m.trie, path)
}

// trieMatch is match by the trie alone. The router matches /users to
// /users/{id} with an empty id; a path parameter is a whole, non-empty
// segment, so such a match is a miss (then 405 or 404, not a 400 about a
// missing id).
func trieMatch(root *pathpattern.Node, path string) (*routers.Route, map[string]string) {
	node, values := root.Match(path)
	if node == nil {
		return nil, nil
	}
	route, _ := node.Value.(*routers.Route)
	if route == nil {
		return nil, nil
	}
	if len(values) == 0 {
		return route, noParams
	}
	params := make(map[string]string, len(values))
	for i, v := range values {
		if v == "" {
			return nil, nil
		}
		params[strings.TrimSuffix(node.VariableNames[i], "*")] = v
	}
	return route, params
}
