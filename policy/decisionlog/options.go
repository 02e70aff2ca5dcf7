package decisionlog

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// Options configures a Logger: what goes into an event. Where events go is
// the sinks given to New, each with its own options.
type Options struct {
	// Version is labels.version (the gateway version).
	Version string
	// Labels are added to every event's labels; labels.id (a UUID per
	// process) and labels.version are always set and win over these.
	Labels map[string]string
	// Erase lists JSON pointers under /input or /result removed from every
	// event before the Masker sees it (RFC 6901; "~1" is "/", "~0" is "~").
	Erase []string
	// Masker is the data.system.log.mask/drop rule. If nil, there is none.
	Masker Masker
	// SampleAllow and SampleDeny are the fractions (0..1) of allow and deny
	// events kept; deny is any non-allow outcome. Zero keeps none.
	SampleAllow, SampleDeny float64

	// Logger is the gateway's own log, for encoding and mask errors. Event
	// contents are never written to it.
	Logger zerolog.Logger
	// Registerer receives the metrics. If nil, they are not registered.
	Registerer prometheus.Registerer
	// Now is the clock for events without a Timestamp. If nil, time.Now.
	Now func() time.Time
}
