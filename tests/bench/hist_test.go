package main

import (
	"math/rand/v2"
	"testing"
	"time"
)

func TestBucketsAreOrderedAndPrecise(t *testing.T) {
	t.Parallel()
	prev := -1
	for _, v := range []uint64{0, 1, 127, 128, 129, 255, 256, 1000, 1 << 20, 1<<40 + 12345, 1<<63 - 1} {
		b := bucketOf(v)
		if b < prev {
			t.Fatalf("bucketOf(%d) = %d, below the previous %d", v, b, prev)
		}
		if b >= len(histogram{}.counts) {
			t.Fatalf("bucketOf(%d) = %d is out of range", v, b)
		}
		mid := uint64(bucketMid(b))
		if diff := float64(mid) - float64(v); diff > float64(v)/100+1 || -diff > float64(v)/100+1 {
			t.Errorf("bucketMid(bucketOf(%d)) = %d, more than 1 %% off", v, mid)
		}
		prev = b
	}
}

func TestQuantiles(t *testing.T) {
	t.Parallel()
	uniform := &histogram{}
	for i := 1; i <= 100000; i++ {
		uniform.record(time.Duration(i) * time.Microsecond)
	}
	tail := &histogram{}
	for i := range 1000 {
		d := 100 * time.Microsecond
		if i%100 == 0 { // 1 % of the samples are slow
			d = 50 * time.Millisecond
		}
		tail.record(d)
	}
	merged := &histogram{}
	shuffled := rand.Perm(1000)
	for _, p := range shuffled {
		h := &histogram{}
		h.record(time.Duration(p+1) * time.Millisecond)
		merged.merge(h)
	}
	tests := []struct {
		name string
		h    *histogram
		q    float64
		want time.Duration
	}{
		{"the median of a uniform range is its middle", uniform, 0.5, 50 * time.Millisecond},
		{"p99 of a uniform range is near its top", uniform, 0.99, 99 * time.Millisecond},
		{"q = 1 is the exact maximum", uniform, 1, 100 * time.Millisecond},
		{"p99 sits below a 1 % slow tail", tail, 0.99, 100 * time.Microsecond},
		{"p99.9 falls into a 1 % slow tail", tail, 0.999, 50 * time.Millisecond},
		{"merged histograms keep every sample", merged, 0.5, 500 * time.Millisecond},
		{"an empty histogram reports zero", &histogram{}, 0.99, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := tc.h.quantile(tc.q)
			if diff := got - tc.want; diff > tc.want/100 || -diff > tc.want/100 {
				t.Errorf("quantile(%v) = %v, want %v ±1 %%", tc.q, got, tc.want)
			}
		})
	}
	if merged.n != 1000 {
		t.Errorf("merged count = %d, want 1000", merged.n)
	}
}

func BenchmarkRecord(b *testing.B) {
	b.ReportAllocs()
	h := &histogram{}
	for i := 0; b.Loop(); i++ {
		h.record(time.Duration(i&0xfffff) * time.Microsecond)
	}
}
