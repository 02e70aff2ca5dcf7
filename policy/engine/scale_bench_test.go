package engine

import (
	"context"
	"fmt"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/portcullis/portcullis/internal/scalebench"
	"github.com/portcullis/portcullis/policy"
)

// BenchmarkScalePolicyRules is the policy-size axis of make bench-scale
// (issue 20): a decision among n rules, each an indexable equality on the
// route name and the method, the last of which allows the request. It
// reports the compile time (compile-ms), the heap the compiled policy
// holds and ns/op of Evaluate with the decision cache on, and the cache's
// hit ratio over requests of scalebench.Subjects users (the rules read no
// subject, so every user's request after the first hits).
func BenchmarkScalePolicyRules(b *testing.B) {
	for _, n := range []int{10, 100, 1000, 5000} {
		b.Run(fmt.Sprintf("rules=%d", n), func(b *testing.B) {
			benchScaleEngine(b, authzBundle(b, "1", scalebench.RulesRego(n)), 0)
		})
	}
}

// BenchmarkScaleBundleData is the bundle-data axis: a decision that looks
// the subject up in a data.json of about mib MiB (objects of users with a
// tenant, roles and a note). It reports the time to load and compile the
// bundle, the heap it holds (heap-MiB, B/data-byte: the store's size over
// the JSON's) and ns/op of a decision.
func BenchmarkScaleBundleData(b *testing.B) {
	for _, mib := range []int{1, 10, 30, 100} {
		b.Run(fmt.Sprintf("data=%dMiB", mib), func(b *testing.B) {
			data := scalebench.BundleData(mib << 20)
			dir := writeFiles(b, b.TempDir(), map[string]string{
				".manifest":  `{"revision": "1", "roots": ["portcullis"]}`,
				"data.json":  data,
				"authz.rego": "package portcullis.authz\n\n" + scalebench.DataRego,
			})
			benchScaleEngine(b, dir, len(data))
		})
	}
}

// benchScaleEngine compiles the bundle at dir and measures decisions of
// scalebench.Subjects users on the users API, which it must allow. dataBytes,
// when > 0, is the size of the bundle's data.json, for B/data-byte.
func benchScaleEngine(b *testing.B, dir string, dataBytes int) {
	reg := prometheus.NewRegistry()
	m := scalebench.Metrics{}
	e := scalebench.Heap(m, dataBytes, "B/data-byte", func() *Engine {
		return scalebench.Duration(m, "compile-ms", func() *Engine {
			return newEngine(b, Options{Sources: sources(dir), DecisionCacheSize: 10000, Registerer: reg})
		})
	})
	inputs := make([]*policy.Input, scalebench.Subjects)
	for i := range inputs {
		in := typicalInput()
		in.Identity.Subject = fmt.Sprintf("user-%d", i)
		in.Identity.Claims["sub"] = in.Identity.Subject
		inputs[i] = in
	}
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if d := e.Evaluate(ctx, inputs[i%len(inputs)]); !d.Allow {
			b.Fatalf("denied: %v", d.Err)
		}
		i++
	}
	hits, misses := resultCount(b, reg, "portcullis_policy_decision_cache_total", "hit"), resultCount(b, reg, "portcullis_policy_decision_cache_total", "miss")
	if hits+misses > 0 {
		m["cache-hit-%"] = 100 * hits / (hits + misses)
	}
	m.Report(b)
}
