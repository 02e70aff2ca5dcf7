// Package cors is a route's CORS server: it answers preflights before
// authentication and adds the CORS response headers for allowed origins.
package cors

import (
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/portcullis/portcullis/gateway/config"
	"github.com/portcullis/portcullis/gateway/cors/origin"
	"github.com/portcullis/portcullis/gateway/header"
	"github.com/portcullis/portcullis/gateway/pipeline"
	"github.com/portcullis/portcullis/gateway/problem"
)

// The outcomes of a preflight: answered (204) or rejected (403).
const (
	ReasonPreflight problem.Reason = "cors_preflight"
	ReasonRejected  problem.Reason = "cors_rejected"
)

// answered is what the stage returns after answering a preflight.
var answered = &pipeline.Answered{Reason: ReasonPreflight}

// The response headers (Fetch standard, "HTTP responses").
const (
	allowOrigin      = "Access-Control-Allow-Origin"
	allowCredentials = "Access-Control-Allow-Credentials"
	allowMethods     = "Access-Control-Allow-Methods"
	allowHeaders     = "Access-Control-Allow-Headers"
	exposeHeaders    = "Access-Control-Expose-Headers"
	maxAge           = "Access-Control-Max-Age"
	requestMethod    = "Access-Control-Request-Method"
	requestHeaders   = "Access-Control-Request-Headers"
)

// preflightVary is the Vary of every preflight answer: the answer depends
// on all three, and a shared cache must not give one origin's to another.
const preflightVary = "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"

// Policy is one route's compiled CORS configuration.
type Policy struct {
	origins *origin.Set
	methods []string
	headers header.Set
	// The header values, joined once.
	methodList, headerList, maxAge string
	exposeList                     []string // nil: none
	credentials                    bool
}

// valueTrue is the value of Access-Control-Allow-Credentials.
var valueTrue = []string{"true"}

// New compiles c; config.Validate has reported the same errors with their paths.
func New(c *config.RouteCORS) (*Policy, error) {
	set, err := origin.NewSet(c.AllowOrigins)
	if err != nil {
		return nil, err
	}
	p := &Policy{
		origins:     set,
		methods:     c.AllowMethods,
		headers:     header.NewSet(c.AllowHeaders...),
		methodList:  strings.Join(c.AllowMethods, ", "),
		headerList:  strings.Join(c.AllowHeaders, ", "),
		credentials: c.AllowCredentials,
	}
	if len(c.ExposeHeaders) > 0 {
		p.exposeList = []string{strings.Join(c.ExposeHeaders, ", ")}
	}
	if s := int64(c.MaxAge.Seconds()); s > 0 {
		p.maxAge = strconv.FormatInt(s, 10)
	}
	return p, nil
}

// Preflight tells whether r is a CORS preflight (an OPTIONS request with
// Origin and Access-Control-Request-Method) and returns the method it
// asks about. The server routes a preflight by that method: it asks
// about the request that follows. Any other OPTIONS request takes the
// normal path.
func Preflight(r *http.Request) (method string, ok bool) {
	if r.Method != http.MethodOptions {
		return "", false
	}
	m := r.Header.Get(requestMethod)
	return m, m != "" && r.Header.Get("Origin") != ""
}

// Middleware answers preflights and adds the CORS headers to every other
// response of the route: Access-Control-Allow-Origin (the request's
// origin), -Allow-Credentials and -Expose-Headers only for an allowed
// origin, Vary: Origin always. The upstream's own Access-Control-* headers
// are removed, so the gateway is the one source of them.
func (p *Policy) Middleware(next pipeline.Handler) pipeline.Handler {
	return pipeline.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		if m, ok := Preflight(r); ok {
			return p.preflight(w, r, m)
		}
		cw := &writer{ResponseWriter: w, p: p}
		if o, ok := p.allowed(r); ok {
			cw.origin = []string{o}
		}
		// Set now for the answers the server renders (a 401, a deny);
		// the writer sets them again over what the upstream sent.
		cw.set(w.Header())
		return next.ServeHTTP(cw, r)
	})
}

// allowed returns the request's origin when the policy allows it. A
// request with several Origin fields is not a browser's, and gets none.
func (p *Policy) allowed(r *http.Request) (string, bool) {
	v := r.Header["Origin"]
	if len(v) != 1 || !p.origins.Match(v[0]) {
		return "", false
	}
	return v[0], true
}

// preflight answers a preflight: 204 with the policy's headers
// (cors_preflight) when the origin, the method and every requested
// header are allowed, else 403
// cors_rejected without CORS headers, which the browser reports as a
// CORS failure to the script. Neither reaches the upstream or asks for a
// credential.
func (p *Policy) preflight(w http.ResponseWriter, r *http.Request, method string) error {
	reject := func(detail string) error {
		return problem.New(http.StatusForbidden, ReasonRejected, detail).WithHeader("Vary", preflightVary)
	}
	o, ok := p.allowed(r)
	if !ok {
		return reject("cross-origin requests from this origin are not allowed")
	}
	if !p.methodAllowed(method) {
		return reject("the method asked for is not allowed for cross-origin requests")
	}
	for _, v := range r.Header.Values(requestHeaders) {
		for name := range strings.SplitSeq(v, ",") {
			if name = strings.TrimSpace(name); name != "" && !p.headers.Has(name) {
				return reject("a request header asked for is not allowed for cross-origin requests")
			}
		}
	}
	h := w.Header()
	h.Set(allowOrigin, o)
	if p.credentials {
		h.Set(allowCredentials, "true")
	}
	if p.methodList != "" {
		h.Set(allowMethods, p.methodList)
	}
	if p.headerList != "" {
		h.Set(allowHeaders, p.headerList)
	}
	if p.maxAge != "" {
		h.Set(maxAge, p.maxAge)
	}
	h.Set("Vary", preflightVary)
	w.WriteHeader(http.StatusNoContent)
	return answered
}

// methodAllowed follows the browser's own check (Fetch, "CORS-preflight
// fetch"): GET, HEAD and POST pass whatever the policy lists, since a
// browser sends them without asking; methods compare case-sensitively.
func (p *Policy) methodAllowed(m string) bool {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost:
		return true
	}
	return slices.Contains(p.methods, m)
}

// writer puts the route's CORS headers on the response the upstream sends.
type writer struct {
	http.ResponseWriter
	p      *Policy
	origin []string // the Allow-Origin value; nil when not allowed
	wrote  bool
}

func (w *writer) WriteHeader(code int) {
	h := w.Header()
	for k := range h {
		if len(k) > len("Access-Control-") && strings.EqualFold(k[:len("Access-Control-")], "Access-Control-") {
			delete(h, k)
		}
	}
	// A 1xx is not the response; ReverseProxy clears the header map after
	// one, so the final head gets the headers again.
	if code >= http.StatusOK || code == http.StatusSwitchingProtocols {
		w.wrote = true
		w.set(h)
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *writer) Write(b []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach Flush, Hijack and deadlines.
func (w *writer) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// set adds the policy's headers for the request's origin to h. The
// values are the writer's and the policy's own slices, assigned rather
// than copied: a response of a CORS route allocates one for its origin.
// Nothing appends to them in place (their capacity is their length).
func (w *writer) set(h http.Header) {
	// Once: set runs again when the head is written, over the same map.
	if !slices.Contains(h.Values("Vary"), "Origin") {
		h["Vary"] = append(h["Vary"], "Origin")
	}
	if w.origin == nil {
		return
	}
	h[allowOrigin] = w.origin
	if w.p.credentials {
		h[allowCredentials] = valueTrue
	}
	if w.p.exposeList != nil {
		h[exposeHeaders] = w.p.exposeList
	}
}
