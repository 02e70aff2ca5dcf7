package ratelimit

import (
	"context"
	"testing"
	"time"
)

// clock is a settable clock for Local.
type clock struct{ t int64 }

func (c *clock) now() int64           { return c.t }
func (c *clock) step(d time.Duration) { c.t += int64(d) }
func takeN(t *testing.T, l *Local, n int, s Spec) (allowed int, last Result) {
	t.Helper()
	for range n {
		r, err := l.Take(context.Background(), "ns", Key("k"), s)
		if err != nil {
			t.Fatal(err)
		}
		if r.Allowed {
			allowed++
		}
		last = r
	}
	return allowed, last
}

func TestGCRA(t *testing.T) {
	t.Parallel()
	five := Spec{Interval: 200 * time.Millisecond, Burst: 5} // 5 per second, burst 5
	for _, tc := range []struct {
		name        string
		run         func(c *clock, l *Local) (int, Result)
		wantAllowed int
		want        Result
	}{
		{"a full bucket admits the burst at once", func(c *clock, l *Local) (int, Result) { return takeN(t, l, 5, five) },
			5, Result{Allowed: true, Remaining: 0, Reset: time.Second}},
		{"past the burst a request waits one interval", func(c *clock, l *Local) (int, Result) { return takeN(t, l, 6, five) },
			5, Result{RetryAfter: 200 * time.Millisecond, Reset: time.Second}},
		{"one interval refills one request", func(c *clock, l *Local) (int, Result) {
			takeN(t, l, 5, five)
			c.step(200 * time.Millisecond)
			return takeN(t, l, 2, five)
		}, 1, Result{RetryAfter: 200 * time.Millisecond, Reset: time.Second}},
		{"half an interval refills nothing", func(c *clock, l *Local) (int, Result) {
			takeN(t, l, 5, five)
			c.step(100 * time.Millisecond)
			return takeN(t, l, 1, five)
		}, 0, Result{RetryAfter: 100 * time.Millisecond, Reset: 900 * time.Millisecond}},
		{"a long idle refills no more than the burst", func(c *clock, l *Local) (int, Result) {
			takeN(t, l, 5, five)
			c.step(time.Hour)
			return takeN(t, l, 7, five)
		}, 5, Result{RetryAfter: 200 * time.Millisecond, Reset: time.Second}},
		{"a request after a partial use sees what remains", func(c *clock, l *Local) (int, Result) { return takeN(t, l, 2, five) },
			2, Result{Allowed: true, Remaining: 3, Reset: 400 * time.Millisecond}},
		{"a clock stepped forward refills at most the burst", func(c *clock, l *Local) (int, Result) {
			takeN(t, l, 5, five)
			c.step(24 * time.Hour)
			return takeN(t, l, 6, five)
		}, 5, Result{RetryAfter: 200 * time.Millisecond, Reset: time.Second}},
		{"a clock stepped backwards blocks for at most one burst period", func(c *clock, l *Local) (int, Result) {
			c.step(time.Hour)
			takeN(t, l, 5, five)
			c.step(-time.Hour) // tat is now an hour and a second ahead
			if n, _ := takeN(t, l, 1, five); n != 0 {
				t.Fatalf("admitted %d right after the step back", n)
			}
			c.step(time.Second + 200*time.Millisecond)
			return takeN(t, l, 1, five)
		}, 1, Result{Allowed: true, Remaining: 4, Reset: 200 * time.Millisecond}},
		{"a step back does not admit more than the burst", func(c *clock, l *Local) (int, Result) {
			c.step(time.Hour)
			takeN(t, l, 3, five)
			c.step(-30 * time.Minute)
			return takeN(t, l, 10, five)
		}, 0, Result{RetryAfter: 200 * time.Millisecond, Reset: time.Second}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := &clock{}
			l := NewLocal(100, c.now)
			n, r := tc.run(c, l)
			if n != tc.wantAllowed || r != tc.want {
				t.Fatalf("allowed %d, last %+v; want %d, %+v", n, r, tc.wantAllowed, tc.want)
			}
		})
	}
}

func TestResultOfAgreesWithGCRA(t *testing.T) {
	t.Parallel()
	s := Spec{Interval: 333 * time.Millisecond, Burst: 7}
	tat, now := int64(0), int64(0)
	for i := range 40 {
		var r Result
		tat, r = gcra(tat, now, s)
		if got := ResultOf(r.Allowed, r.RetryAfter, r.Reset, s); got != r {
			t.Fatalf("request %d: ResultOf = %+v, gcra = %+v", i, got, r)
		}
		now += int64(100 * time.Millisecond)
	}
}

func TestLocalStaysBoundedUnderAFloodOfKeys(t *testing.T) {
	t.Parallel()
	l := NewLocal(1000, nil)
	s := Spec{Interval: time.Second, Burst: 1}
	for i := range 50_000 {
		if _, err := l.Take(context.Background(), "ns", Key(string(rune(i))+"x", "y"), s); err != nil {
			t.Fatal(err)
		}
		_, _ = l.Fail(context.Background(), Key(string(rune(i))), 3, time.Minute, time.Minute)
	}
	// Each shard holds max_keys/16 rounded up.
	if n := l.buckets["ns"].len(); n > 1008 || n < 900 {
		t.Fatalf("the limit holds %d keys, want about 1000", n)
	}
	if n := l.failures.len(); n > 1008 {
		t.Fatalf("the failures hold %d keys", n)
	}
}

func TestLocalBlocksAfterMaxFailuresAndExpires(t *testing.T) {
	t.Parallel()
	c := &clock{}
	l := NewLocal(100, c.now)
	ctx := context.Background()
	k := Key("192.0.2.1")
	for i := 1; i <= 3; i++ {
		blocked, _ := l.Fail(ctx, k, 3, time.Minute, 5*time.Minute)
		if blocked != (i == 3) {
			t.Fatalf("failure %d: blocked %v", i, blocked)
		}
	}
	if d, _ := l.Blocked(ctx, k); d != 5*time.Minute {
		t.Fatalf("blocked for %s", d)
	}
	if d, _ := l.Blocked(ctx, Key("192.0.2.2")); d != 0 {
		t.Fatalf("another address is blocked for %s", d)
	}
	c.step(5 * time.Minute)
	if d, _ := l.Blocked(ctx, k); d != 0 {
		t.Fatalf("still blocked for %s after block_for", d)
	}
	// Failures further apart than the window never add up.
	for range 5 {
		if blocked, _ := l.Fail(ctx, k, 3, time.Minute, time.Minute); blocked {
			t.Fatal("failures in different windows blocked")
		}
		c.step(31 * time.Second)
		if blocked, _ := l.Fail(ctx, k, 3, time.Minute, time.Minute); blocked {
			t.Fatal("failures in different windows blocked")
		}
		c.step(31 * time.Second)
	}
}

func TestLocalIsQuietOnlyWhileNoBlockLasts(t *testing.T) {
	t.Parallel()
	c := &clock{}
	l := NewLocal(100, c.now)
	ctx := context.Background()
	if !l.noneBlocked() {
		t.Fatal("a new store blocks someone")
	}
	if _, _ = l.Fail(ctx, Key("192.0.2.1"), 2, time.Minute, 5*time.Minute); !l.noneBlocked() {
		t.Fatal("a failure below max_failures blocks")
	}
	l.Fail(ctx, Key("192.0.2.1"), 2, time.Minute, 5*time.Minute) // blocked until 5m
	c.step(time.Minute)
	for range 2 {
		l.Fail(ctx, Key("192.0.2.2"), 2, time.Minute, time.Minute) // blocked until 2m
	}
	for _, at := range []time.Duration{time.Minute, 3 * time.Minute, 4*time.Minute + 59*time.Second} {
		c.t = int64(at)
		if l.noneBlocked() {
			t.Fatalf("quiet at %s while 192.0.2.1 is blocked until 5m", at)
		}
	}
	c.t = int64(5 * time.Minute)
	if !l.noneBlocked() {
		t.Fatal("not quiet once every block has ended")
	}
}
