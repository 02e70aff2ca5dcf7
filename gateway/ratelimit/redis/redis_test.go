package redis

import (
	"bufio"
	"context"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/gateway/config"
	"github.com/portcullis/portcullis/gateway/ratelimit"
)

// server starts a redis-server without persistence on a free loopback
// port and returns a Store on it.
func server(tb testing.TB) *Store {
	tb.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatal("redis-server is not installed (.ci/run installs it)")
		}
		tb.Skip("redis-server is not installed")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	cmd := exec.Command(bin, "--bind", "127.0.0.1", "--port", addr[strings.LastIndex(addr, ":")+1:], "--save", "", "--appendonly", "no", "--dir", tb.TempDir())
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	sc := bufio.NewScanner(out)
	for sc.Scan() && !strings.Contains(sc.Text(), "Ready to accept connections") {
	}
	go func() {
		for sc.Scan() {
		}
	}()
	return store(tb, addr, time.Second)
}

func store(tb testing.TB, addr string, timeout time.Duration) *Store {
	tb.Helper()
	s, err := New(&config.RateLimitRedis{Addresses: []string{addr}, Timeout: timeout})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = s.Close() })
	return s
}

func TestTakeIsTheGCRA(t *testing.T) {
	t.Parallel()
	s := server(t)
	ctx := context.Background()
	spec := ratelimit.Spec{Interval: time.Minute, Burst: 3}
	for i, want := range []ratelimit.Result{
		{Allowed: true, Remaining: 2, Reset: time.Minute},
		{Allowed: true, Remaining: 1, Reset: 2 * time.Minute},
		{Allowed: true, Remaining: 0, Reset: 3 * time.Minute},
	} {
		got, err := s.Take(ctx, "route/limit", ratelimit.Key("acme"), spec)
		if err != nil {
			t.Fatal(err)
		}
		// Redis's clock moves between calls: compare to the second.
		got.Reset = got.Reset.Round(time.Second)
		if got != want {
			t.Fatalf("request %d: %+v, want %+v", i, got, want)
		}
	}
	got, err := s.Take(ctx, "route/limit", ratelimit.Key("acme"), spec)
	if err != nil || got.Allowed || got.RetryAfter.Round(time.Second) != time.Minute {
		t.Fatalf("the fourth request: %+v %v", got, err)
	}
	if got, _ := s.Take(ctx, "route/other", ratelimit.Key("acme"), spec); !got.Allowed {
		t.Fatal("another limit shares the bucket")
	}
	if got, _ := s.Take(ctx, "route/limit", ratelimit.Key("globex"), spec); !got.Allowed {
		t.Fatal("another key shares the bucket")
	}
}

func TestFailBlocksAndBlockedExpires(t *testing.T) {
	t.Parallel()
	s := server(t)
	ctx := context.Background()
	k := ratelimit.Key("192.0.2.1")
	for i := 1; i <= 3; i++ {
		blocked, err := s.Fail(ctx, k, 3, time.Minute, 300*time.Millisecond)
		if err != nil || blocked != (i == 3) {
			t.Fatalf("failure %d: %v %v", i, blocked, err)
		}
	}
	if d, err := s.Blocked(ctx, k); err != nil || d <= 0 || d > 300*time.Millisecond {
		t.Fatalf("Blocked = %s %v", d, err)
	}
	if d, _ := s.Blocked(ctx, ratelimit.Key("192.0.2.2")); d != 0 {
		t.Fatalf("another address is blocked for %s", d)
	}
	time.Sleep(400 * time.Millisecond)
	if d, err := s.Blocked(ctx, k); err != nil || d != 0 {
		t.Fatalf("after block_for: %s %v", d, err)
	}
}

func TestAnUnreachableRedisFailsWithinTheTimeout(t *testing.T) {
	t.Parallel()
	// A listener that accepts and never answers: the worst case.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	s := store(t, l.Addr().String(), 100*time.Millisecond)
	start := time.Now()
	_, err = s.Take(context.Background(), "r/l", ratelimit.Key("k"), ratelimit.Spec{Interval: time.Second, Burst: 1})
	if err == nil || time.Since(start) > 2*time.Second {
		t.Fatalf("Take = %v after %s", err, time.Since(start))
	}
}

// BenchmarkTake is one rate-limit check on a loopback Redis: the round
// trip a request pays with rate_limit.redis.
func BenchmarkTake(b *testing.B) {
	s := server(b)
	ctx := context.Background()
	spec := ratelimit.Spec{Interval: time.Nanosecond, Burst: 1 << 30}
	k := ratelimit.Key("acme")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Take(ctx, "route/limit", k, spec); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBlocked is the credential-stuffing check of every request on
// an authenticated route with rate_limit.redis.
func BenchmarkBlocked(b *testing.B) {
	s := server(b)
	ctx := context.Background()
	k := ratelimit.Key("192.0.2.1")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Blocked(ctx, k); err != nil {
			b.Fatal(err)
		}
	}
}
