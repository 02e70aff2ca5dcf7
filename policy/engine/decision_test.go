package engine

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/portcullis/portcullis/policy"
)

func TestDecisionContract(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		rule   string
		allow  bool
		status int
		reason string // EvalError reason, "" for a clean decision
		check  func(t *testing.T, d *policy.Decision)
	}{
		{name: "true allows", rule: `decision := true`, allow: true},
		{name: "false denies", rule: `decision := false`},
		{name: "object allow carries headers", rule: `decision := {"allow": true, "headers": {"X-User": input.identity.subject}, "response_headers": {"X-Policy": "v1"}}`, allow: true,
			check: func(t *testing.T, d *policy.Decision) {
				if d.Headers["X-User"] != "alice" || d.ResponseHeaders["X-Policy"] != "v1" {
					t.Errorf("headers = %v, response headers = %v", d.Headers, d.ResponseHeaders)
				}
			}},
		{name: "object deny with 403 keeps reasons", rule: `decision := {"allow": false, "status": 403, "reasons": ["nope"]}`, status: 403,
			check: func(t *testing.T, d *policy.Decision) {
				if len(d.Reasons) != 1 || d.Reasons[0] != "nope" {
					t.Errorf("reasons = %v", d.Reasons)
				}
			}},
		{name: "reasons as a set come sorted", rule: `decision := {"allow": false, "reasons": {"b_reason", "a_reason"}}`,
			check: func(t *testing.T, d *policy.Decision) {
				if len(d.Reasons) != 2 || d.Reasons[0] != "a_reason" || d.Reasons[1] != "b_reason" {
					t.Errorf("reasons = %v", d.Reasons)
				}
			}},
		{name: "a reason that is not a string is invalid", rule: `decision := {"allow": false, "reasons": ["a", 1]}`, reason: ReasonInvalidResult},
		{name: "a header name that is not a string is invalid", rule: `decision := {"allow": true, "headers": {1: "a"}}`, reason: ReasonInvalidResult},
		{name: "a fractional status is invalid", rule: `decision := {"allow": false, "status": 403.5}`, reason: ReasonInvalidResult},
		{name: "status 418 is kept", rule: `decision := {"allow": false, "status": 418}`, status: 418},
		{name: "status 500 is invalid", rule: `decision := {"allow": false, "status": 500}`, reason: ReasonInvalidResult},
		{name: "status on allow must still be 4xx", rule: `decision := {"allow": true, "status": 200}`, reason: ReasonInvalidResult},
		{name: "a string result is invalid", rule: `decision := "yes"`, reason: ReasonInvalidResult},
		{name: "an object without allow is invalid", rule: `decision := {"permit": true}`, reason: ReasonInvalidResult},
		{name: "allow that is not a boolean is invalid", rule: `decision := {"allow": "true"}`, reason: ReasonInvalidResult},
		{name: "a header value with CRLF is invalid", rule: `decision := {"allow": true, "headers": {"X-A": "a\r\nX-Admin: 1"}}`, reason: ReasonInvalidResult},
		{name: "a header name with a space is invalid", rule: `decision := {"allow": true, "headers": {"X A": "a"}}`, reason: ReasonInvalidResult},
		{name: "a numeric header value is invalid", rule: `decision := {"allow": true, "headers": {"X-A": 1}}`, reason: ReasonInvalidResult},
		{name: "undefined denies", rule: `decision := true if input.nope`, reason: ReasonUndefined},
		{name: "conflicting rules are a runtime error", rule: "decision := true if input.version == 2\ndecision := false if input.version == 2", reason: ReasonError},
		{name: "a runaway loop is stopped by the timeout", rule: "decision := true if {\n\tsome i in numbers.range(1, 100000)\n\tsome j in numbers.range(1, 100000)\n\ti * j < 0\n}", reason: ReasonTimeout},
		{name: "opa-envoy allowed with headers and removals", rule: `decision := {"allowed": true, "headers": {"x-ext-auth": "ok"}, "request_headers_to_remove": ["x-internal"], "http_status": 302}`, allow: true,
			check: func(t *testing.T, d *policy.Decision) {
				if d.Headers["x-ext-auth"] != "ok" || len(d.RemoveHeaders) != 1 || d.RemoveHeaders[0] != "x-internal" || d.Status != 0 {
					t.Errorf("decision = %+v", d)
				}
			}},
		{name: "opa-envoy deny with status body and response headers", rule: `decision := {"allowed": false, "http_status": 429, "body": "slow down", "response_headers_to_add": {"retry-after": "5"}}`, status: 429,
			check: func(t *testing.T, d *policy.Decision) {
				if d.Body != "slow down" || d.ResponseHeaders["retry-after"] != "5" {
					t.Errorf("decision = %+v", d)
				}
			}},
		{name: "rate_limit class is carried", rule: `decision := {"allow": true, "rate_limit": {"class": "gold"}}`, allow: true,
			check: func(t *testing.T, d *policy.Decision) {
				if d.RateLimitClass != "gold" {
					t.Errorf("RateLimitClass = %q", d.RateLimitClass)
				}
			}},
		{name: "rate_limit without class keeps the route's limits", rule: `decision := {"allow": true, "rate_limit": {}}`, allow: true},
		{name: "rate_limit class that is not a string is invalid", rule: `decision := {"allow": true, "rate_limit": {"class": 1}}`, reason: ReasonInvalidResult},
		{name: "rate_limit that is not an object is invalid", rule: `decision := {"allow": true, "rate_limit": "gold"}`, reason: ReasonInvalidResult},
		{name: "opa-envoy deny with a redirect status is invalid", rule: `decision := {"allowed": false, "http_status": 302}`, reason: ReasonInvalidResult},
		{name: "opa-envoy removal of an invalid header name is invalid", rule: `decision := {"allowed": true, "request_headers_to_remove": ["a\nb"]}`, reason: ReasonInvalidResult},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			opts := Options{Sources: sources(authzBundle(t, "r1", tc.rule))}
			if tc.reason == ReasonTimeout {
				opts.Timeout = 20 * time.Millisecond
			}
			e := newEngine(t, opts)
			d := e.Evaluate(context.Background(), typicalInput())
			if d.Allow != tc.allow {
				t.Errorf("Allow = %v, want %v (err %v)", d.Allow, tc.allow, d.Err)
			}
			if d.Status != tc.status {
				t.Errorf("Status = %d, want %d", d.Status, tc.status)
			}
			if len(d.Bundles) != 1 {
				t.Errorf("decision lacks bundles: %v", d.Bundles)
			}
			var ee *EvalError
			switch {
			case tc.reason == "" && d.Err != nil:
				t.Errorf("Err = %v, want nil", d.Err)
			case tc.reason != "" && (!errors.As(d.Err, &ee) || ee.Reason != tc.reason):
				t.Errorf("Err = %v, want reason %s", d.Err, tc.reason)
			case tc.reason != "" && (d.Allow || len(d.Reasons) != 1 || d.Reasons[0] != tc.reason || d.Headers != nil):
				t.Errorf("a failed evaluation must be a bare deny, got %+v", d)
			}
			if tc.check != nil {
				tc.check(t, d)
			}
		})
	}
}

func TestDecisionCarriesProvenance(t *testing.T) {
	t.Parallel()
	e := newEngine(t, Options{Sources: sources(exampleBundle)})
	d1 := e.Evaluate(context.Background(), typicalInput())
	if !d1.Allow || d1.Err != nil {
		t.Fatalf("example policy denied a user-group GET: %+v", d1)
	}
	if d1.Bundles["portcullis"].Revision != "example-2026-04" {
		t.Errorf("Bundles = %v", d1.Bundles)
	}
	if d1.Result == nil || d1.Eval <= 0 {
		t.Errorf("Result %v, Eval %v must be set", d1.Result, d1.Eval)
	}
}

func TestCanceledRequestIsAnErrorNotATimeout(t *testing.T) {
	t.Parallel()
	e := newEngine(t, Options{Sources: sources(authzBundle(t, "r1", "decision := true if {\n\tsome i in numbers.range(1, 100000)\n\tsome j in numbers.range(1, 100000)\n\ti * j < 0\n}")), Timeout: 10 * time.Second})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	d := e.Evaluate(ctx, typicalInput())
	var ee *EvalError
	if d.Allow || !errors.As(d.Err, &ee) || ee.Reason != ReasonError {
		t.Errorf("decision = %+v, want a policy_error deny", d)
	}
}
