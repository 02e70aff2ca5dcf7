package main

import (
	"testing"
	"time"
)

func TestCompare(t *testing.T) {
	t.Parallel()
	type want struct {
		ratio float64
		get   float64 // -1: ratio_to_bare_get absent
		// median is round_ratio_median; checked only when not 0.
		median float64
	}
	tests := []struct {
		name   string
		rows   []targetStats
		getKey string
		want   []want
	}{
		{
			name: "each configuration over its own twin, and over the plain-GET twin",
			rows: []targetStats{
				{Key: "bare-a", RPS: 8000}, {Key: "a", Twin: "bare-a", RPS: 6000},
				{Key: "bare-c", RPS: 5000}, {Key: "c", Twin: "bare-c", RPS: 2500},
			},
			getKey: "bare-a",
			want:   []want{{1, 1, 0}, {0.75, 0.75, 0}, {1, 0.625, 0}, {0.5, 0.3125, 0}},
		},
		{
			name: "the median round ratio pairs each round with its twin's and ignores an outlier",
			rows: []targetStats{
				{Key: "bare-c", RPS: 6000, RoundRPS: []float64{8000, 4000, 6000}},
				{Key: "c", Twin: "bare-c", RPS: 5000, RoundRPS: []float64{6000, 4000, 4500}},
			},
			getKey: "bare-a",
			want:   []want{{1, -1, 1}, {5000.0 / 6000, -1, 0.75}},
		},
		{
			name: "an even number of rounds takes the middle two",
			rows: []targetStats{
				{Key: "bare-c", RoundRPS: []float64{100, 100, 100, 100}, RPS: 100},
				{Key: "c", Twin: "bare-c", RoundRPS: []float64{50, 70, 80, 200}, RPS: 100},
			},
			getKey: "bare-a",
			want:   []want{{1, -1, 1}, {1, -1, 0.75}},
		},
		{
			name: "without (a) there is no plain-GET ratio",
			rows: []targetStats{
				{Key: "bare-b", RPS: 4000}, {Key: "b", Twin: "bare-b", RPS: 3000},
			},
			getKey: "bare-a",
			want:   []want{{1, -1, 0}, {0.75, -1, 0}},
		},
		{
			name:   "the bare proxy alone is its own floor",
			rows:   []targetStats{{Key: "bare", RPS: 7000}},
			getKey: "bare-a",
			want:   []want{{1, -1, 0}},
		},
		{
			name: "a twin that served nothing gives no ratio",
			rows: []targetStats{
				{Key: "bare-a", RPS: 0}, {Key: "a", Twin: "bare-a", RPS: 6000},
				{Key: "d", Twin: "bare-d", RPS: 100},
			},
			getKey: "bare-a",
			want:   []want{{1, -1, 0}, {0, -1, 0}, {0, -1, 0}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			compare(tc.rows, tc.getKey)
			for i, r := range tc.rows {
				w := tc.want[i]
				if r.RatioToBare != w.ratio {
					t.Errorf("%s: ratio_to_bare = %v, want %v", r.Key, r.RatioToBare, w.ratio)
				}
				if w.median != 0 && r.RoundRatioMedian != w.median {
					t.Errorf("%s: round_ratio_median = %v, want %v", r.Key, r.RoundRatioMedian, w.median)
				}
				switch {
				case w.get < 0 && r.RatioToBareGet != nil:
					t.Errorf("%s: ratio_to_bare_get = %v, want absent", r.Key, *r.RatioToBareGet)
				case w.get >= 0 && (r.RatioToBareGet == nil || *r.RatioToBareGet != w.get):
					t.Errorf("%s: ratio_to_bare_get = %v, want %v", r.Key, r.RatioToBareGet, w.get)
				}
			}
		})
	}
}

func TestEstimate(t *testing.T) {
	t.Parallel()
	per := 4 * time.Second
	tests := []struct {
		name string
		only string
		half bool
		want time.Duration
	}{
		{"four configurations, each with its twin, and the open loop", "a,b,c,d", true, (3*8 + 3*4) * per},
		{"without the open loop", "a,b,c,d", false, 3 * 8 * per},
		{"no open loop without (c)", "a,b", true, 3 * 4 * per},
		{"the bare proxy alone", "", true, 3 * per},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := &bench{opts: options{rounds: 3, duration: 3 * time.Second, warmup: time.Second, only: tc.only, half: tc.half}}
			if got := b.estimate(); got != tc.want {
				t.Errorf("estimate = %s, want %s", got, tc.want)
			}
		})
	}
}
