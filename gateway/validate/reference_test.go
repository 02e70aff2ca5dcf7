package validate

import (
	"net/http"
	"net/url"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
)

// legacyRouters holds, per compiled document, kin-openapi's own router
// built as compile built it before the per-method tries: from the
// document without its servers.
var legacyRouters sync.Map

func legacyRouter(t testing.TB, c *compiled) routers.Router {
	t.Helper()
	if rt, ok := legacyRouters.Load(c); ok {
		return rt.(routers.Router)
	}
	bare := *c.doc
	bare.Servers = nil
	rt, err := legacy.NewRouter(&bare)
	if err != nil {
		t.Fatal(err)
	}
	legacyRouters.Store(c, rt)
	return rt
}

// legacyMatch is match as it was: the router's FindRoute on a request
// with the method and the path (all it reads of a request when the
// document has no servers), an empty path parameter being a miss.
func legacyMatch(t testing.TB, c *compiled) func(method, path string) (*routers.Route, map[string]string) {
	rt := legacyRouter(t, c)
	return func(method, path string) (*routers.Route, map[string]string) {
		route, params, err := rt.FindRoute(&http.Request{Method: method, URL: &url.URL{Path: path}})
		if err != nil {
			return nil, nil
		}
		for _, v := range params {
			if v == "" {
				return nil, nil
			}
		}
		return route, params
	}
}

// legacyFind is find by the router: the request copy kin-openapi saw, the
// route, its parameters, and on a miss the methods the path allows.
func legacyFind(t testing.TB, c *compiled, r *http.Request) (*http.Request, *routers.Route, map[string]string, []string) {
	f, allow := c.findBy(r, legacyMatch(t, c))
	if f.route == nil {
		return nil, nil, nil, allow
	}
	return withPath(r, f.path), f.route, f.params, nil
}
