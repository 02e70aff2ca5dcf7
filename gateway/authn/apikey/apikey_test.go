package apikey

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/portcullis/portcullis/gateway/pipeline"
	"github.com/portcullis/portcullis/gateway/problem"
	"github.com/portcullis/portcullis/policy"
)

var t0 = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

func consumers(keys ...map[string]any) map[string]any {
	ks := make([]any, len(keys))
	for i, k := range keys {
		ks[i] = k
	}
	return map[string]any{"partner": map[string]any{"groups": []any{"read-access"}, "keys": ks}}
}

func key(id, secret string, nbf, exp any) map[string]any {
	k := map[string]any{"id": id, "hash": Hash(secret)}
	if nbf != nil {
		k["not_before"] = nbf
	}
	if exp != nil {
		k["expires_at"] = exp
	}
	return k
}

func newAuth(t testing.TB, data any) *Authenticator {
	t.Helper()
	x, err := NewIndex(data)
	if err != nil {
		t.Fatal(err)
	}
	a := New(Options{Now: func() time.Time { return t0 }})
	a.SetIndex(x)
	return a
}

func apiKey(v string) pipeline.Credential {
	return pipeline.Credential{Kind: "api_key", Source: "header", Value: v}
}

func TestAuthenticate(t *testing.T) {
	t.Parallel()
	data := consumers(
		key("current", "k-current", "2026-04-01T00:00:00Z", "2027-04-01T00:00:00Z"),
		key("old", "k-old", "2025-04-01T00:00:00Z", "2026-06-30T00:00:00Z"),
		key("expired", "k-expired", nil, "2026-05-01T00:00:00Z"),
		key("future", "k-future", "2026-07-01T00:00:00Z", nil),
		key("numeric", "k-numeric", float64(t0.Unix()-1), float64(t0.Unix()+1)),
		key("ends-now", "k-ends-now", nil, t0.Format(time.RFC3339)),
	)
	a := newAuth(t, data)
	tests := []struct {
		name   string
		cred   pipeline.Credential
		reason string
		keyID  string
	}{
		{"a valid key authenticates its consumer", apiKey("k-current"), "", "current"},
		{"the old key still works during a rotation overlap", apiKey("k-old"), "", "old"},
		{"times given as Unix seconds are honoured", apiKey("k-numeric"), "", "numeric"},
		{"an unknown key gets api_key_invalid", apiKey("k-unknown"), ReasonInvalid, ""},
		{"an empty key gets api_key_invalid", apiKey(""), ReasonInvalid, ""},
		{"an expired key gets api_key_expired", apiKey("k-expired"), ReasonExpired, ""},
		{"a key expiring this instant is expired", apiKey("k-ends-now"), ReasonExpired, ""},
		{"a key before not_before gets api_key_not_yet_valid", apiKey("k-future"), ReasonNotYetValid, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			id, err := a.Authenticate(context.Background(), tc.cred)
			if tc.reason != "" {
				p := problem.As(err)
				if p == nil || string(p.Reason) != tc.reason || p.Status != http.StatusUnauthorized {
					t.Fatalf("got %v, want 401 %s", err, tc.reason)
				}
				if p.Header.Get("WWW-Authenticate") == "" {
					t.Error("401 without WWW-Authenticate")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := policy.Identity{Authenticated: true, Method: policy.MethodAPIKey, Subject: "partner", Consumer: "partner", KeyID: tc.keyID}
			if id.Authenticated != want.Authenticated || id.Method != want.Method || id.Subject != want.Subject ||
				id.Consumer != want.Consumer || id.KeyID != want.KeyID || len(id.Groups) != 1 || id.Groups[0] != "read-access" {
				t.Fatalf("identity %+v, want %+v with groups [read-access]", id, want)
			}
		})
	}
}

func TestAuthenticateOtherKindsAndNoIndex(t *testing.T) {
	t.Parallel()
	a := New(Options{})
	_, err := a.Authenticate(context.Background(), pipeline.Credential{Kind: "bearer", Value: "x"})
	if !errors.Is(err, pipeline.ErrNoCredential) {
		t.Fatalf("bearer credential: got %v, want ErrNoCredential", err)
	}
	_, err = a.Authenticate(context.Background(), apiKey("x"))
	if p := problem.As(err); p == nil || p.Status != http.StatusServiceUnavailable || p.Reason != ReasonUnavailable {
		t.Fatalf("no index: got %v, want 503 %s", err, ReasonUnavailable)
	}
}

func TestSetIndexRevokesKeys(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	a := New(Options{Registerer: reg, Now: func() time.Time { return t0 }})
	if a.Ready() {
		t.Error("Ready without an index")
	}
	both, err := NewIndex(consumers(key("a", "k-a", nil, nil), key("b", "k-b", nil, nil)))
	if err != nil {
		t.Fatal(err)
	}
	a.SetIndex(both)
	if !a.Ready() {
		t.Error("not Ready with an index")
	}
	if got := value(t, a.keys); got != 2 {
		t.Errorf("keys gauge = %v, want 2", got)
	}
	if _, err := a.Authenticate(context.Background(), apiKey("k-a")); err != nil {
		t.Fatalf("before revocation: %v", err)
	}
	onlyB, err := NewIndex(consumers(key("b", "k-b", nil, nil)))
	if err != nil {
		t.Fatal(err)
	}
	a.SetIndex(onlyB)
	if _, err := a.Authenticate(context.Background(), apiKey("k-a")); problem.As(err) == nil || problem.As(err).Reason != ReasonInvalid {
		t.Fatalf("revoked key: got %v, want %s", err, ReasonInvalid)
	}
	if _, err := a.Authenticate(context.Background(), apiKey("k-b")); err != nil {
		t.Fatalf("kept key: %v", err)
	}
	if got := value(t, a.results.WithLabelValues(ReasonInvalid)); got != 1 {
		t.Errorf("invalid counter = %v, want 1", got)
	}
	// A second authenticator on the same registry (a reload) reuses the series.
	b := New(Options{Registerer: reg})
	if b.results != a.results {
		t.Error("second New did not reuse the registered counter")
	}
}

func BenchmarkAuthenticate(b *testing.B) {
	data := map[string]any{}
	for i := range 10000 {
		name := "consumer-" + string(rune('a'+i%26)) + time.Duration(i).String()
		data[name] = map[string]any{"keys": []any{map[string]any{"id": "k", "hash": Hash(name)}}}
	}
	data["bench"] = map[string]any{"groups": []any{"g"}, "keys": []any{map[string]any{"id": "k", "hash": Hash("pk_bench")}}}
	x, err := NewIndex(data)
	if err != nil {
		b.Fatal(err)
	}
	a := New(Options{})
	a.SetIndex(x)
	ctx := context.Background()
	cred := apiKey("pk_bench")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.Authenticate(ctx, cred); err != nil {
			b.Fatal(err)
		}
	}
}

// value reads a counter or gauge.
func value(t testing.TB, c prometheus.Metric) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	if m.Counter != nil {
		return m.Counter.GetValue()
	}
	return m.Gauge.GetValue()
}
