package server

import (
	"context"
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/portcullis/portcullis/gateway/config"
	"github.com/portcullis/portcullis/gateway/pipeline"
	"github.com/portcullis/portcullis/gateway/problem"
	"github.com/portcullis/portcullis/gateway/proxy"
)

// components are the long-lived parts every route pipeline shares.
type components struct {
	cfg *config.Config
	log zerolog.Logger
}

func newComponents(ctx context.Context, cfg *config.Config, log zerolog.Logger, reg prometheus.Registerer, version string) (*components, error) {
	return &components{cfg: cfg, log: log}, nil
}

// inputExclude lists the headers that carry credentials or identities.
func (c *components) inputExclude() map[string]bool {
	ex := map[string]bool{"authorization": true, "proxy-authorization": true, "cookie": true}
	ex[strings.ToLower(c.cfg.Authn.APIKeys.Header)] = true
	ex[strings.ToLower(c.cfg.Authn.APIKeys.ConsumerHeader)] = true
	for _, is := range c.cfg.Authn.JWT.Issuers {
		for _, h := range is.ClaimsToHeaders {
			ex[strings.ToLower(h)] = true
		}
	}
	if in := c.cfg.Authn.Introspection; in != nil {
		for _, h := range in.ClaimsToHeaders {
			ex[strings.ToLower(h)] = true
		}
	}
	return ex
}

// routeHandler builds the pipeline of one route.
func (c *components) routeHandler(cfg *config.Config, rt *config.Route) (pipeline.Handler, error) {
	px := proxy.New(rt, cfg.Listen.TrustedPrefixes)
	return pipeline.Chain(px.Handler()), nil
}

func (c *components) accepting() error { return nil }

func (c *components) logDecision(r *http.Request, st *pipeline.State) {}

func (c *components) start(ctx context.Context) {}

func (c *components) close(ctx context.Context) {}

func (c *components) reload(ctx context.Context) error { return nil }

func (c *components) ready() error { return nil }

func (c *components) status() any { return map[string]any{} }

func checkRequestLimits(r *http.Request, l *config.Limits) error {
	if len(r.Header) > l.MaxHeaders {
		return problem.New(http.StatusRequestHeaderFieldsTooLarge, "too_many_headers", "the request has too many header fields")
	}
	return nil
}
