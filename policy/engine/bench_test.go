package engine

import (
	"context"
	"testing"
)

func BenchmarkEvaluate(b *testing.B) {
	e := newEngine(b, Options{Sources: sources(exampleBundle)})
	in := typicalInput()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if d := e.Evaluate(ctx, in); !d.Allow {
			b.Fatalf("denied: %v", d.Err)
		}
	}
}

func BenchmarkInputValue(b *testing.B) {
	in := typicalInput()
	b.ReportAllocs()
	for b.Loop() {
		_ = InputValue(in)
	}
}
