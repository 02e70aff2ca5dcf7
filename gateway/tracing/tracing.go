// Package tracing exports the gateway's OpenTelemetry spans over OTLP/HTTP and starts the spans of each request.
package tracing

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"os"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/portcullis/portcullis/gateway/config"
	"github.com/portcullis/portcullis/gateway/header/trusted"
)

// scope is the instrumentation scope of every span the gateway starts.
const scope = "github.com/portcullis/portcullis"

// W3C Trace Context headers (the propagator's, canonical).
const (
	TraceparentHeader = "Traceparent"
	TracestateHeader  = "Tracestate"
)

// Tracer starts the spans of requests and exports them. Build it with
// New; a nil *Tracer means tracing is off.
type Tracer struct {
	tp     *sdktrace.TracerProvider
	tracer trace.Tracer
	prop   propagation.TraceContext
	// trustAll and trusted decide whose incoming trace context is continued.
	trustAll bool
	trusted  []netip.Prefix
}

// New builds the tracer of cfg (the tracing section and, for what it leaves
// empty, the OTEL_* environment; listen.trusted_proxies for
// trust_incoming). It returns nil, nil when tracing is off: tracing.exporter
// "none", or empty with OTEL_TRACES_EXPORTER unset or "none". Nothing is
// contacted until the first export.
func New(ctx context.Context, cfg *config.Config, version string) (*Tracer, error) {
	t := cfg.Tracing
	on, err := enabled(t.Exporter, os.Getenv("OTEL_TRACES_EXPORTER"))
	if err != nil || !on {
		return nil, err
	}
	var opts []otlptracehttp.Option
	if t.Endpoint != "" {
		opts = append(opts, otlptracehttp.WithEndpointURL(t.Endpoint))
	}
	if len(t.Headers) > 0 {
		opts = append(opts, otlptracehttp.WithHeaders(t.Headers))
	}
	exp, err := otlptracehttp.New(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("tracing: otlp exporter: %w", err)
	}
	res, err := newResource(ctx, t.ServiceName, version)
	if err != nil {
		return nil, fmt.Errorf("tracing: resource: %w", err)
	}
	// The batch processor's queue is bounded (OTEL_BSP_MAX_QUEUE_SIZE,
	// default 2048): when the collector is slow, spans are dropped, the
	// request never waits.
	tpOpts := []sdktrace.TracerProviderOption{sdktrace.WithBatcher(exp), sdktrace.WithResource(res)}
	if t.Sampler != "" {
		// Given in code it wins over OTEL_TRACES_SAMPLER, which the SDK reads.
		tpOpts = append(tpOpts, sdktrace.WithSampler(sampler(t.Sampler, t.SamplerArg)))
	}
	tp := sdktrace.NewTracerProvider(tpOpts...)
	tr := &Tracer{tp: tp, tracer: tp.Tracer(scope, trace.WithInstrumentationVersion(version))}
	switch t.TrustIncoming {
	case "all":
		tr.trustAll = true
	case "trusted_proxies":
		for _, s := range cfg.Listen.TrustedProxies {
			p, err := trusted.Parse(s)
			if err != nil {
				return nil, fmt.Errorf("listen.trusted_proxies: %w", err)
			}
			tr.trusted = append(tr.trusted, p)
		}
	}
	return tr, nil
}

// enabled decides from tracing.exporter, then OTEL_TRACES_EXPORTER.
func enabled(exporter, env string) (bool, error) {
	if exporter != "" {
		return exporter == "otlp", nil
	}
	switch strings.TrimSpace(env) {
	case "", "none":
		return false, nil
	case "otlp":
		return true, nil
	}
	return false, fmt.Errorf("tracing: OTEL_TRACES_EXPORTER %q is not supported (want \"otlp\" or \"none\")", env)
}

// newResource names the service: tracing.service_name wins over
// OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES, which win over the default.
func newResource(ctx context.Context, name, version string) (*resource.Resource, error) {
	opts := []resource.Option{
		resource.WithAttributes(attribute.String("service.name", config.DefaultTracingServiceName), attribute.String("service.version", version)),
		resource.WithTelemetrySDK(),
		resource.WithFromEnv(),
	}
	if name != "" {
		opts = append(opts, resource.WithAttributes(attribute.String("service.name", name)))
	}
	return resource.New(ctx, opts...)
}

// sampler builds one of config.Samplers; a ratio defaults to 1 as in the SDK.
func sampler(name string, arg *float64) sdktrace.Sampler {
	ratio := 1.0
	if arg != nil {
		ratio = *arg
	}
	switch name {
	case "always_on":
		return sdktrace.AlwaysSample()
	case "always_off":
		return sdktrace.NeverSample()
	case "traceidratio":
		return sdktrace.TraceIDRatioBased(ratio)
	case "parentbased_always_off":
		return sdktrace.ParentBased(sdktrace.NeverSample())
	case "parentbased_traceidratio":
		return sdktrace.ParentBased(sdktrace.TraceIDRatioBased(ratio))
	}
	return sdktrace.ParentBased(sdktrace.AlwaysSample()) // parentbased_always_on
}

// Shutdown exports the spans still queued, within ctx, and stops.
func (t *Tracer) Shutdown(ctx context.Context) error {
	if t == nil {
		return nil
	}
	return t.tp.Shutdown(ctx)
}

// StartRequest starts the server span of r under ctx (r's context). The incoming traceparent and
// tracestate are continued only when the peer is trusted
// (tracing.trust_incoming); anyone else's are ignored, so the span is a
// root whose sampling the gateway's sampler decides. The span's name and
// attributes are set by Finish. The incoming headers are then removed from
// r: the upstream exchange sets the gateway's own (Upstream), so the
// policy never judges a trace context the upstream does not receive.
func (t *Tracer) StartRequest(ctx context.Context, r *http.Request) (context.Context, trace.Span) {
	if t.trusts(r.RemoteAddr) {
		ctx = t.prop.Extract(ctx, propagation.HeaderCarrier(r.Header))
	}
	r.Header.Del(TraceparentHeader)
	r.Header.Del(TracestateHeader)
	return t.tracer.Start(ctx, "portcullis", trace.WithSpanKind(trace.SpanKindServer))
}

func (t *Tracer) trusts(remoteAddr string) bool {
	return t.trustAll || trusted.Contains(t.trusted, remoteAddr)
}

// Attribute keys of the gateway's spans. Values are names, codes and
// statuses only: never a credential, a header value or the query.
const (
	attrRoute      = "portcullis.route"
	attrReason     = "portcullis.reason"
	attrDecisionID = "portcullis.decision_id"
	attrMethod     = "http.request.method"
	attrStatus     = "http.response.status_code"
	attrServerAddr = "server.address"
)

// Finish names and ends the server span of a request: its route (empty
// when none matched), method, status and reason code.
func Finish(span trace.Span, route, method string, status int, reason, decisionID string) {
	if !span.IsRecording() { // not sampled: nothing to describe
		span.End()
		return
	}
	name := method
	if route != "" {
		name += " " + route
	}
	span.SetName(name)
	span.SetAttributes(
		attribute.String(attrRoute, route),
		attribute.String(attrMethod, method),
		attribute.Int(attrStatus, status),
		attribute.String(attrReason, reason),
		attribute.String(attrDecisionID, decisionID),
	)
	if status >= 500 {
		span.SetStatus(codes.Error, reason)
	}
	span.End()
}
