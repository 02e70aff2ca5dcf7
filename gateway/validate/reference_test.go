package validate

import (
	"net/http"
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

// legacyFind is find as it was, by the router on a request copy: the copy
// kin-openapi saw, the route, its parameters, and on a miss the methods
// the path allows.
func legacyFind(t testing.TB, c *compiled, r *http.Request) (*http.Request, *routers.Route, map[string]string, []string) {
	rt := legacyRouter(t, c)
	route := func(rq *http.Request) (*routers.Route, map[string]string) {
		route, params, err := rt.FindRoute(rq)
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
	for _, base := range c.bases {
		rest, ok := stripBase(r.URL.Path, base)
		if !ok {
			continue
		}
		rq := withPath(r, rest)
		if route, params := route(rq); route != nil {
			return rq, route, params, nil
		}
		if r.Method == http.MethodHead {
			rq.Method = http.MethodGet
			if route, params := route(rq); route != nil {
				rq.Method = http.MethodHead
				return rq, route, params, nil
			}
		}
	}
	var allow []string
	for _, m := range methods {
		if m == r.Method {
			continue
		}
		for _, base := range c.bases {
			if rest, ok := stripBase(r.URL.Path, base); ok {
				rq := withPath(r, rest)
				rq.Method = m
				if route, _ := route(rq); route != nil {
					allow = append(allow, m)
					break
				}
			}
		}
	}
	return nil, nil, nil, allow
}
