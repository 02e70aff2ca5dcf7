package tracing

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/portcullis/portcullis/gateway/config"
	"github.com/portcullis/portcullis/gateway/pipeline"
	"github.com/portcullis/portcullis/gateway/problem"
)

func TestEnabled(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, exporter, env string
		want                bool
		err                 string
	}{
		{"nothing set is off", "", "", false, ""},
		{"OTEL_TRACES_EXPORTER=otlp turns it on", "", "otlp", true, ""},
		{"OTEL_TRACES_EXPORTER=none is off", "", "none", false, ""},
		{"the section's otlp wins over the environment's none", "otlp", "none", true, ""},
		{"the section's none wins over the environment's otlp", "none", "otlp", false, ""},
		{"an exporter the gateway lacks is refused", "", "zipkin", false, `OTEL_TRACES_EXPORTER "zipkin" is not supported`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := enabled(tc.exporter, tc.env)
			if got != tc.want || (err == nil) != (tc.err == "") || (err != nil && !strings.Contains(err.Error(), tc.err)) {
				t.Errorf("enabled(%q, %q) = %v, %v; want %v, %q", tc.exporter, tc.env, got, err, tc.want, tc.err)
			}
		})
	}
}

func TestNewOff(t *testing.T) {
	t.Setenv("OTEL_TRACES_EXPORTER", "otlp")
	cfg := &config.Config{Tracing: config.Tracing{Exporter: "none"}}
	if tr, err := New(context.Background(), cfg, "test"); tr != nil || err != nil {
		t.Fatalf("New = %v, %v; want nil, nil", tr, err)
	}
	var off *Tracer
	if err := off.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestSampler(t *testing.T) {
	t.Parallel()
	half := 0.5
	for _, tc := range []struct {
		name string
		arg  *float64
		want string
	}{
		{"always_on", nil, "AlwaysOnSampler"},
		{"always_off", nil, "AlwaysOffSampler"},
		{"traceidratio", &half, "TraceIDRatioBased{0.5}"},
		{"parentbased_always_on", nil, "ParentBased{root:AlwaysOnSampler"},
		{"parentbased_always_off", nil, "ParentBased{root:AlwaysOffSampler"},
		{"parentbased_traceidratio", nil, "ParentBased{root:TraceIDRatioBased{1}"},
	} {
		if got := sampler(tc.name, tc.arg).Description(); !strings.HasPrefix(got, tc.want) {
			t.Errorf("sampler(%s) = %s, want %s…", tc.name, got, tc.want)
		}
	}
	if len(config.Samplers) != 6 {
		t.Fatalf("config.Samplers has %d names; sampler handles 6", len(config.Samplers))
	}
}

func TestTrusts(t *testing.T) {
	t.Parallel()
	proxies := &Tracer{trusted: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}
	for _, tc := range []struct {
		name   string
		t      *Tracer
		remote string
		want   bool
	}{
		{"a peer in trusted_proxies is trusted", proxies, "10.1.2.3:5000", true},
		{"a mapped IPv4 peer in trusted_proxies is trusted", proxies, "[::ffff:10.1.2.3]:5000", true},
		{"a peer outside is not", proxies, "192.0.2.1:5000", false},
		{"an address that does not parse is not", proxies, "pipe", false},
		{"no trusted proxies trust no one", &Tracer{}, "10.1.2.3:5000", false},
		{"all trusts anyone", &Tracer{trustAll: true}, "192.0.2.1:5000", true},
	} {
		if got := tc.t.trusts(tc.remote); got != tc.want {
			t.Errorf("%s: trusts(%s) = %v", tc.name, tc.remote, got)
		}
	}
}

// recording is a Tracer whose spans end in a recorder.
func recording(trustAll bool) (*Tracer, *tracetest.SpanRecorder) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	return &Tracer{tp: tp, tracer: tp.Tracer(scope), trustAll: trustAll}, rec
}

func handsOn(next pipeline.Handler) pipeline.Handler { return next }

func refuses(next pipeline.Handler) pipeline.Handler {
	return pipeline.HandlerFunc(func(http.ResponseWriter, *http.Request) error {
		return problem.New(http.StatusForbidden, "policy_denied", "no")
	})
}

func TestStageSpans(t *testing.T) {
	t.Parallel()
	// upstream is the last handler of a chain, recording the headers it
	// got; one per subtest, as they run in parallel.
	upstream := func() (pipeline.Handler, *http.Header) {
		got := new(http.Header)
		return pipeline.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) error {
			*got = r.Header.Clone()
			return nil
		}), got
	}
	serve := func(tr *Tracer, h pipeline.Handler, header http.Header) error {
		r := httptest.NewRequest("GET", "/x", nil)
		r.Header = header
		ctx, span := tr.StartRequest(r.Context(), r)
		err := h.ServeHTTP(httptest.NewRecorder(), r.WithContext(ctx))
		Finish(span, "api", "GET", 200, "allow", "d1")
		return err
	}
	byName := func(rec *tracetest.SpanRecorder) map[string]sdktrace.ReadOnlySpan {
		m := map[string]sdktrace.ReadOnlySpan{}
		for _, s := range rec.Ended() {
			m[s.Name()] = s
		}
		return m
	}

	t.Run("stages that hand on are siblings under the request and the upstream gets the upstream span as parent", func(t *testing.T) {
		t.Parallel()
		tr, rec := recording(false)
		last, upstreamGot := upstream()
		h := pipeline.Chain(Upstream(last), Stage("authn", handsOn), Stage("authz", handsOn))
		if err := serve(tr, h, http.Header{"Tracestate": {"a=b"}}); err != nil {
			t.Fatal(err)
		}
		s := byName(rec)
		server := s["GET api"]
		for _, n := range []string{"authn", "authz", "upstream"} {
			if s[n] == nil || s[n].Parent().SpanID() != server.SpanContext().SpanID() {
				t.Fatalf("span %s: %v, want a child of the server span", n, s[n])
			}
		}
		want := "00-" + server.SpanContext().TraceID().String() + "-" + s["upstream"].SpanContext().SpanID().String() + "-01"
		if got := upstreamGot.Get(TraceparentHeader); got != want {
			t.Fatalf("upstream traceparent %q, want %q", got, want)
		}
		if ts := upstreamGot.Get(TracestateHeader); ts != "" {
			t.Fatalf("an untrusted tracestate %q reached the upstream", ts)
		}
	})

	t.Run("the stages never see the client's trace context, only the upstream gets one: the gateway's", func(t *testing.T) {
		t.Parallel()
		tr, _ := recording(false)
		var stageGot http.Header
		up, upGot := upstream()
		seen := func(next pipeline.Handler) pipeline.Handler {
			return pipeline.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
				stageGot = r.Header.Clone()
				return next.ServeHTTP(w, r)
			})
		}
		h := pipeline.Chain(Upstream(up), seen)
		client := "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
		if err := serve(tr, h, http.Header{"Traceparent": {client}, "Tracestate": {"a=b"}}); err != nil {
			t.Fatal(err)
		}
		if v, ok := stageGot[TraceparentHeader]; ok || stageGot.Get(TracestateHeader) != "" {
			t.Fatalf("a stage saw the client's trace context %q", v)
		}
		if got := upGot.Get(TraceparentHeader); got == "" || got == client {
			t.Fatalf("upstream traceparent %q, want the gateway's", got)
		}
	})

	t.Run("a stage that refuses ends its span with the reason and no later span starts", func(t *testing.T) {
		t.Parallel()
		tr, rec := recording(false)
		last, _ := upstream()
		h := pipeline.Chain(Upstream(last), Stage("authn", handsOn), Stage("authz", refuses))
		if err := serve(tr, h, http.Header{}); err == nil {
			t.Fatal("the refusal was lost")
		}
		s := byName(rec)
		if s["upstream"] != nil {
			t.Fatal("a refused request has an upstream span")
		}
		if got := s["authz"].Attributes(); !containsAttr(got, attribute.String(attrReason, "policy_denied")) {
			t.Fatalf("authz attributes %v, want reason policy_denied", got)
		}
	})

	t.Run("a trusted client's trace context is continued", func(t *testing.T) {
		t.Parallel()
		tr, rec := recording(true)
		const parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
		last, upstreamGot := upstream()
		if err := serve(tr, Upstream(last), http.Header{"Traceparent": {parent}, "Tracestate": {"a=b"}}); err != nil {
			t.Fatal(err)
		}
		server := byName(rec)["GET api"]
		if server.Parent().SpanID().String() != "00f067aa0ba902b7" || server.SpanContext().TraceID().String() != "4bf92f3577b34da6a3ce929d0e0e4736" {
			t.Fatalf("server span parent %v", server.Parent())
		}
		if ts := upstreamGot.Get(TracestateHeader); ts != "a=b" {
			t.Fatalf("upstream tracestate %q, want the trusted client's", ts)
		}
	})
}

func containsAttr(kvs []attribute.KeyValue, want attribute.KeyValue) bool {
	for _, kv := range kvs {
		if kv == want {
			return true
		}
	}
	return false
}

func TestChildOutsideARecordedRequestCostsNothing(t *testing.T) {
	ctx := context.Background()
	h := pipeline.Chain(Upstream(pipeline.HandlerFunc(func(http.ResponseWriter, *http.Request) error { return nil })), Stage("authn", handsOn))
	r := httptest.NewRequest("GET", "/x", nil)
	w := httptest.NewRecorder()
	allocs := testing.AllocsPerRun(100, func() {
		_, span := Child(ctx, "introspect")
		EndChild(span, 200, nil)
		_ = h.ServeHTTP(w, r)
	})
	if allocs != 0 {
		t.Fatalf("%v allocations outside a recorded request, want 0", allocs)
	}
	if r.Header.Get(TraceparentHeader) != "" {
		t.Fatal("a traceparent was set without tracing")
	}
}

func TestStageOfNilIsNil(t *testing.T) {
	t.Parallel()
	if Stage("validate", nil) != nil {
		t.Fatal("Stage(nil) is not nil: the route would get a stage it does not configure")
	}
}
