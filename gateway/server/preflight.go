package server

import (
	"net/http"

	"github.com/portcullis/portcullis/gateway/cors"
	"github.com/portcullis/portcullis/gateway/pipeline"
	"github.com/portcullis/portcullis/gateway/route"
)

// lookup finds the route of r. A CORS preflight asks about the request
// that follows it, so it goes to the route that request would take when
// that route has cors (which answers it, even if the route does not
// accept OPTIONS); otherwise it is an OPTIONS request like any other.
func lookup(rt *route.Router[pipeline.Handler], r *http.Request, method, host, path string) (route.Match[pipeline.Handler], bool) {
	if asked, ok := cors.Preflight(r); ok {
		if m, ok := rt.Lookup(asked, host, path); ok && m.Route.CORS != nil {
			return m, true
		}
	}
	return rt.Lookup(method, host, path)
}
