// Package redis keeps rate-limit counters in Redis, shared by every replica, with atomic Lua scripts.
package redis

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/portcullis/portcullis/gateway/config"
	"github.com/portcullis/portcullis/gateway/ratelimit"
)

// Store is a ratelimit.Store in Redis: standalone, Sentinel or Cluster
// (go-redis's UniversalClient). Each operation is one script run (EVALSHA,
// EVAL when the server does not have it yet) or one command, bounded by
// the configured timeout, without retries: a slow Redis must not hold a
// request longer than that.
type Store struct {
	c       goredis.UniversalClient
	timeout time.Duration
}

var _ ratelimit.Store = (*Store)(nil)

// New connects lazily to the Redis of c: nothing is dialled before the
// first request.
func New(c *config.RateLimitRedis) (*Store, error) {
	var password string
	if c.PasswordFile != "" {
		b, err := os.ReadFile(c.PasswordFile)
		if err != nil {
			return nil, fmt.Errorf("password_file: %w", err)
		}
		password = strings.TrimRight(string(b), "\r\n")
	}
	cl := goredis.NewUniversalClient(&goredis.UniversalOptions{
		Addrs:      c.Addresses,
		MasterName: c.MasterName,
		Username:   c.Username,
		Password:   password,
		DB:         c.DB,
		// Every wait is bounded by the timeout; the context of each
		// operation bounds the sum.
		DialTimeout:           c.Timeout,
		ReadTimeout:           c.Timeout,
		WriteTimeout:          c.Timeout,
		PoolTimeout:           c.Timeout,
		ContextTimeoutEnabled: true,
		MaxRetries:            -1,
		DisableIdentity:       true, // no CLIENT SETINFO: older servers and proxies refuse it
	})
	return &Store{c: cl, timeout: c.Timeout}, nil
}

// Close closes the connections.
func (s *Store) Close() error { return s.c.Close() }

// take is the GCRA of ratelimit.Spec on Redis's own clock (TIME), so that
// replicas with skewed clocks count alike; times are microseconds, exact
// in a Lua number (a double) for centuries. The key expires when the
// bucket is full again.
var take = goredis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local limit = interval * tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then tat = now end
if tat > now + limit then tat = now + limit end
local nxt = tat + interval
local allow_at = nxt - limit
if now < allow_at then
  return {0, allow_at - now, tat - now}
end
redis.call('SET', KEYS[1], string.format('%.0f', nxt), 'PX', math.ceil((nxt - now) / 1000))
return {1, 0, nxt - now}
`)

// fail counts a failure in a window that starts with the first; the one
// that reaches the maximum sets the block key. Both keys share a hash tag,
// so they sit in one Cluster slot.
var fail = goredis.NewScript(`
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
if n >= tonumber(ARGV[2]) then
  redis.call('DEL', KEYS[1])
  redis.call('SET', KEYS[2], '1', 'PX', ARGV[3])
  return 1
end
return 0
`)

// Take implements ratelimit.Store.
func (s *Store) Take(ctx context.Context, ns string, key ratelimit.Digest, spec ratelimit.Spec) (ratelimit.Result, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	interval := max(1, spec.Interval.Microseconds())
	v, err := take.Run(ctx, s.c, []string{"portcullis:rl:" + ns + ":" + hex.EncodeToString(key[:])}, interval, spec.Burst).Int64Slice()
	if err != nil {
		return ratelimit.Result{}, fmt.Errorf("redis rate limit: %w", err)
	}
	if len(v) != 3 {
		return ratelimit.Result{}, errors.New("redis rate limit: unexpected reply")
	}
	return ratelimit.ResultOf(v[0] == 1, time.Duration(v[1])*time.Microsecond, time.Duration(v[2])*time.Microsecond,
		ratelimit.Spec{Interval: time.Duration(interval) * time.Microsecond, Burst: spec.Burst}), nil
}

func failureKeys(key ratelimit.Digest) []string {
	tag := "portcullis:af:{" + hex.EncodeToString(key[:]) + "}"
	return []string{tag + ":n", tag + ":b"}
}

// Fail implements ratelimit.Store.
func (s *Store) Fail(ctx context.Context, key ratelimit.Digest, maxFailures int, window, blockFor time.Duration) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	n, err := fail.Run(ctx, s.c, failureKeys(key), window.Milliseconds(), maxFailures, blockFor.Milliseconds()).Int()
	if err != nil {
		return false, fmt.Errorf("redis auth failures: %w", err)
	}
	return n == 1, nil
}

// Blocked implements ratelimit.Store.
func (s *Store) Blocked(ctx context.Context, key ratelimit.Digest) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	d, err := s.c.PTTL(ctx, failureKeys(key)[1]).Result()
	if err != nil {
		return 0, fmt.Errorf("redis auth failures: %w", err)
	}
	return max(0, d), nil
}
