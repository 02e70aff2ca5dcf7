package validate

import (
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
	m.validations.WithLabelValues(route, result).Inc()
}
