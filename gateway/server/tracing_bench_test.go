package server

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/portcullis/portcullis/gateway/config"
	"github.com/portcullis/portcullis/gateway/tracing"
)

// benchTracer is the tracer of the pipelines the benchmarks build; nil:
// tracing off, as in production by default.
var benchTracer *tracing.Tracer

// BenchmarkFullPipelineTraced is BenchmarkFullPipeline with tracing on,
// sampled at 1 % (parentbased_traceidratio 0.01), exporting to a local
// OTLP/HTTP endpoint that discards what it gets.
func BenchmarkFullPipelineTraced(b *testing.B) {
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	defer sink.Close()
	ratio := 0.01
	cfg := &config.Config{Tracing: config.Tracing{Exporter: "otlp", Endpoint: sink.URL + "/v1/traces", Sampler: "parentbased_traceidratio", SamplerArg: &ratio, TrustIncoming: "none"}}
	tr, err := tracing.New(context.Background(), cfg, "bench")
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = tr.Shutdown(context.Background()) }()
	benchTracer = tr
	defer func() { benchTracer = nil }()
	benchPipeline(b, true, false)
}
