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
// They are spelled canonically so that setting them needs no conversion.
const (
	headerPolicy = "Ratelimit-Policy"
	headerState  = "Ratelimit"
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
	return string(appendState(nil, name, r))
}

// appendState appends the RateLimit item of a limit to b.
func appendState(b []byte, name string, r Result) []byte {
	t := r.Reset
	if !r.Allowed {
		t = r.RetryAfter
	}
	b = strconv.AppendQuote(b, name)
	b = strconv.AppendInt(append(b, ";r="...), int64(r.Remaining), 10)
	return strconv.AppendInt(append(b, ";t="...), seconds(t), 10)
}

// retryAfter is the Retry-After value (RFC 9110 §10.2.3): whole seconds,
// rounded up so a client that waits that long is allowed.
func retryAfter(d time.Duration) string { return strconv.FormatInt(max(1, seconds(d)), 10) }

// seconds rounds d up to whole seconds.
func seconds(d time.Duration) int64 { return int64((d + time.Second - 1) / time.Second) }

func joinItems(items []string) string { return strings.Join(items, ", ") }

// policyValue is the RateLimit-Policy field of a set of limits, the same
// for every request: one slice, never modified (a Header.Add copies it,
// its capacity being its length).
func policyValue(ls []*limit) []string {
	items := make([]string, len(ls))
	for i, l := range ls {
		items[i] = l.policy
	}
	return []string{joinItems(items)}
}
