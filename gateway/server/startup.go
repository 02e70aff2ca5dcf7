package server

import (
	"github.com/rs/zerolog"

	"github.com/portcullis/portcullis/gateway/generation"
)

// logStarted writes the one start-up line an operator reads first: where
// the gateway listens and what the running generation serves (routes,
// bundles and their revisions, TLS, decision-log sinks, caches). Sinks
// are named by kind only: their URLs may carry credentials.
func (s *Server) logStarted(g *generation.Generation, proxyAddr, adminAddr string) {
	c := g.Config
	routes := make([]string, 0, len(c.Routes))
	for i := range c.Routes {
		routes = append(routes, c.Routes[i].Name)
	}
	bundles := zerolog.Arr()
	st := g.Engine.Status()
	for _, b := range st.Bundles {
		if b.Revision == "" {
			bundles.Str(b.Name)
			continue
		}
		bundles.Str(b.Name + "@" + b.Revision)
	}
	var sinks []string
	d := c.DecisionLog
	if d.Stdout != nil && *d.Stdout {
		sinks = append(sinks, "stdout")
	}
	if d.File != nil {
		sinks = append(sinks, "file")
	}
	if d.HTTP != nil {
		sinks = append(sinks, "http")
	}
	if d.Syslog != nil {
		sinks = append(sinks, "syslog")
	}
	caches := zerolog.Dict().Int("jwt", c.Authn.JWT.CacheSize).Str("decision", st.DecisionCache)
	if in := c.Authn.Introspection; in != nil {
		caches = caches.Int("introspection", in.CacheSize).Dur("introspection_ttl", in.CacheTTL)
	}
	s.log.Info().Str("proxy", proxyAddr).Str("admin", adminAddr).Str("version", s.version).
		Uint64("generation", g.Number).Strs("routes", routes).Array("bundles", bundles).
		Bool("tls", c.Listen.TLSCertFile != "").Bool("client_auth", g.ClientCAs != nil).
		Strs("decision_log_sinks", sinks).Dict("caches", caches).
		Msg("portcullis started")
}
