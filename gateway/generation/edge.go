package generation

import (
	"fmt"

	"github.com/portcullis/portcullis/gateway/config"
	"github.com/portcullis/portcullis/gateway/cors"
	"github.com/portcullis/portcullis/gateway/ipfilter"
	"github.com/portcullis/portcullis/gateway/pipeline"
)

// edgeStages builds the stages at a route's entry: the IP lists and the
// CORS policy, each nil when the route has none (it then costs nothing).
func edgeStages(rt *config.Route) (ip, cr pipeline.Middleware, err error) {
	if len(rt.IPAllow) > 0 || len(rt.IPDeny) > 0 {
		f, err := ipfilter.New(rt.IPAllow, rt.IPDeny)
		if err != nil {
			return nil, nil, err
		}
		ip = f.Middleware
	}
	if rt.CORS != nil {
		p, err := cors.New(rt.CORS)
		if err != nil {
			return nil, nil, fmt.Errorf("cors: %w", err)
		}
		cr = p.Middleware
	}
	return ip, cr, nil
}
