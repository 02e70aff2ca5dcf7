package decisionlog

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/portcullis/portcullis/policy"
)

func benchLogger(b *testing.B, o Options) *Logger {
	b.Helper()
	o.SampleAllow, o.SampleDeny = 1, 1
	s, err := StdoutOptions{W: io.Discard}.Open(Env{})
	if err != nil {
		b.Fatal(err)
	}
	l, err := New(o, s)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = l.Close(context.Background()) })
	return l
}

// BenchmarkLog is the cost of one event with a typical ast.Value input to
// a discarding sink, as the gateway logs it per request.
func BenchmarkLog(b *testing.B) {
	ev := goldenEvent()
	for _, bc := range []struct {
		name string
		opts Options
	}{
		{"plain", Options{}},
		{"erase pointer", Options{Erase: []string{"/input/request/body/card"}}},
		{"mask rule", Options{Masker: &fakeMasker{ops: []policy.MaskOp{
			{Op: "remove", Path: "/input/request/body/card"},
			{Op: "upsert", Path: "/input/identity/subject", Value: "***"},
		}}}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			l := benchLogger(b, bc.opts)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				l.Log(ctx, ev)
			}
		})
	}
}

// BenchmarkGatewayEvent is the cost of one event as the gateway logs it:
// the Go input of a request with a cached JWT, to a discarding sink.
func BenchmarkGatewayEvent(b *testing.B) {
	l := benchLogger(b, Options{})
	ev := gatewayEvent()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		l.Log(ctx, ev)
	}
}

// gatewayEvent is an event as logDecision makes it for a request with a
// cached JWT: the Go input, the identity's cell, the caller's fields.
func gatewayEvent() *Event {
	ev := goldenEvent()
	in := benchGoInput()
	in.Identity.JSON = new(policy.Encoded) // as the JWT cache's
	ev.Input = in
	ev.Subject, ev.Consumer, ev.AuthnMethod = in.Identity.Subject, in.Identity.Consumer, in.Identity.Method
	return ev
}

// benchGoInput is a typical gateway input: a POST with a JSON body by a
// caller whose JWT carries the usual claims, decoded as the JWT
// authenticator decodes them (numbers as json.Number).
func benchGoInput() *policy.Input {
	return &policy.Input{
		Request: policy.Request{
			ID: "req-1", Method: "POST", Path: "/orders/42", Segments: []string{"orders", "42"},
			Host: "api.example.com", Scheme: "https", Query: map[string][]string{"expand": {"items"}},
			Headers: map[string]string{"content-type": "application/json", "user-agent": "curl/8"},
			Body:    map[string]any{"card": map[string]any{"number": "4111111111111111", "cvc": "123"}, "qty": 2.0, "note": "line1\nline2 \"q\" <b>"},
		},
		Route: policy.Route{Name: "orders", OperationID: "createOrder", PathParams: map[string]string{"id": "42"}},
		Identity: &policy.Identity{Authenticated: true, Method: "jwt", Subject: "alice", Issuer: "https://idp.example.com",
			Groups: []string{"admin", "dev"}, Scopes: []string{"orders:write"}, KeyID: "k1", Claims: benchClaims()},
		Validation: policy.Validation{Ran: true, Valid: true},
	}
}

func benchClaims() map[string]any {
	return map[string]any{
		"iss": "https://idp.example.com", "sub": "alice", "aud": []any{"orders-api"},
		"exp": json.Number("1798761600"), "iat": json.Number("1798758000"), "nbf": json.Number("1798758000"),
		"jti": "5f0c2a8e-91b4-4d7e-a3c6-0e8b7d2f41aa", "groups": []any{"admin", "dev"}, "role": "buyer",
		"scope": "orders:write",
	}
}

// BenchmarkInputEncoding compares writing the input from the gateway's Go
// values (as it logs it), writing the same document's ast.Value directly,
// and converting that through ast.JSON and encoding/json.
func BenchmarkInputEncoding(b *testing.B) {
	in := typicalInput()
	goIn := benchGoInput()
	b.Run("from the Go input", func(b *testing.B) {
		b.ReportAllocs()
		buf := make([]byte, 0, 4096)
		for b.Loop() {
			buf, _ = appendInput(buf[:0], goIn)
		}
	})
	b.Run("from the Go input, identity of a cached token", func(b *testing.B) {
		in := *goIn
		id := *in.Identity
		id.JSON = new(policy.Encoded)
		in.Identity = &id
		b.ReportAllocs()
		buf := make([]byte, 0, 4096)
		for b.Loop() {
			buf, _ = appendInput(buf[:0], &in)
		}
	})
	b.Run("direct", func(b *testing.B) {
		b.ReportAllocs()
		buf := make([]byte, 0, 4096)
		for b.Loop() {
			buf, _ = appendAST(buf[:0], in)
		}
	})
	b.Run("ast.JSON and encoding/json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			v, _ := ast.JSON(in)
			_, _ = json.Marshal(v)
		}
	})
}

// countingFile counts the writes that reach a real file.
type countingFile struct {
	f      *os.File
	writes atomic.Int64
}

func (c *countingFile) Write(b []byte) (int, error) {
	c.writes.Add(1)
	return c.f.Write(b)
}

// BenchmarkStreamUnderLoad logs from 16 goroutines that each do about a
// request's worth of other work and waiting per event, into a real file: how many
// events go out per write system call (events/write) and the CPU of it
// all (measure with the process's CPU time; ns/op is wall time).
func BenchmarkStreamUnderLoad(b *testing.B) {
	f, err := os.Create(filepath.Join(b.TempDir(), "decisions.log"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	w := &countingFile{f: f}
	s, err := StdoutOptions{W: w}.Open(Env{})
	if err != nil {
		b.Fatal(err)
	}
	l, err := New(Options{SampleAllow: 1, SampleDeny: 1}, s)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	in := benchGoInput()
	in.Identity.JSON = new(policy.Encoded) // as the JWT cache's
	b.SetParallelism(8)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		ev := goldenEvent()
		ev.Input = in
		var sink uint64
		for pb.Next() {
			for i := range 20_000 { // the rest of a request
				sink += uint64(i) * uint64(i)
			}
			time.Sleep(100 * time.Microsecond) // and its waits for the network
			ev.Latency = time.Duration(sink & 0xff)
			l.Log(ctx, ev)
		}
	})
	if err := l.Close(ctx); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/float64(w.writes.Load()), "events/write")
}

// BenchmarkGatewayEventEncode is BenchmarkGatewayEvent's encoding alone,
// without the stream's goroutine: deterministic enough to count
// instructions.
func BenchmarkGatewayEventEncode(b *testing.B) {
	l := benchLogger(b, Options{})
	ev := gatewayEvent()
	b.ReportAllocs()
	for b.Loop() {
		d := doc{input: ev.Input, result: ev.Result}
		putLine(l.encode(ev, ev.DecisionID, ev.Timestamp, &d))
	}
}
