package ratelimit

import (
	"strconv"
	"strings"
	"time"
)

// The fields of draft-ietf-httpapi-ratelimit-headers (structured-field
// lists, one item per limit): RateLimit-Policy states each limit's quota q
// over a window of w seconds, RateLimit what is left of it (r) and in how
// many seconds it is restored (t).
const (
	headerPolicy = "RateLimit-Policy"
	headerState  = "RateLimit"
)

// policyItem is the RateLimit-Policy item of a limit: the quota is the
// burst, the window the time the rate takes to refill it (at least 1s;
// the field counts whole seconds).
func policyItem(name string, s Spec) string {
	w := seconds(time.Duration(s.Burst) * s.Interval)
	return strconv.Quote(name) + ";q=" + strconv.Itoa(s.Burst) + ";w=" + strconv.FormatInt(w, 10)
}

// stateItem is the RateLimit item of a limit after a request: the
// requests left and, when none is, the seconds until one is (else until
// the quota is whole again).
func stateItem(name string, r Result) string {
	t := r.Reset
	if r.Remaining == 0 && !r.Allowed {
		t = r.RetryAfter
	}
	return strconv.Quote(name) + ";r=" + strconv.Itoa(r.Remaining) + ";t=" + strconv.FormatInt(seconds(t), 10)
}

// retryAfter is the Retry-After value (RFC 9110 §10.2.3): whole seconds,
// rounded up so a client that waits that long is allowed.
func retryAfter(d time.Duration) string { return strconv.FormatInt(max(1, seconds(d)), 10) }

// seconds rounds d up to whole seconds.
func seconds(d time.Duration) int64 { return int64((d + time.Second - 1) / time.Second) }

func joinItems(items []string) string { return strings.Join(items, ", ") }
