package pipeline

import (
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/portcullis/portcullis/gateway/problem"
)

func TestSettleComputesTheOutcomeOnce(t *testing.T) {
	t.Parallel()
	rejection := problem.New(http.StatusBadRequest, "validation_failed", "the request does not match the API description")
	deny := problem.New(http.StatusForbidden, "policy_deny", "denied by policy")
	timeout := problem.Wrap(http.StatusGatewayTimeout, "upstream_timeout", "the upstream did not answer in time", errors.New("deadline"))
	for _, tc := range []struct {
		name       string
		end        End
		wantStatus int
		wantReason problem.Reason
		wantSend   bool
	}{
		{"an allowed request answered by the upstream is allow with its status", End{Written: 201}, 201, problem.ReasonAllow, false},
		{"nothing written is allow with 200", End{}, 200, problem.ReasonAllow, false},
		{"a validation rejection after allow is the rejection", End{Err: rejection}, 400, "validation_failed", true},
		{"a deny is the deny", End{Err: deny}, 403, "policy_deny", true},
		{"a wrapped problem is the problem", End{Err: fmt.Errorf("stage: %w", deny)}, 403, "policy_deny", true},
		{"an upstream timeout after allow is the timeout", End{Err: timeout}, 504, "upstream_timeout", true},
		{"a client gone is 499 and nothing is sent", End{Err: timeout, Gone: true}, problem.StatusClientClosed, problem.ReasonClientClosed, false},
		{"a canceled context without an error is still the answer that was sent", End{Written: 200, Gone: true}, 200, problem.ReasonAllow, false},
		{"a response a stage answered itself is its reason, nothing more sent", End{Err: &Answered{Reason: "cors_preflight"}, Written: 204}, 204, "cors_preflight", false},
		{"an error that is not a problem is a 500", End{Err: errors.New("wiring")}, 500, problem.ReasonInternal, true},
		{"a panic before anything was written is a 500 sent", End{Panic: "boom"}, 500, problem.ReasonInternal, true},
		{"a panic after the head was sent is a 500 recorded", End{Panic: "boom", Written: 200}, 500, problem.ReasonInternal, false},
		{"a panic of a gone client is 499", End{Panic: "boom", Gone: true}, problem.StatusClientClosed, problem.ReasonClientClosed, false},
		{"an aborted response keeps the status sent", End{Panic: http.ErrAbortHandler, Written: 200}, 200, problem.ReasonResponseAborted, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o := Settle(tc.end)
			if o.Status != tc.wantStatus || o.Reason != tc.wantReason || (o.Problem != nil) != tc.wantSend {
				t.Fatalf("Settle = %d %s (send %v), want %d %s (send %v)", o.Status, o.Reason, o.Problem != nil, tc.wantStatus, tc.wantReason, tc.wantSend)
			}
			if o.Problem != nil && (o.Problem.Status != o.Status || o.Problem.Reason != o.Reason) {
				t.Fatalf("problem %v disagrees with the outcome %d %s", o.Problem, o.Status, o.Reason)
			}
			if o.Allowed() != (tc.wantReason == problem.ReasonAllow) {
				t.Fatalf("Allowed = %v", o.Allowed())
			}
		})
	}
}
