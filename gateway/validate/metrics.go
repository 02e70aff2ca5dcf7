package validate

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/portcullis/portcullis/internal/promreg"
)

// Results, the values of the result label.
const (
	resultValid            = "valid"
	resultInvalid          = "invalid"
	resultUnknownOperation = "unknown_operation"
	resultMethodNotAllowed = "method_not_allowed"
	resultUnsupportedMedia = "unsupported_media_type"
)

type metrics struct {
	validations *prometheus.CounterVec
	// valid is validations{route,result="valid"} of the one route the
	// Validator serves, looked up at its first valid request (the series
	// appears with it) and then kept: most requests count there.
	valid atomic.Pointer[prometheus.Counter]
}

// newMetrics registers the collectors with reg, sharing them with the
// other routes' validators that registered them first.
func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	cv := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "portcullis_validate_requests_total",
		Help: "OpenAPI request validations by route and result (valid, invalid, unknown_operation, method_not_allowed, unsupported_media_type), in every mode but off.",
	}, []string{"route", "result"})
	cv, err := promreg.Register(reg, cv)
	if err != nil {
		return nil, err
	}
	return &metrics{validations: cv}, nil
}

func (m *metrics) observe(route, result string) {
	if result != resultValid {
		m.validations.WithLabelValues(route, result).Inc()
		return
	}
	c := m.valid.Load()
	if c == nil {
		v := m.validations.WithLabelValues(route, result)
		c = &v
		m.valid.Store(c)
	}
	(*c).Inc()
}
