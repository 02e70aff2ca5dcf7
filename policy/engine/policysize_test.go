package engine

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/policy"
)

// sizedPolicy is a bundle of n allow rules, each an indexable equality on
// the path and the method, as a route table written in Rego is.
func sizedPolicy(t testing.TB, n int) string {
	t.Helper()
	var sb strings.Builder
	sb.WriteString("decision := {\"allow\": allow}\n\ndefault allow := false\n")
	for i := range n {
		fmt.Fprintf(&sb, "\nallow if {\n\tinput.request.path == \"/api/v1/resources/%d\"\n\tinput.request.method == \"GET\"\n\t\"users:read\" in input.identity.scopes\n}\n", i)
	}
	return authzBundle(t, "p", sb.String())
}

func sizedInput(i int) *policy.Input {
	in := typicalInput()
	in.Request.Path = "/api/v1/resources/" + strconv.Itoa(i)
	return in
}

// TestMeasurePolicySize prints, for policies of each rule count in
// PORTCULLIS_POLICY_RULES (e.g. "10,100,1000,5000"), the compile time, the
// heap the engine keeps, and the decision cache's hit ratio over requests
// to 100 paths, 10 000 requests, with the gateway's default cache size. It
// is skipped unless the variable is set.
func TestMeasurePolicySize(t *testing.T) {
	counts := os.Getenv("PORTCULLIS_POLICY_RULES")
	if counts == "" {
		t.Skip("set PORTCULLIS_POLICY_RULES=10,100,1000,5000 to measure")
	}
	ctx := context.Background()
	for _, s := range strings.Split(counts, ",") {
		n, err := strconv.Atoi(s)
		if err != nil {
			t.Fatal(err)
		}
		dir := sizedPolicy(t, n)
		base := heapAfterGC()
		start, cpu0 := time.Now(), cpuTime()
		e := newEngine(t, Options{Sources: sources(dir), DecisionCacheSize: 10000})
		build, cpu := time.Since(start), cpuTime()-cpu0
		held := heapAfterGC() - base
		hits := 0
		for i := range 10000 {
			d := e.Evaluate(ctx, sizedInput(i%100*n/100))
			if !d.Allow {
				t.Fatalf("denied: %v", d.Err)
			}
			if d.Cached {
				hits++
			}
		}
		t.Logf("rules %5d: compile %6.3fs (CPU %6.3fs), held %6.1f MiB (%.1f KiB/rule), cache hit ratio %.3f",
			n, build.Seconds(), cpu.Seconds(), float64(held)/(1<<20), float64(held)/1024/float64(n), float64(hits)/10000)
		runtime.KeepAlive(e)
	}
}

// BenchmarkPolicySize evaluates, without the decision cache, the last rule
// of policies of 10 to 5 000 rules.
func BenchmarkPolicySize(b *testing.B) {
	ctx := context.Background()
	for _, n := range []int{10, 100, 1000, 5000} {
		e := newEngine(b, Options{Sources: sources(sizedPolicy(b, n))})
		in := InputValue(sizedInput(n - 1))
		b.Run(fmt.Sprintf("rules=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if d := e.EvaluateValue(ctx, in); !d.Allow {
					b.Fatalf("denied: %v", d.Err)
				}
			}
		})
	}
}
