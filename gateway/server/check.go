package server

import (
	"context"
	"fmt"

	"github.com/rs/zerolog"

	"github.com/portcullis/portcullis/gateway/authn/jwt"
	"github.com/portcullis/portcullis/gateway/config"
	"github.com/portcullis/portcullis/gateway/validate"
	"github.com/portcullis/portcullis/policy/engine"
)

// Check loads everything New would load from cfg (bundles with their API-key
// data, OpenAPI specs, key files) without starting anything or contacting a
// server, and returns every problem found.
func Check(ctx context.Context, cfg *config.Config) []error {
	var errs []error
	if eng, err := engine.New(ctx, EngineOptions(cfg, nil, zerolog.Nop())); err != nil {
		errs = append(errs, fmt.Errorf("policy: %w", err))
	} else {
		c := &components{cfg: cfg, engine: eng}
		if _, err := c.apiKeyIndex(); err != nil {
			errs = append(errs, err)
		}
	}
	if len(cfg.Authn.JWT.Issuers) > 0 {
		if _, err := jwt.New(cfg.Authn.JWT, jwt.Options{Logger: zerolog.Nop()}); err != nil {
			errs = append(errs, fmt.Errorf("authn.jwt: %w", err))
		}
	}
	seen := map[string]bool{}
	for _, rt := range cfg.Routes {
		if s := rt.OpenAPI.Spec; s != "" && !seen[s] {
			seen[s] = true
			if _, err := validate.Load(s); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errs
}
