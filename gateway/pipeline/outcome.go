package pipeline

import (
	"errors"
	"net/http"

	"github.com/portcullis/portcullis/gateway/problem"
)

// End is what the server knows when a request's handling ends.
type End struct {
	// Err is what the chain (or the server before it) returned.
	Err error
	// Panic is the recovered value of a panicking stage, nil if none.
	Panic any
	// Written is the status already sent to the client, 0 if none.
	Written int
	// Gone tells that the client went away: the request's context was
	// canceled, or the proxy found the client gone (proxy.ErrClientGone).
	Gone bool
}

// Outcome is how a request ended.
type Outcome struct {
	Status int
	Reason problem.Reason
	// Problem is what to send the client; nil when a response was sent
	// (or must not be, the client being gone).
	Problem *problem.Problem
}

// Allowed tells whether the request went through as the policy allowed it.
func (o Outcome) Allowed() bool { return o.Reason == problem.ReasonAllow }

// Answered is what a stage returns when it wrote the whole response
// itself and the request goes no further, with an outcome other than
// allow: a CORS preflight the gateway answers (cors_preflight). It is the
// one error a handler may return after writing.
type Answered struct{ Reason problem.Reason }

func (a *Answered) Error() string { return "answered: " + string(a.Reason) }

var errInternal = problem.New(http.StatusInternalServerError, problem.ReasonInternal, "the gateway failed to handle the request")

// Settle computes the outcome of a request, once, from how it ended:
//
//  1. a panic is 500 internal_error (sent if nothing was and the client
//     is still there), except
//     http.ErrAbortHandler, with which ReverseProxy cuts a response it
//     cannot complete: response_aborted with the status already sent;
//  2. an error from a gone client is 499 client_closed, nothing sent;
//  3. an [Answered] is its reason with the status written; an error is
//     its problem, status and reason; any other error is 500
//     internal_error;
//  4. no error is allow, with the status written (200 if none).
//
// The reason is the one of the stage that ended the request: a validation
// rejection after the policy allowed, an upstream timeout after allow, a
// deny: each is the error the chain returned, so no precedence is needed.
func Settle(e End) Outcome {
	written := e.Written
	if written == 0 {
		written = http.StatusOK
	}
	switch {
	case e.Panic == http.ErrAbortHandler:
		return Outcome{Status: written, Reason: problem.ReasonResponseAborted}
	case e.Panic != nil && e.Written == 0 && e.Gone:
		return Outcome{Status: problem.StatusClientClosed, Reason: problem.ReasonClientClosed}
	case e.Panic != nil && e.Written == 0:
		return Outcome{Status: errInternal.Status, Reason: errInternal.Reason, Problem: errInternal}
	case e.Panic != nil:
		return Outcome{Status: http.StatusInternalServerError, Reason: problem.ReasonInternal}
	case e.Err == nil:
		return Outcome{Status: written, Reason: problem.ReasonAllow}
	case e.Gone:
		return Outcome{Status: problem.StatusClientClosed, Reason: problem.ReasonClientClosed}
	}
	if a, ok := errors.AsType[*Answered](e.Err); ok {
		return Outcome{Status: written, Reason: a.Reason}
	}
	p := problem.As(e.Err)
	if p == nil {
		p = problem.Wrap(http.StatusInternalServerError, problem.ReasonInternal, errInternal.Detail, e.Err)
	}
	return Outcome{Status: p.Status, Reason: p.Reason, Problem: p}
}
