// Package problem defines RFC 9457 problem details, the only error body the gateway sends.
package problem

import (
	"errors"
	"fmt"
	"net/http"
)

// TypeBase is the prefix of every problem type URI; the README documents each one under it.
const TypeBase = "https://portcullis.dev/problems/"

// Problem is an RFC 9457 problem. The JSON fields are what the client sees;
// Header and Err are for the gateway only: Err is logged, never sent.
type Problem struct {
	Type          string         `json:"type,omitempty"`
	Title         string         `json:"title"`
	Status        int            `json:"status"`
	Detail        string         `json:"detail,omitempty"`
	Instance      string         `json:"instance,omitempty"`
	RequestID     string         `json:"request_id,omitempty"`
	InvalidParams []InvalidParam `json:"invalid_params,omitempty"`

	// Reason is the stable code of the problem (e.g. "token_expired"), one of
	// [Codes]; it goes to the decision log and metrics.
	Reason Reason `json:"reason,omitempty"`

	Header http.Header `json:"-"`
	Err    error       `json:"-"`
}

// InvalidParam names one invalid part of a request by JSON pointer (body) or
// by location and name (path, query, header), with a reason that never echoes
// the offending value.
type InvalidParam struct {
	Name   string `json:"name"`
	In     string `json:"in,omitempty"`
	Reason string `json:"reason"`
}

func (p *Problem) Error() string {
	if p.Err != nil {
		return fmt.Sprintf("%d %s (%s): %v", p.Status, p.Title, p.Reason, p.Err)
	}
	return fmt.Sprintf("%d %s (%s)", p.Status, p.Title, p.Reason)
}

func (p *Problem) Unwrap() error { return p.Err }

// New returns a problem with the given status, stable reason code and
// client-safe detail. Its type is TypeBase+reason and its title the status text.
func New(status int, reason Reason, detail string) *Problem {
	return &Problem{
		Type:   TypeBase + string(reason),
		Title:  http.StatusText(status),
		Status: status,
		Detail: detail,
		Reason: reason,
	}
}

// Wrap is New with an internal cause that is logged but never sent.
func Wrap(status int, reason Reason, detail string, err error) *Problem {
	p := New(status, reason, detail)
	p.Err = err
	return p
}

// WithHeader sets a response header on p and returns p.
func (p *Problem) WithHeader(name, value string) *Problem {
	if p.Header == nil {
		p.Header = make(http.Header, 1)
	}
	p.Header.Set(name, value)
	return p
}

// Unauthorized is a 401 with the RFC 6750 challenge for an invalid token.
func Unauthorized(reason Reason, detail string, err error) *Problem {
	return Wrap(http.StatusUnauthorized, reason, detail, err).
		WithHeader("WWW-Authenticate", `Bearer error="invalid_token"`)
}

// As returns the *Problem in err's chain, or nil.
func As(err error) *Problem {
	var p *Problem
	if errors.As(err, &p) {
		return p
	}
	return nil
}
