package body

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/gateway/config"
	"github.com/portcullis/portcullis/gateway/problem"
)

func TestCheckRequestLimits(t *testing.T) {
	t.Parallel()
	l := config.Limits{MaxHeaders: 5, MaxURLBytes: 64, MaxQueryBytes: 32}
	tests := []struct {
		name    string
		target  string
		headers int
		status  int
		reason  string
	}{
		{name: "a small request passes", target: "/a?b=c", headers: 5},
		{name: "too many header fields get 431", target: "/", headers: 6, status: 431, reason: ReasonTooManyHeaders},
		{name: "a long query gets 414", target: "/?q=" + strings.Repeat("x", 40), status: 414, reason: ReasonQueryTooLong},
		{name: "a long path gets 414", target: "/" + strings.Repeat("p", 70), status: 414, reason: ReasonURITooLong},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest(http.MethodGet, tc.target, nil)
			for i := range tc.headers {
				r.Header.Add("X-H", strconv.Itoa(i)) // repeated fields count one by one
			}
			wantProblem(t, CheckRequestLimits(r, l), tc.status, tc.reason)
		})
	}
}

func TestCheckRouteLimits(t *testing.T) {
	t.Parallel()
	global := config.Limits{MaxHeaders: 10, MaxURLBytes: 128, MaxQueryBytes: 64}
	tests := []struct {
		name    string
		route   config.Limits
		target  string
		headers int
		status  int
		reason  string
	}{
		{name: "a route keeping the global limits checks nothing again", route: global, target: "/?q=" + strings.Repeat("x", 100), headers: 20},
		{name: "a route's stricter header count gets 431", route: config.Limits{MaxHeaders: 2, MaxURLBytes: 128, MaxQueryBytes: 64}, target: "/", headers: 3, status: 431, reason: ReasonTooManyHeaders},
		{name: "a route's stricter query length gets 414", route: config.Limits{MaxHeaders: 10, MaxURLBytes: 128, MaxQueryBytes: 8}, target: "/?q=123456789", status: 414, reason: ReasonQueryTooLong},
		{name: "a route's stricter target length gets 414", route: config.Limits{MaxHeaders: 10, MaxURLBytes: 16, MaxQueryBytes: 64}, target: "/" + strings.Repeat("p", 20), status: 414, reason: ReasonURITooLong},
		{name: "a request within the route's limits passes", route: config.Limits{MaxHeaders: 2, MaxURLBytes: 16, MaxQueryBytes: 8}, target: "/a?b=c", headers: 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest(http.MethodGet, tc.target, nil)
			for i := range tc.headers {
				r.Header.Add("X-H", strconv.Itoa(i))
			}
			wantProblem(t, CheckRouteLimits(r, global, tc.route), tc.status, tc.reason)
		})
	}
}

// wantProblem fails unless err is nil for status 0, or a problem with status and reason.
func wantProblem(t *testing.T, err error, status int, reason string) {
	t.Helper()
	if status == 0 {
		if err != nil {
			t.Fatalf("err = %v, want nil", err)
		}
		return
	}
	if p := problem.As(err); p == nil || p.Status != status || string(p.Reason) != reason {
		t.Fatalf("err = %v, want %d %s", err, status, reason)
	}
}
