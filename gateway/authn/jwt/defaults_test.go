package jwt_test

import (
	"time"

	"github.com/portcullis/portcullis/gateway/config"
)

// defaulted fills what c leaves at zero with the configuration defaults,
// as config.Load would, for tests that build a config.JWT by hand.
func defaulted(c config.JWT) config.JWT {
	d := config.Default().Authn.JWT
	if c.MaxTokenBytes == 0 {
		c.MaxTokenBytes = d.MaxTokenBytes
	}
	if c.CacheSize == 0 {
		c.CacheSize = d.CacheSize
	}
	di := config.DefaultIssuer()
	for i := range c.Issuers {
		is := &c.Issuers[i]
		if is.ClockSkew == nil {
			is.ClockSkew = di.ClockSkew
		}
		if is.RequiredClaims == nil {
			is.RequiredClaims = di.RequiredClaims
		}
		if is.GroupsClaim == "" {
			is.GroupsClaim = di.GroupsClaim
		}
		for _, f := range []struct{ v, def *time.Duration }{
			{&is.RefreshInterval, &di.RefreshInterval}, {&is.MinRefreshInterval, &di.MinRefreshInterval},
			{&is.MaxStale, &di.MaxStale}, {&is.FetchTimeout, &di.FetchTimeout},
		} {
			if *f.v == 0 {
				*f.v = *f.def
			}
		}
	}
	return c
}
