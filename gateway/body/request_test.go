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
			err := CheckRequestLimits(r, l)
			if tc.status == 0 {
				if err != nil {
					t.Fatalf("err = %v, want nil", err)
				}
				return
			}
			p := problem.As(err)
			if p == nil || p.Status != tc.status || string(p.Reason) != tc.reason {
				t.Fatalf("err = %v, want %d %s", err, tc.status, tc.reason)
			}
		})
	}
}
