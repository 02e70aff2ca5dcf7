// Package pipeline defines the request pipeline: handlers that return errors, stages checked for order when the chain is built, the per-request parts and the outcome.
package pipeline

import (
	"errors"
	"net/http"
)

// Handler is like http.Handler, but returns its error for the server to
// render. A handler that returns an error must not have written a
// response, except [Answered].
type Handler interface {
	ServeHTTP(w http.ResponseWriter, r *http.Request) error
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(w http.ResponseWriter, r *http.Request) error

// ServeHTTP calls f(w, r).
func (f HandlerFunc) ServeHTTP(w http.ResponseWriter, r *http.Request) error { return f(w, r) }

// Middleware is one stage of the pipeline. Constructors of middleware do all
// parsing and compiling up front; per request there is only work on the request.
type Middleware func(next Handler) Handler

// Chain wraps h so that m[0] runs first. Nil middlewares are skipped, so a
// route can leave out stages it does not configure.
func Chain(h Handler, m ...Middleware) Handler {
	for i := len(m) - 1; i >= 0; i-- {
		if m[i] != nil {
			h = m[i](h)
		}
	}
	return h
}

// ErrNoCredential is returned by an Authenticator when the request carries
// no credential of its kind; the next authenticator is tried.
var ErrNoCredential = errors.New("no credential")
