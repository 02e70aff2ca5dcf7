package tests

import (
	"bytes"
	"compress/gzip"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// otlpReceiver is an OTLP/HTTP traces endpoint on 127.0.0.1: it decodes
// every ExportTraceServiceRequest and keeps the spans with their
// resource's service.name.
type otlpReceiver struct {
	*httptest.Server
	mu      sync.Mutex
	spans   []otlpSpan
	headers []http.Header
}

type otlpSpan struct {
	service string
	*tracepb.Span
}

func newOTLPReceiver(t *testing.T) *otlpReceiver {
	t.Helper()
	rc := &otlpReceiver{}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/x-protobuf" {
			http.Error(w, "want POST /v1/traces application/x-protobuf", http.StatusBadRequest)
			return
		}
		var body io.Reader = r.Body
		if r.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			body = zr
		}
		b, err := io.ReadAll(body)
		var req coltracepb.ExportTraceServiceRequest
		if err == nil {
			err = proto.Unmarshal(b, &req)
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		rc.mu.Lock()
		rc.headers = append(rc.headers, r.Header.Clone())
		for _, rs := range req.ResourceSpans {
			svc := attrString(rs.GetResource().GetAttributes(), "service.name")
			for _, ss := range rs.ScopeSpans {
				for _, s := range ss.Spans {
					rc.spans = append(rc.spans, otlpSpan{service: svc, Span: s})
				}
			}
		}
		rc.mu.Unlock()
		out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(out)
	}))
	t.Cleanup(rc.Close)
	return rc
}

// trace returns the spans of traceID once a span named root arrived, or
// fails after a generous wait.
func (rc *otlpReceiver) trace(t *testing.T, traceID []byte, root string) []otlpSpan {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		var got []otlpSpan
		done := false
		rc.mu.Lock()
		for _, s := range rc.spans {
			if bytes.Equal(s.TraceId, traceID) {
				got = append(got, s)
				done = done || s.Name == root
			}
		}
		rc.mu.Unlock()
		if done {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("no span %q of trace %x after 15s (%d spans of it)", root, traceID, len(got))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (rc *otlpReceiver) all() []otlpSpan {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]otlpSpan(nil), rc.spans...)
}

func attrString(attrs []*commonpb.KeyValue, key string) string {
	for _, a := range attrs {
		if a.Key == key {
			if v, ok := a.Value.Value.(*commonpb.AnyValue_IntValue); ok {
				return fmt.Sprint(v.IntValue)
			}
			return a.Value.GetStringValue()
		}
	}
	return ""
}

// spanNamed returns the one span called name, failing otherwise.
func spanNamed(t *testing.T, spans []otlpSpan, name string) otlpSpan {
	t.Helper()
	var found []otlpSpan
	for _, s := range spans {
		if s.Name == name {
			found = append(found, s)
		}
	}
	if len(found) != 1 {
		names := make([]string, len(spans))
		for i, s := range spans {
			names[i] = s.Name
		}
		t.Fatalf("%d spans named %q among %v", len(found), name, names)
	}
	return found[0]
}

// traceparent parses a W3C traceparent into trace id, parent id and flags.
func traceparent(t *testing.T, v string) (traceID, parentID []byte, flags string) {
	t.Helper()
	p := strings.Split(v, "-")
	if len(p) != 4 || p[0] != "00" {
		t.Fatalf("traceparent %q is not version 00", v)
	}
	tid, err1 := hex.DecodeString(p[1])
	pid, err2 := hex.DecodeString(p[2])
	if err1 != nil || err2 != nil || len(tid) != 16 || len(pid) != 8 {
		t.Fatalf("traceparent %q does not parse", v)
	}
	return tid, pid, p[3]
}

// lastUpstreamHeader is header name of the last request up received.
func lastUpstreamHeader(t *testing.T, up *upstream, name string) string {
	t.Helper()
	reqs := up.requests()
	if len(reqs) == 0 {
		t.Fatal("the upstream got no request")
	}
	return reqs[len(reqs)-1].Header.Get(name)
}

// decisionTraceID is the trace_id of the decision-log event id in the file.
func decisionTraceID(t *testing.T, path, id string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		for _, ev := range fileEvents(path) {
			if ev.DecisionID == id {
				var v struct {
					TraceID string `json:"trace_id"`
				}
				if err := json.Unmarshal(ev.raw, &v); err != nil {
					t.Fatal(err)
				}
				return v.TraceID
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no decision-log event %s after 10s", id)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// tracingEnv makes the batch processor export at once.
var tracingEnv = []string{"OTEL_BSP_SCHEDULE_DELAY=50"}

const (
	// clientTraceID and clientSpanID are the traceparent a client sends.
	clientTraceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	clientSpanID  = "00f067aa0ba902b7"
	clientParent  = "00-" + clientTraceID + "-" + clientSpanID + "-01"
)

func TestTracingSpanTree(t *testing.T) {
	t.Parallel()
	rc := newOTLPReceiver(t)
	is := newAuthnIntrospector(t)
	up := newUpstream(t, "api")
	g := startGateway(t, gatewayConfig{
		Body: fmt.Sprintf(`
tracing:
  exporter: otlp
  endpoint: %s/v1/traces
  headers: {X-Collector-Key: e2e-collector-key}
  sampler: always_on
  service_name: e2e-gateway
log: {level: debug}
authn:
  introspection:
    endpoint: %s/introspect
    client_id: %s
    client_secret: ${E2E_INTROSPECTION_SECRET}
    timeout: 2s
policy:
  bundles:
    - {name: main, path: bundle}
  timeout: 2s
decision_log:
  stdout: true
  file: {path: decisions.log}
routes:
  - name: api
    match: {path_prefix: /api}
    upstream: %s
    authn: {methods: [introspection]}
`, rc.URL, is.URL, authnClientID, up.URL),
		Files: allowAllBundle,
		Env:   append([]string{"E2E_INTROSPECTION_SECRET=" + authnClientSecret}, tracingEnv...),
	})
	tok := is.activate("tok-"+authnRandom(t, 16), "alice")
	secrets := []string{tok, authnClientSecret, "query-secret-e2e"}

	t.Run("an allowed request is a server span with authn, introspect, authz and upstream under it", func(t *testing.T) {
		resp := g.do("GET", "/api/items?q=query-secret-e2e", nil, map[string]string{
			"Authorization": "Bearer " + tok, "Traceparent": clientParent,
		})
		if body := readAll(t, resp); resp.StatusCode != 200 {
			t.Fatalf("got %d: %s", resp.StatusCode, body)
		}
		tid, upParent, flags := traceparent(t, lastUpstreamHeader(t, up, "Traceparent"))
		if hex.EncodeToString(tid) == clientTraceID {
			t.Fatal("an untrusted client's trace id was continued")
		}
		if flags != "01" {
			t.Fatalf("upstream traceparent flags %s, want 01 (sampled)", flags)
		}
		spans := rc.trace(t, tid, "GET api")
		server := spanNamed(t, spans, "GET api")
		if len(server.ParentSpanId) != 0 {
			t.Fatalf("the server span has parent %x: an untrusted traceparent was continued", server.ParentSpanId)
		}
		if server.Kind != tracepb.Span_SPAN_KIND_SERVER || server.service != "e2e-gateway" {
			t.Fatalf("server span kind %v service %q", server.Kind, server.service)
		}
		for k, want := range map[string]string{"portcullis.route": "api", "http.request.method": "GET", "http.response.status_code": "200", "portcullis.reason": "allow", "portcullis.decision_id": resp.Header.Get("X-Decision-Id")} {
			if got := attrString(server.Attributes, k); got != want {
				t.Errorf("server span %s = %q, want %q", k, got, want)
			}
		}
		authn := spanNamed(t, spans, "authn")
		intro := spanNamed(t, spans, "introspect")
		authz := spanNamed(t, spans, "authz")
		upSpan := spanNamed(t, spans, "upstream")
		for _, c := range []struct {
			child  otlpSpan
			parent otlpSpan
		}{{authn, server}, {intro, authn}, {authz, server}, {upSpan, server}} {
			if !bytes.Equal(c.child.ParentSpanId, c.parent.SpanId) {
				t.Errorf("span %s has parent %x, want %s (%x)", c.child.Name, c.child.ParentSpanId, c.parent.Name, c.parent.SpanId)
			}
		}
		if !bytes.Equal(upParent, upSpan.SpanId) {
			t.Fatalf("the upstream's traceparent names parent %x, want the upstream span %x", upParent, upSpan.SpanId)
		}
		if upSpan.Kind != tracepb.Span_SPAN_KIND_CLIENT || attrString(upSpan.Attributes, "http.response.status_code") != "200" {
			t.Fatalf("upstream span kind %v attributes %v", upSpan.Kind, upSpan.Attributes)
		}
		if got := decisionTraceID(t, filepath.Join(g.dir, "decisions.log"), resp.Header.Get("X-Decision-Id")); got != hex.EncodeToString(tid) {
			t.Fatalf("decision-log trace_id %q, want %x", got, tid)
		}
	})

	t.Run("a refused token is a 401 server span with the reason on it and on authn", func(t *testing.T) {
		resp := g.do("GET", "/api/items", nil, authnBearer("inactive-"+authnRandom(t, 16)))
		readAll(t, resp)
		if resp.StatusCode != 401 {
			t.Fatalf("got %d, want 401", resp.StatusCode)
		}
		var server otlpSpan
		deadline := time.Now().Add(15 * time.Second)
		for server.Span == nil {
			for _, s := range rc.all() {
				if attrString(s.Attributes, "portcullis.decision_id") == resp.Header.Get("X-Decision-Id") {
					server = s
				}
			}
			if time.Now().After(deadline) {
				t.Fatal("no server span of the refused request after 15s")
			}
			time.Sleep(50 * time.Millisecond)
		}
		spans := rc.trace(t, server.TraceId, server.Name)
		reason := attrString(server.Attributes, "portcullis.reason")
		if attrString(server.Attributes, "http.response.status_code") != "401" || reason == "" || reason == "allow" {
			t.Fatalf("server span attributes %v", server.Attributes)
		}
		if got := attrString(spanNamed(t, spans, "authn").Attributes, "portcullis.reason"); got != reason {
			t.Fatalf("authn span reason %q, want %q", got, reason)
		}
		for _, s := range spans {
			if s.Name == "authz" || s.Name == "upstream" {
				t.Fatalf("a refused request has a %s span", s.Name)
			}
		}
	})

	t.Run("no credential, query or collector header is in any span", func(t *testing.T) {
		spans := rc.all()
		if len(spans) == 0 {
			t.Fatal("no spans")
		}
		for _, s := range spans {
			b, err := proto.Marshal(s.Span)
			if err != nil {
				t.Fatal(err)
			}
			for _, sec := range append(secrets, "e2e-collector-key") {
				if bytes.Contains(b, []byte(sec)) {
					t.Fatalf("span %s holds %q", s.Name, sec)
				}
			}
		}
		rc.mu.Lock()
		h := rc.headers[0].Get("X-Collector-Key")
		rc.mu.Unlock()
		if h != "e2e-collector-key" {
			t.Fatalf("the collector got X-Collector-Key %q, want tracing.headers' value", h)
		}
		// The query is the decision log's to record (input.request.query), not a span's.
		authnNoSecretsInOutput(t, g, []string{tok, authnClientSecret, "e2e-collector-key"})
	})
}

// tracingRatioZero is a gateway that samples no trace of its own, so a
// span exported can only come from a continued, sampled traceparent.
func tracingRatioZero(t *testing.T, rc *otlpReceiver, up *upstream, listen string) *gateway {
	return startGateway(t, gatewayConfig{
		Listen: listen,
		Body: fmt.Sprintf(`
tracing:
  exporter: otlp
  endpoint: %s/v1/traces
  sampler: parentbased_traceidratio
  sampler_arg: 0
policy:
  bundles:
    - {name: main, path: bundle}
  timeout: 2s
decision_log:
  file: {path: decisions.log}
routes:
  - name: api
    match: {path_prefix: /api}
    upstream: %s
    authn: {anonymous: true}
`, rc.URL, up.URL),
		Files: allowAllBundle,
		Env:   tracingEnv,
	})
}

func TestTracingIncomingTraceparent(t *testing.T) {
	t.Parallel()
	headers := map[string]string{"Traceparent": clientParent, "Tracestate": "vendor=client-state"}

	t.Run("a trusted client's sampled traceparent is continued", func(t *testing.T) {
		t.Parallel()
		rc, up := newOTLPReceiver(t), newUpstream(t, "api")
		g := tracingRatioZero(t, rc, up, "  trusted_proxies: [127.0.0.1]\n")
		resp := g.do("GET", "/api/x", nil, headers)
		if body := readAll(t, resp); resp.StatusCode != 200 {
			t.Fatalf("got %d: %s", resp.StatusCode, body)
		}
		tid, _, flags := traceparent(t, lastUpstreamHeader(t, up, "Traceparent"))
		if hex.EncodeToString(tid) != clientTraceID || flags != "01" {
			t.Fatalf("upstream traceparent %s, want the client's trace, sampled", lastUpstreamHeader(t, up, "Traceparent"))
		}
		if ts := lastUpstreamHeader(t, up, "Tracestate"); ts != "vendor=client-state" {
			t.Fatalf("upstream tracestate %q, want the client's", ts)
		}
		server := spanNamed(t, rc.trace(t, tid, "GET api"), "GET api")
		if hex.EncodeToString(server.ParentSpanId) != clientSpanID {
			t.Fatalf("server span parent %x, want the client's span %s", server.ParentSpanId, clientSpanID)
		}
	})

	t.Run("an untrusted client's traceparent neither picks the trace id nor forces sampling", func(t *testing.T) {
		t.Parallel()
		rc, up := newOTLPReceiver(t), newUpstream(t, "api")
		g := tracingRatioZero(t, rc, up, "")
		resp := g.do("GET", "/api/x", nil, headers)
		if body := readAll(t, resp); resp.StatusCode != 200 {
			t.Fatalf("got %d: %s", resp.StatusCode, body)
		}
		tid, _, flags := traceparent(t, lastUpstreamHeader(t, up, "Traceparent"))
		if hex.EncodeToString(tid) == clientTraceID || flags != "00" {
			t.Fatalf("upstream traceparent %s, want a new trace id, not sampled", lastUpstreamHeader(t, up, "Traceparent"))
		}
		if ts := lastUpstreamHeader(t, up, "Tracestate"); ts != "" {
			t.Fatalf("upstream tracestate %q, want none", ts)
		}
		// The trace id the upstream got is the decision log's too.
		if got := decisionTraceID(t, filepath.Join(g.dir, "decisions.log"), resp.Header.Get("X-Decision-Id")); got != hex.EncodeToString(tid) {
			t.Fatalf("decision-log trace_id %q, want %x", got, tid)
		}
		g.stop() // flushes what was queued
		if spans := rc.all(); len(spans) != 0 {
			t.Fatalf("%d spans exported, want none (sampled by an untrusted traceparent)", len(spans))
		}
	})
}

func TestTracingFromEnvironment(t *testing.T) {
	t.Parallel()
	rc, up := newOTLPReceiver(t), newUpstream(t, "api")
	cfg := dlRouteConfig(up, "  file: {path: decisions.log}")
	cfg.Env = append([]string{"OTEL_TRACES_EXPORTER=otlp", "OTEL_EXPORTER_OTLP_ENDPOINT=" + rc.URL, "OTEL_SERVICE_NAME=e2e-from-env"}, tracingEnv...)
	g := startGateway(t, cfg)
	resp := g.do("GET", "/api/x", nil, nil)
	if body := readAll(t, resp); resp.StatusCode != 200 {
		t.Fatalf("got %d: %s", resp.StatusCode, body)
	}
	tid, _, _ := traceparent(t, lastUpstreamHeader(t, up, "Traceparent"))
	server := spanNamed(t, rc.trace(t, tid, "GET api"), "GET api")
	if server.service != "e2e-from-env" {
		t.Fatalf("service.name %q, want OTEL_SERVICE_NAME's", server.service)
	}
}

func TestTracingOffKeepsTraceHeaders(t *testing.T) {
	t.Parallel()
	up := newUpstream(t, "api")
	g := startGateway(t, dlRouteConfig(up, "  file: {path: decisions.log}"))
	resp := g.do("GET", "/api/x", nil, map[string]string{"Traceparent": clientParent, "Tracestate": "vendor=client-state"})
	if body := readAll(t, resp); resp.StatusCode != 200 {
		t.Fatalf("got %d: %s", resp.StatusCode, body)
	}
	if got := lastUpstreamHeader(t, up, "Traceparent"); got != clientParent {
		t.Fatalf("upstream traceparent %q, want the client's unchanged", got)
	}
	if got := lastUpstreamHeader(t, up, "Tracestate"); got != "vendor=client-state" {
		t.Fatalf("upstream tracestate %q, want the client's unchanged", got)
	}
	if got := decisionTraceID(t, filepath.Join(g.dir, "decisions.log"), resp.Header.Get("X-Decision-Id")); got != "" {
		t.Fatalf("decision-log trace_id %q without tracing", got)
	}
}
