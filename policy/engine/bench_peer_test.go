package engine

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/policy"
)

// BenchmarkEvaluatePeerCached is make bench's peer-style GET (i) at the
// engine: the ownership policy tests/bench/peer.rego, which reads the
// subject, so 1 000 users rotating are 1 000 decision-cache entries, each
// request a hit of a different one.
func BenchmarkEvaluatePeerCached(b *testing.B) {
	benchPeerCached(b, func(e *Engine, ctx context.Context, in *policy.Input) *policy.Decision { return e.Evaluate(ctx, in) })
}

// BenchmarkEvaluateIntoPeerCached is the authorization stage's call: the
// hit is written to storage the caller keeps.
func BenchmarkEvaluateIntoPeerCached(b *testing.B) {
	var dst policy.Decision
	benchPeerCached(b, func(e *Engine, ctx context.Context, in *policy.Input) *policy.Decision {
		return e.EvaluateInto(ctx, in, &dst)
	})
}

func benchPeerCached(b *testing.B, evaluate func(*Engine, context.Context, *policy.Input) *policy.Decision) {
	rego, err := os.ReadFile("../../tests/bench/peer.rego")
	if err != nil {
		b.Fatal(err)
	}
	_, body, _ := strings.Cut(string(rego), "package portcullis.authz\n")
	e := newEngine(b, Options{Sources: sources(authzBundle(b, "1", body)), DecisionCacheSize: 10000})
	ins := make([]*policy.Input, 1000)
	for i := range ins {
		in := typicalInput()
		user := fmt.Sprintf("bench-user-%d", i)
		in.Request.Path, in.Request.Segments = "/api/v1/users/"+user, []string{"api", "v1", "users", user}
		in.Identity.Subject, in.Identity.Claims = user, map[string]any{"sub": user, "role": "user"}
		ins[i] = in
	}
	ctx := context.Background()
	for _, in := range ins {
		if d := e.Evaluate(ctx, in); !d.Allow {
			b.Fatalf("denied: %v", d.Err)
		}
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if d := evaluate(e, ctx, ins[i%len(ins)]); !d.Allow || !d.Cached {
			b.Fatalf("allow %v cached %v: %v", d.Allow, d.Cached, d.Err)
		}
		i++
	}
}
