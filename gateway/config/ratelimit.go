package config

import (
	"fmt"
	"net"
	"regexp"
	"slices"
	"strings"
	"time"
)

// RateLimit is the global rate_limit section: the bound on the keys kept
// in memory, the classes a policy decision may choose, the Redis that
// shares counters between replicas, and the credential-stuffing defence
// (README, "Rate limits").
type RateLimit struct {
	// MaxKeys bounds the keys each limit keeps in memory (least recently
	// used evicted first). Default 100000.
	MaxKeys int `yaml:"max_keys"`
	// Classes are named lists of limits that a decision selects with
	// "rate_limit": {"class": NAME}; they replace the route's own limits.
	Classes map[string][]Limit `yaml:"classes"`
	// Redis, when set, keeps the counters in Redis, shared by every
	// replica; nil: in this process only.
	Redis *RateLimitRedis `yaml:"redis"`
	// AuthFailures throttles client addresses that fail authentication.
	AuthFailures AuthFailures `yaml:"auth_failures"`
}

// Limit is one rate limit: Rate requests per Per, bursts of up to Burst,
// counted per distinct Key.
type Limit struct {
	// Name is unique within its route or class; it labels metrics and
	// names the policy in the RateLimit-Policy header.
	Name string `yaml:"name"`
	// Key lists the parts whose values, joined, tell callers apart:
	// consumer, subject, client_ip, route, credential, header:<Name>,
	// claim:<name>.
	Key []string `yaml:"key"`
	// Rate is the requests allowed per Per, on average.
	Rate int `yaml:"rate"`
	// Per is the period of Rate. Default 1s.
	Per time.Duration `yaml:"per"`
	// Burst is the requests allowed at once. Default (0): Rate.
	Burst int `yaml:"burst"`
}

// RateLimitRedis is rate_limit.redis.
type RateLimitRedis struct {
	// Addresses are host:port: one is a standalone server, several a
	// cluster, and with MasterName Sentinel addresses.
	Addresses  []string `yaml:"addresses"`
	MasterName string   `yaml:"master_name"`
	Username   string   `yaml:"username"`
	// PasswordFile holds the password (without a trailing newline); "": none.
	PasswordFile string `yaml:"password_file"`
	DB           int    `yaml:"db"`
	// Timeout bounds each Redis command. Default 50ms.
	Timeout time.Duration `yaml:"timeout"`
	// OnError is what a request gets when Redis cannot answer: "local"
	// (default) counts it in this process alone, logged once per outage
	// and counted; "deny" answers 503 rate_limit_unavailable.
	OnError string `yaml:"on_error"`
}

// AuthFailures is rate_limit.auth_failures: a client address that fails
// authentication MaxFailures times within Window gets 429 auth_throttled,
// its credentials unchecked, for BlockFor.
type AuthFailures struct {
	// Enabled turns the defence on. Default true.
	Enabled *bool `yaml:"enabled"`
	// MaxFailures default 100, Window default 1m, BlockFor default 5m.
	MaxFailures int           `yaml:"max_failures"`
	Window      time.Duration `yaml:"window"`
	BlockFor    time.Duration `yaml:"block_for"`
}

var limitNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// keyParts are the fixed key parts; header: and claim: take a name.
var keyParts = []string{"consumer", "subject", "client_ip", "route", "credential"}

func (c *Config) validateRateLimit(ch *checker) {
	rl := &c.RateLimit
	if rl.MaxKeys < 1 || rl.MaxKeys > 10_000_000 {
		ch.add("rate_limit.max_keys", "%d is out of range (want 1..10000000)", rl.MaxKeys)
	}
	for name, ls := range rl.Classes {
		p := "rate_limit.classes." + name
		if !limitNameRE.MatchString(name) {
			ch.add(p, "class name %q is not allowed (want letters, digits, ._- and at most 64)", name)
		}
		if len(ls) == 0 {
			ch.add(p, "at least one limit is required")
		}
		validateLimits(ch, p, ls)
	}
	if r := rl.Redis; r != nil {
		p := "rate_limit.redis"
		if len(r.Addresses) == 0 {
			ch.add(p+".addresses", "at least one address is required")
		}
		for i, a := range r.Addresses {
			if _, _, err := net.SplitHostPort(a); err != nil {
				ch.add(fmt.Sprintf("%s.addresses[%d]", p, i), "%q is not host:port: %v", a, err)
			}
		}
		if r.PasswordFile != "" {
			ch.fileExists(p+".password_file", r.PasswordFile)
		}
		if r.DB < 0 || r.DB > 15 {
			ch.add(p+".db", "%d is out of range (want 0..15)", r.DB)
		}
		if r.DB != 0 && len(r.Addresses) > 1 && r.MasterName == "" {
			ch.add(p+".db", "a Redis cluster has only db 0")
		}
		if r.Timeout <= 0 || r.Timeout > 5*time.Second {
			ch.add(p+".timeout", "%s is out of range (want >0..5s)", r.Timeout)
		}
		ch.oneOf(p+".on_error", r.OnError, "local", "deny")
	}
	a := &rl.AuthFailures
	if *a.Enabled {
		p := "rate_limit.auth_failures"
		if a.MaxFailures < 1 || a.MaxFailures > 1_000_000 {
			ch.add(p+".max_failures", "%d is out of range (want 1..1000000)", a.MaxFailures)
		}
		if a.Window < time.Second || a.Window > 24*time.Hour {
			ch.add(p+".window", "%s is out of range (want 1s..24h)", a.Window)
		}
		if a.BlockFor < time.Second || a.BlockFor > 24*time.Hour {
			ch.add(p+".block_for", "%s is out of range (want 1s..24h)", a.BlockFor)
		}
	}
}

// validateLimits checks the limits of a route or class at p.
func validateLimits(ch *checker, p string, ls []Limit) {
	names := map[string]bool{}
	for i, l := range ls {
		f := fmt.Sprintf("%s[%d]", p, i)
		switch {
		case !limitNameRE.MatchString(l.Name):
			ch.add(f+".name", "%q is not allowed (want letters, digits, ._- and at most 64)", l.Name)
		case names[l.Name]:
			ch.add(f+".name", "%q is used twice", l.Name)
		}
		names[l.Name] = true
		if len(l.Key) == 0 {
			ch.add(f+".key", "at least one part is required (%s, header:<Name>, claim:<name>)", quoteList(keyParts))
		}
		for k, part := range l.Key {
			if !validKeyPart(part) {
				ch.add(fmt.Sprintf("%s.key[%d]", f, k), "%q is not allowed (want %s, header:<Name> or claim:<name>)", part, quoteList(keyParts))
			}
		}
		if l.Rate < 1 || l.Rate > 1_000_000_000 {
			ch.add(f+".rate", "%d is out of range (want 1..1000000000)", l.Rate)
		}
		if l.Per < time.Millisecond || l.Per > 24*time.Hour {
			ch.add(f+".per", "%s is out of range (want 1ms..24h)", l.Per)
		}
		if l.Burst < 1 || l.Burst > 1_000_000_000 {
			ch.add(f+".burst", "%d is out of range (want 1..1000000000)", l.Burst)
		}
	}
}

func validKeyPart(part string) bool {
	if slices.Contains(keyParts, part) {
		return true
	}
	if h, ok := strings.CutPrefix(part, "header:"); ok {
		return validHeaderName(h)
	}
	c, ok := strings.CutPrefix(part, "claim:")
	return ok && c != ""
}
