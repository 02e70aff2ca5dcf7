package main

import (
	"math"
	"math/bits"
	"time"
)

// subBits sets the histogram's precision: every power of two is split into
// 2^(subBits-1) buckets, so a reported quantile is within 1/128 (0.8 %) of
// the true value.
const subBits = 7

// histogram records latencies in log-linear buckets (HdrHistogram's layout)
// with constant memory, so a long run never grows it. It is not safe for
// concurrent use: each load worker has its own and they are merged after.
type histogram struct {
	counts [64 << (subBits - 1)]uint64
	n      uint64
	sum    time.Duration
	max    time.Duration
}

// bucketOf maps v to its bucket: values below 2^subBits exactly, larger
// values by their top subBits bits.
func bucketOf(v uint64) int {
	if v < 1<<subBits {
		return int(v)
	}
	shift := bits.Len64(v) - subBits
	return shift<<(subBits-1) + int(v>>shift)
}

// bucketMid returns the middle of bucket i's value range.
func bucketMid(i int) time.Duration {
	if i < 1<<subBits {
		return time.Duration(i)
	}
	shift := i>>(subBits-1) - 1
	lower := uint64(i-shift<<(subBits-1)) << shift
	return time.Duration(lower + (uint64(1)<<shift)/2)
}

// record adds one latency; negative values count as zero.
func (h *histogram) record(d time.Duration) {
	d = max(d, 0)
	h.counts[bucketOf(uint64(d))]++
	h.n++
	h.sum += d
	h.max = max(h.max, d)
}

// merge adds o's samples to h.
func (h *histogram) merge(o *histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.sum += o.sum
	h.max = max(h.max, o.max)
}

// quantile returns the latency below which a fraction q of the samples
// fall (0 for an empty histogram). q = 1 returns the exact maximum.
func (h *histogram) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	if q >= 1 {
		return h.max
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	rank = max(rank, 1)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return min(bucketMid(i), h.max)
		}
	}
	return h.max
}

// mean returns the average latency (0 for an empty histogram).
func (h *histogram) mean() time.Duration {
	if h.n == 0 {
		return 0
	}
	return h.sum / time.Duration(h.n)
}
