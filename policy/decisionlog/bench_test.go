package decisionlog

import (
	"context"
	"encoding/json"
	"io"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/portcullis/portcullis/policy"
)

func benchLogger(b *testing.B, o Options) *Logger {
	b.Helper()
	o.SampleAllow, o.SampleDeny = 1, 1
	o.Stdout = io.Discard
	l, err := New(o)
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

// BenchmarkInputEncoding compares writing an ast.Value directly with
// converting it through ast.JSON and encoding/json.
func BenchmarkInputEncoding(b *testing.B) {
	in := typicalInput()
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
