package validate

import (
	"maps"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/routers"

	"github.com/portcullis/portcullis/gateway/config"
)

// literalSpec has literal paths beside templated ones that match them too,
// two literal paths the trie keeps in one leaf (/users and /users/), a
// literal path with braces-free dots, and the root.
const literalSpec = `openapi: 3.0.3
info: {title: l, version: "1"}
paths:
  /users:
    get: {responses: {"200": {description: ok}}}
    post: {responses: {"200": {description: ok}}}
  /users/:
    get: {responses: {"200": {description: ok}}}
    put: {responses: {"200": {description: ok}}}
  /users/me:
    get: {responses: {"200": {description: ok}}}
  /users/{id}:
    parameters:
      - {name: id, in: path, required: true, schema: {type: string}}
    get: {responses: {"200": {description: ok}}}
    delete: {responses: {"200": {description: ok}}}
  /a/b/c.json:
    get: {responses: {"200": {description: ok}}}
  /a/{x}/c.json:
    parameters:
      - {name: x, in: path, required: true, schema: {type: string}}
    get: {responses: {"200": {description: ok}}}
  /:
    get: {responses: {"200": {description: ok}}}
`

// exactDocs are the documents the exact-path tests match against.
func exactDocs(t testing.TB) []*compiled {
	return []*compiled{
		newValidator(t, config.RouteOpenAPI{Spec: writeSpec(t, "literal.yaml", literalSpec)}).current.Load(),
		newValidator(t, config.RouteOpenAPI{Spec: writeSpec(t, "params.yaml", paramSpec)}).current.Load(),
		newValidator(t, config.RouteOpenAPI{Spec: writeSpec(t, "diff.yaml", diffSpec)}).current.Load(),
		newValidator(t, config.RouteOpenAPI{}).current.Load(),
		newValidator(t, config.RouteOpenAPI{Spec: "../../tests/bench/peer-openapi.yaml"}).current.Load(),
	}
}

// TestExactRoutesAreTheTrie holds match, which answers a document's
// literal paths from a map, to the trie alone on every path of every
// document, variants of them, and every method.
func TestExactRoutesAreTheTrie(t *testing.T) {
	t.Parallel()
	exact := 0
	for _, c := range exactDocs(t) {
		var paths []string
		for p := range c.doc.Paths.Map() {
			paths = append(paths, p, p+"/", p+"//", strings.ToUpper(p), "/x"+p, strings.TrimSuffix(p, "/"), p+"x")
		}
		paths = append(paths, "", "/", "//", "/users/me/", "/users/you", "/a/b/c.json", "/a/z/c.json", "/a/b/c.jsonx")
		for _, method := range methods {
			for _, p := range paths {
				if d := exactDiff(c, method, p); d != "" {
					t.Errorf("%s %q: %s", method, p, d)
				}
				if m := c.paths[method]; m != nil && m.exact[p] != nil {
					exact++
				}
			}
		}
	}
	// literalSpec alone has 8 method and literal-path pairs; the users
	// document has one, the (i) document none.
	if exact < 9 {
		t.Fatalf("only %d lookups answered from the exact routes", exact)
	}
}

// FuzzExactRoutesAreTheTrie compares match with the trie alone on any
// method and path.
func FuzzExactRoutesAreTheTrie(f *testing.F) {
	for _, p := range []string{"/users", "/users/", "/users/me", "/users/x", "/a/b/c.json", "/", "", "/api/v1/users"} {
		f.Add("GET", p)
	}
	docs := exactDocs(f)
	f.Fuzz(func(t *testing.T, method, path string) {
		for _, c := range docs {
			if d := exactDiff(c, method, path); d != "" {
				t.Fatalf("%q %q: %s", method, path, d)
			}
		}
	})
}

// exactDiff says how match differs from the trie for method and path.
func exactDiff(c *compiled, method, path string) string {
	route, params := c.match(method, path)
	var want *routers.Route
	var wantParams map[string]string
	if m := c.paths[method]; m != nil {
		want, wantParams = trieMatch(m.trie, path)
	}
	switch {
	case (route == nil) != (want == nil):
		return "matched differently"
	case route == nil:
		return ""
	case route != want:
		return "another route: " + route.Method + " " + route.Path
	case params == nil || !maps.Equal(params, wantParams):
		return "other path parameters"
	}
	return ""
}
