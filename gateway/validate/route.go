package validate

import (
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy/pathpattern"
)

// routes builds, for every method of doc, the trie of its paths that
// legacy.NewRouter builds for all methods at once (its keys are
// method+" "+path; here the method picks the trie), each leaf holding
// the route the router would return. doc has been validated by Load.
func routes(doc *openapi3.T) (map[string]*pathpattern.Node, error) {
	paths := map[string]*pathpattern.Node{}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			root := paths[method]
			if root == nil {
				root = &pathpattern.Node{}
				paths[method] = root
			}
			route := &routers.Route{Spec: doc, Path: path, PathItem: item, Method: method, Operation: op}
			if err := root.Add(path, route, nil); err != nil {
				return nil, err
			}
		}
	}
	return paths, nil
}

// match is legacy.Router.FindRoute for method and path: the route and its
// path parameters (a map, empty when there are none, as the router
// returns it), nil on a miss. The router matches /users to /users/{id}
// with an empty id; a path parameter is a whole, non-empty segment, so
// such a match is a miss (then 405 or 404, not a 400 about a missing id).
func (c *compiled) match(method, path string) (*routers.Route, map[string]string) {
	root := c.paths[method]
	if root == nil {
		return nil, nil
	}
	node, values := root.Match(path)
	if node == nil {
		return nil, nil
	}
	route, _ := node.Value.(*routers.Route)
	if route == nil {
		return nil, nil
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
