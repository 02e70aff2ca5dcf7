package config

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestTracing(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	parse := func(tracing string) (*Config, error) {
		return Parse(filepath.Join(dir, "portcullis.yaml"), []byte(minimal+tracing))
	}
	t.Run("defaults: the environment decides, http/protobuf, trusted proxies' trace context", func(t *testing.T) {
		t.Parallel()
		c, err := parse("")
		if err != nil {
			t.Fatal(err)
		}
		tr := c.Tracing
		if tr.Exporter != "" || tr.Protocol != "http/protobuf" || tr.TrustIncoming != "trusted_proxies" || tr.Sampler != "" || tr.SamplerArg != nil || tr.ServiceName != "" {
			t.Errorf("tracing = %+v", tr)
		}
	})
	t.Run("a full section decodes", func(t *testing.T) {
		t.Parallel()
		c, err := parse("tracing:\n  exporter: otlp\n  endpoint: http://collector:4318/v1/traces\n  headers: {X-Key: k}\n  sampler: parentbased_traceidratio\n  sampler_arg: 0.01\n  service_name: edge\n  trust_incoming: none\n")
		if err != nil {
			t.Fatal(err)
		}
		if tr := c.Tracing; *tr.SamplerArg != 0.01 || tr.Headers["X-Key"] != "k" || tr.TrustIncoming != "none" {
			t.Errorf("tracing = %+v", tr)
		}
	})
	for _, tc := range []struct{ name, tracing, want string }{
		{"an unknown exporter is refused", "tracing: {exporter: jaeger}", `tracing.exporter: "jaeger" is not allowed (want "otlp", "none")`},
		{"grpc is refused", "tracing: {protocol: grpc}", `tracing.protocol: "grpc" is not allowed (want "http/protobuf")`},
		{"an endpoint that is no URL is refused", "tracing: {endpoint: 'collector:4318'}", `tracing.endpoint: "collector:4318" must be an http or https URL`},
		{"an unknown sampler is refused", "tracing: {sampler: sometimes}", `tracing.sampler: "sometimes" is not allowed`},
		{"a ratio above 1 is refused", "tracing: {sampler_arg: 2}", "tracing.sampler_arg: 2 is out of range (want 0..1)"},
		{"an unknown trust is refused", "tracing: {trust_incoming: some}", `tracing.trust_incoming: "some" is not allowed (want "trusted_proxies", "all", "none")`},
		{"an unknown field is refused", "tracing: {exporter_url: x}", "exporter_url"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := parse(tc.tracing + "\n")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
}
