package config

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestRateLimit(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	parse := func(global, route string) (*Config, error) {
		return Parse(filepath.Join(dir, "portcullis.yaml"), []byte(minimal+route+global))
	}
	t.Run("defaults: auth failures on, 100 keys per limit, per 1s, burst = rate, Redis local on error", func(t *testing.T) {
		t.Parallel()
		c, err := parse("rate_limit:\n  redis: {addresses: [\"127.0.0.1:6379\"]}\n  classes:\n    gold: [{name: g, key: [consumer], rate: 7}]\n",
			"    rate_limits: [{name: l, key: [consumer], rate: 5}]\n")
		if err != nil {
			t.Fatal(err)
		}
		rl := c.RateLimit
		if rl.MaxKeys != 100000 || !*rl.AuthFailures.Enabled || rl.AuthFailures.MaxFailures != 100 ||
			rl.AuthFailures.Window != time.Minute || rl.AuthFailures.BlockFor != 5*time.Minute {
			t.Errorf("rate_limit = %+v", rl)
		}
		if r := rl.Redis; r.Timeout != 50*time.Millisecond || r.OnError != "local" {
			t.Errorf("redis = %+v", r)
		}
		if l := c.Routes[0].RateLimits[0]; l.Per != time.Second || l.Burst != 5 {
			t.Errorf("route limit = %+v", l)
		}
		if g := rl.Classes["gold"][0]; g.Per != time.Second || g.Burst != 7 {
			t.Errorf("class limit = %+v", g)
		}
	})
	for _, tc := range []struct{ name, global, route, want string }{
		{"an unknown key part is refused", "", "    rate_limits: [{name: l, key: [password], rate: 5}]\n",
			`routes[0].rate_limits[0].key[0]: "password" is not allowed`},
		{"a limit without a key is refused", "", "    rate_limits: [{name: l, rate: 5}]\n",
			"routes[0].rate_limits[0].key: at least one part is required"},
		{"a limit name used twice is refused", "", "    rate_limits: [{name: l, key: [route], rate: 5}, {name: l, key: [route], rate: 5}]\n",
			`routes[0].rate_limits[1].name: "l" is used twice`},
		{"a zero rate is refused", "", "    rate_limits: [{name: l, key: [route], rate: 0}]\n",
			"routes[0].rate_limits[0].rate: 0 is out of range"},
		{"a header part needs a header name", "", "    rate_limits: [{name: l, key: [\"header:a b\"], rate: 1}]\n",
			`routes[0].rate_limits[0].key[0]: "header:a b" is not allowed`},
		{"a class needs limits", "rate_limit:\n  classes: {gold: []}\n", "", "rate_limit.classes.gold: at least one limit is required"},
		{"redis needs an address", "rate_limit:\n  redis: {addresses: []}\n", "", "rate_limit.redis.addresses: at least one address is required"},
		{"on_error is local or deny", "rate_limit:\n  redis: {addresses: [\"r:6379\"], on_error: allow}\n", "",
			`rate_limit.redis.on_error: "allow" is not allowed (want "local", "deny")`},
		{"a window under a second is refused", "rate_limit:\n  auth_failures: {window: 10ms}\n", "", "rate_limit.auth_failures.window: 10ms is out of range"},
		{"max_keys 0 is refused", "rate_limit:\n  max_keys: 0\n", "", "rate_limit.max_keys: 0 is out of range"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := parse(tc.global, tc.route)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
	t.Run("auth_failures off needs no numbers", func(t *testing.T) {
		t.Parallel()
		if _, err := parse("rate_limit:\n  auth_failures: {enabled: false, window: 0s}\n", ""); err != nil {
			t.Fatal(err)
		}
	})
}
