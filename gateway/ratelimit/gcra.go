// Package ratelimit enforces rate limits and throttles addresses that fail authentication, with counters in this process or in a shared Store.
package ratelimit

import "time"

// Spec is one limit as the stores count it: one request per Interval on
// average, Burst at once (a bucket of Burst tokens refilled one per
// Interval).
type Spec struct {
	Interval time.Duration
	Burst    int
}

// Result is what taking one request from a bucket gave.
type Result struct {
	Allowed bool
	// Remaining is the requests the bucket allows now, after this one.
	Remaining int
	// RetryAfter is, for a request refused, when the next one is allowed.
	RetryAfter time.Duration
	// Reset is when the bucket is full again.
	Reset time.Duration
}

// gcra is the Generic Cell Rate Algorithm (ITU-T I.371; what Redis-cell
// and Stripe's limiter use): the state of a bucket is one time, tat, the
// theoretical arrival time of the next request had the bucket been
// drained at the rate; a request is allowed when tat is at most one burst
// ahead of now. It returns the new tat and the result for a request at now
// (nanoseconds on any clock the caller keeps monotonic).
//
// A tat more than a burst ahead (only a clock stepped backwards makes one)
// is cut to a burst ahead, so a step back blocks a key for at most one
// burst period instead of until the clock catches up; a step forward
// refills, never beyond Burst.
func gcra(tat, now int64, s Spec) (int64, Result) {
	t, limit := int64(s.Interval), int64(s.Interval)*int64(s.Burst)
	tat = min(max(tat, now), now+limit)
	next := tat + t
	if allowAt := next - limit; now < allowAt {
		return tat, Result{RetryAfter: time.Duration(allowAt - now), Reset: time.Duration(tat - now)}
	}
	return next, Result{Allowed: true, Remaining: int((limit - (next - now)) / t), Reset: time.Duration(next - now)}
}

// ResultOf is the result of a store that kept tat itself: allowed or not,
// and the times until a request is allowed and the bucket is full again.
func ResultOf(allowed bool, retryAfter, reset time.Duration, s Spec) Result {
	if !allowed {
		return Result{RetryAfter: retryAfter, Reset: reset}
	}
	used := (int64(reset) + int64(s.Interval) - 1) / int64(s.Interval)
	return Result{Allowed: true, Remaining: max(0, s.Burst-int(used)), Reset: reset}
}
