package config

import (
	"net/url"
)

// Tracing is the tracing section: OpenTelemetry spans exported over
// OTLP/HTTP (README, "Tracing"). Every field left empty is taken from the
// standard OTEL_* environment variable, as the OpenTelemetry SDK reads it;
// a field that is set wins over the environment, as options given in code
// win over the environment in every OpenTelemetry SDK. The section needs a
// restart: the tracer provider is the process's.
type Tracing struct {
	// Exporter is "otlp" (on) or "none" (off). Empty: OTEL_TRACES_EXPORTER,
	// and off when that is unset too.
	Exporter string `yaml:"exporter"`
	// Endpoint is the OTLP/HTTP traces URL ("http://collector:4318/v1/traces").
	// Empty: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, OTEL_EXPORTER_OTLP_ENDPOINT
	// (+ /v1/traces), then https://localhost:4318/v1/traces.
	Endpoint string `yaml:"endpoint"`
	// Protocol is the OTLP transport; only "http/protobuf" (the default).
	Protocol string `yaml:"protocol"`
	// Headers are sent with every export (a collector's API key); they are
	// never logged. Empty: OTEL_EXPORTER_OTLP_(TRACES_)HEADERS.
	Headers map[string]string `yaml:"headers"`
	// Sampler is one of OTEL_TRACES_SAMPLER's values: always_on, always_off,
	// traceidratio, parentbased_always_on, parentbased_always_off,
	// parentbased_traceidratio. Empty: OTEL_TRACES_SAMPLER, then
	// parentbased_always_on.
	Sampler string `yaml:"sampler"`
	// SamplerArg is the ratio of the traceidratio samplers, in [0, 1].
	// Nil: OTEL_TRACES_SAMPLER_ARG, then 1.
	SamplerArg *float64 `yaml:"sampler_arg"`
	// ServiceName is the service.name resource attribute. Empty:
	// OTEL_SERVICE_NAME, then DefaultTracingServiceName.
	ServiceName string `yaml:"service_name"`
	// TrustIncoming says whose traceparent and tracestate the gateway
	// continues: "trusted_proxies" (default: peers in
	// listen.trusted_proxies), "all" or "none". Anyone else's are replaced
	// by the gateway's own, so an outside client can neither force sampling
	// nor choose the trace id.
	TrustIncoming string `yaml:"trust_incoming"`
}

// Samplers are the values of tracing.sampler (OTEL_TRACES_SAMPLER's).
var Samplers = []string{"always_on", "always_off", "traceidratio", "parentbased_always_on", "parentbased_always_off", "parentbased_traceidratio"}

func (c *Config) validateTracing(ch *checker) {
	t := &c.Tracing
	if t.Exporter != "" {
		ch.oneOf("tracing.exporter", t.Exporter, "otlp", "none")
	}
	ch.oneOf("tracing.protocol", t.Protocol, "http/protobuf")
	ch.oneOf("tracing.trust_incoming", t.TrustIncoming, "trusted_proxies", "all", "none")
	if t.Endpoint != "" {
		if u, err := url.Parse(t.Endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			ch.add("tracing.endpoint", "%q must be an http or https URL", t.Endpoint)
		}
	}
	if t.Sampler != "" {
		ch.oneOf("tracing.sampler", t.Sampler, Samplers...)
	}
	if a := t.SamplerArg; a != nil && !(*a >= 0 && *a <= 1) {
		ch.add("tracing.sampler_arg", "%v is out of range (want 0..1)", *a)
	}
}
