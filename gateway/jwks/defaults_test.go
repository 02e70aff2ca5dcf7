package jwks

import (
	"time"

	"github.com/portcullis/portcullis/gateway/config"
)

// WithTestDefaults fills the durations o leaves at zero with an issuer's
// configuration defaults, for tests that care about other fields.
func WithTestDefaults(o Options) Options {
	d := config.DefaultIssuer()
	for _, f := range []struct{ v, def *time.Duration }{
		{&o.RefreshInterval, &d.RefreshInterval}, {&o.MinRefreshInterval, &d.MinRefreshInterval},
		{&o.MaxStale, &d.MaxStale}, {&o.FetchTimeout, &d.FetchTimeout},
	} {
		if *f.v == 0 {
			*f.v = *f.def
		}
	}
	return o
}
