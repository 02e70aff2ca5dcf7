// Package metrics registers the authentication packages' Prometheus collectors.
package metrics

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// Register registers c with reg and returns the collector to use: c itself,
// or the identical collector registered before (a reload builds the
// authenticators again and must keep counting into the same series). A nil
// reg registers nothing and returns c. Any other registration error panics,
// as it means two collectors disagree on a name: a programming error.
func Register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if reg == nil {
		return c
	}
	err := reg.Register(c)
	if err == nil {
		return c
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing
		}
	}
	panic(err)
}
