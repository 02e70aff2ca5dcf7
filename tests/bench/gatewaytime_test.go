package main

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// exposition is gatewayTimeMetric as /metrics prints it, with (c)'s route
// holding counts cum (at 0.0005, 0.001, 0.0025 seconds, +Inf).
func exposition(cum [4]int) string {
	return fmt.Sprintf(`# HELP portcullis_http_gateway_duration_seconds x
# TYPE portcullis_http_gateway_duration_seconds histogram
portcullis_http_gateway_duration_seconds_bucket{route="other",le="0.0005"} 7
portcullis_http_gateway_duration_seconds_bucket{route="other",le="0.001"} 7
portcullis_http_gateway_duration_seconds_bucket{route="other",le="0.0025"} 7
portcullis_http_gateway_duration_seconds_bucket{route="other",le="+Inf"} 7
portcullis_http_gateway_duration_seconds_sum{route="other"} 0.001
portcullis_http_gateway_duration_seconds_count{route="other"} 7
portcullis_http_gateway_duration_seconds_bucket{route="users-api",le="0.0005"} %[1]d
portcullis_http_gateway_duration_seconds_bucket{route="users-api",le="0.001"} %[2]d
portcullis_http_gateway_duration_seconds_bucket{route="users-api",le="0.0025"} %[3]d
portcullis_http_gateway_duration_seconds_bucket{route="users-api",le="+Inf"} %[4]d
portcullis_http_gateway_duration_seconds_sum{route="users-api"} 1
portcullis_http_gateway_duration_seconds_count{route="users-api"} %[4]d
`, cum[0], cum[1], cum[2], cum[3])
}

func parseBuckets(t *testing.T, text string) buckets {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	b, err := histogramOf(fams[gatewayTimeMetric], fullRoute)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestGatewayTimeBuckets(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		rounds    [][2][4]int // before and after, per round
		total     uint64
		p99       float64 // seconds; +Inf: beyond the buckets
		within1ms float64
	}{
		{
			name:   "one round, 99 % within 500 µs",
			rounds: [][2][4]int{{{10, 10, 10, 10}, {1000, 1009, 1010, 1010}}},
			total:  1000, p99: 0.0005, within1ms: 0.999,
		},
		{
			name:   "two rounds add up; the p99 lands in the 2.5 ms bucket",
			rounds: [][2][4]int{{{0, 0, 0, 0}, {90, 95, 100, 100}}, {{90, 95, 100, 100}, {180, 190, 200, 200}}},
			total:  200, p99: 0.0025, within1ms: 0.95,
		},
		{
			name:   "more than 1 % beyond the last bound",
			rounds: [][2][4]int{{{0, 0, 0, 0}, {50, 60, 70, 100}}},
			total:  100, p99: math.Inf(1), within1ms: 0.6,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var sum buckets
			for _, r := range tc.rounds {
				sum.add(parseBuckets(t, exposition(r[0])), parseBuckets(t, exposition(r[1])))
			}
			if sum.total() != tc.total || sum.quantileBound(0.99) != tc.p99 || math.Abs(sum.within(0.001)-tc.within1ms) > 1e-9 {
				t.Fatalf("total %d, p99 ≤ %v, within 1 ms %v; want %d, %v, %v",
					sum.total(), sum.quantileBound(0.99), sum.within(0.001), tc.total, tc.p99, tc.within1ms)
			}
		})
	}
	t.Run("no route, no histogram", func(t *testing.T) {
		t.Parallel()
		p := expfmt.NewTextParser(model.UTF8Validation)
		fams, err := p.TextToMetricFamilies(strings.NewReader(strings.ReplaceAll(exposition([4]int{}), "users-api", "x")))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := histogramOf(fams[gatewayTimeMetric], fullRoute); err == nil {
			t.Fatal("want an error for a missing route")
		}
	})
}
