package main

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"slices"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// gatewayTimeMetric is the gateway's own share of a request's latency: all
// of it but the exchange with the upstream (see README, "Operations").
const gatewayTimeMetric = "portcullis_http_gateway_duration_seconds"

// buckets is a cumulative histogram as Prometheus exposes it: counts[i]
// observations were at most bounds[i] seconds (the last bound is +Inf).
type buckets struct {
	bounds []float64
	counts []uint64
}

// gatewayTime reads gatewayTimeMetric of (c)'s route from t's admin
// /metrics; a bare proxy has none (empty buckets).
func gatewayTime(ctx context.Context, t *target) (buckets, error) {
	if t.admin == "" {
		return buckets{}, nil
	}
	req, err := http.NewRequestWithContext(ctx, "GET", "http://"+t.admin+"/metrics", nil)
	if err != nil {
		return buckets{}, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return buckets{}, err
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		return buckets{}, fmt.Errorf("gateway metrics: %w", err)
	}
	return histogramOf(families[gatewayTimeMetric], fullRoute)
}

func histogramOf(mf *dto.MetricFamily, route string) (buckets, error) {
	for _, m := range mf.GetMetric() {
		if !slices.ContainsFunc(m.GetLabel(), func(l *dto.LabelPair) bool { return l.GetName() == "route" && l.GetValue() == route }) {
			continue
		}
		var b buckets
		for _, bk := range m.GetHistogram().GetBucket() {
			b.bounds = append(b.bounds, bk.GetUpperBound())
			b.counts = append(b.counts, bk.GetCumulativeCount())
		}
		b.bounds = append(b.bounds, math.Inf(1))
		b.counts = append(b.counts, m.GetHistogram().GetSampleCount())
		return b, nil
	}
	return buckets{}, fmt.Errorf("gateway metrics have no %s{route=%q}", gatewayTimeMetric, route)
}

// add adds the observations made between before and after to b (nothing
// when they are empty).
func (b *buckets) add(before, after buckets) {
	if len(after.counts) == 0 || len(before.counts) != len(after.counts) {
		return
	}
	if b.bounds == nil {
		b.bounds, b.counts = after.bounds, make([]uint64, len(after.counts))
	}
	for i := range b.counts {
		b.counts[i] += after.counts[i] - before.counts[i]
	}
}

// total is the number of observations.
func (b buckets) total() uint64 {
	if len(b.counts) == 0 {
		return 0
	}
	return b.counts[len(b.counts)-1]
}

// quantileBound is the smallest bucket bound at or below which a fraction
// q of the observations lie: the quantile is at most that (+Inf when
// the buckets cannot tell, or there are none).
func (b buckets) quantileBound(q float64) float64 {
	need := q * float64(b.total())
	for i, c := range b.counts {
		if b.total() > 0 && float64(c) >= need {
			return b.bounds[i]
		}
	}
	return math.Inf(1)
}

// within is the fraction of observations of at most bound seconds, which
// must be one of the bucket bounds.
func (b buckets) within(bound float64) float64 {
	i := slices.Index(b.bounds, bound)
	if i < 0 || b.total() == 0 {
		return math.NaN()
	}
	return float64(b.counts[i]) / float64(b.total())
}
