package ratelimit

import (
	"testing"
	"time"
)

func TestHeaderFormats(t *testing.T) {
	t.Parallel()
	five := Spec{Interval: 200 * time.Millisecond, Burst: 5}
	for _, tc := range []struct {
		name, got, want string
	}{
		{"a policy is its burst over the seconds that refill it", policyItem("per-consumer", five), `"per-consumer";q=5;w=1`},
		{"a window under a second is one second", policyItem("fast", Spec{Interval: time.Millisecond, Burst: 10}), `"fast";q=10;w=1`},
		{"a long window rounds up", policyItem("hourly", Spec{Interval: 36 * time.Second, Burst: 100}), `"hourly";q=100;w=3600`},
		{"an allowed request states what remains and the reset", stateItem("per-consumer", Result{Allowed: true, Remaining: 3, Reset: 400 * time.Millisecond}), `"per-consumer";r=3;t=1`},
		{"a refused request states the wait", stateItem("per-consumer", Result{RetryAfter: 200 * time.Millisecond, Reset: time.Second}), `"per-consumer";r=0;t=1`},
		{"a refused request of a slow limit waits its interval", stateItem("hourly", Result{RetryAfter: 36 * time.Second, Reset: time.Hour}), `"hourly";r=0;t=36`},
		{"a name is a quoted string", policyItem(`a"b`, five), `"a\"b";q=5;w=1`},
		{"Retry-After rounds up", retryAfter(1500 * time.Millisecond), "2"},
		{"Retry-After is at least 1", retryAfter(time.Millisecond), "1"},
		{"several limits are a list", joinItems([]string{`"a";q=1;w=1`, `"b";q=2;w=1`}), `"a";q=1;w=1, "b";q=2;w=1`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if tc.got != tc.want {
				t.Fatalf("got %s, want %s", tc.got, tc.want)
			}
		})
	}
}
