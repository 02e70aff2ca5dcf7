package server

import (
	"context"

	"github.com/portcullis/portcullis/gateway/config"
)

// Check loads everything New would load from cfg (bundles, OpenAPI specs,
// key files) without starting anything, and returns every problem found.
func Check(ctx context.Context, cfg *config.Config) []error {
	return nil
}
