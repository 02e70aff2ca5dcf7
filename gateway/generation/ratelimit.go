package generation

import (
	"fmt"

	"github.com/portcullis/portcullis/gateway/config"
	"github.com/portcullis/portcullis/gateway/ratelimit"
	"github.com/portcullis/portcullis/gateway/ratelimit/redis"
)

// limitStoreSettings decide whether the rate-limit counters are carried
// over: the key bound and the Redis section with its password file's
// content. A reload that changes only the limits keeps every bucket.
type limitStoreSettings struct {
	maxKeys  int
	redis    config.RateLimitRedis
	password string
}

func (b *builder) buildLimits() {
	rl := b.cfg.RateLimit
	key := limitStoreSettings{maxKeys: rl.MaxKeys}
	if r := rl.Redis; r != nil {
		key.redis = *r
		if r.PasswordFile != "" {
			key.password = filesDigest([]string{r.PasswordFile}, false)
		}
	}
	if p := b.prev; p != nil && p.limitStore != nil && equal(p.limitKey, key) {
		b.g.limitStore, b.g.limitRedis, b.g.limitKey = p.limitStore, p.limitRedis, p.limitKey
	} else if err := b.newLimitStore(key); err != nil {
		b.fail(fmt.Errorf("rate_limit: %w", err))
		return
	}
	l, err := ratelimit.New(b.cfg, b.g.limitStore, b.opts.Registerer)
	if err != nil {
		b.fail(fmt.Errorf("rate_limit: %w", err))
		return
	}
	b.limits = l
}

func (b *builder) newLimitStore(key limitStoreSettings) error {
	local := ratelimit.NewLocal(key.maxKeys, nil)
	r := b.cfg.RateLimit.Redis
	if r == nil {
		b.g.limitStore, b.g.limitKey = local, key
		return nil
	}
	shared, err := redis.New(r)
	if err != nil {
		return fmt.Errorf("redis: %w", err)
	}
	f, err := ratelimit.NewFallback(shared, local, r.OnError == "deny", b.opts.Logger, b.opts.Registerer)
	if err != nil {
		_ = shared.Close()
		return err
	}
	b.g.limitStore, b.g.limitRedis, b.g.limitKey = f, shared, key
	return nil
}
