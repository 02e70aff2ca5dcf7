package validate

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/routers"

	"github.com/portcullis/portcullis/gateway/body"
	"github.com/portcullis/portcullis/gateway/input"
	"github.com/portcullis/portcullis/gateway/pipeline"
	"github.com/portcullis/portcullis/gateway/problem"
	"github.com/portcullis/portcullis/policy"
)

// Stable reason codes of the problems a Validator records.
const (
	ReasonValidationFailed     = "validation_failed"
	ReasonUnknownOperation     = "unknown_operation"
	ReasonMethodNotAllowed     = "method_not_allowed"
	ReasonUnsupportedMediaType = "unsupported_media_type"
)

// methods are tried, on a miss only, to tell 405 from 404.
var methods = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
	http.MethodPatch, http.MethodDelete, http.MethodOptions, http.MethodTrace}

// Verdict is what validation decided for a request that authorization
// has yet to see.
type Verdict struct {
	// Rejection is the problem to send once the policy allowed (see
	// [Enforce]); nil when the request is valid or the mode is report.
	Rejection error
}

// VerdictPart is the request's Verdict.
var VerdictPart = pipeline.NewPart[Verdict]()

// Middleware returns the validation stage. It matches the method and the
// normalized r.URL.Path to an operation (server base paths are prefixes;
// hosts are ignored), sets input.route.operation_id and path_params, and
// validates parameters, the Content-Type and the body already buffered by
// body.Read ([body.Buffered]), which the chain runs before it. It records
// the verdict in input.validation and, in enforce mode, the problem in the
// request's [Verdict]: 400 validation_failed with invalid_params, 415
// unsupported_media_type, 405 method_not_allowed (with Allow) or 404
// unknown_operation (not with unknown_operation: pass). It never rejects
// by itself: next is always called, and [Enforce] returns the rejection
// after authorization. In report mode nothing is rejected; in off mode the
// stage does nothing. Offending values are never echoed unless the route
// is verbose. A request that matches no operation is recorded as invalid
// (with an empty OperationID) even where unknown_operation: pass lets it
// through, so the policy can tell. HEAD matches a GET operation when the
// path declares no HEAD.
func (v *Validator) Middleware() pipeline.Middleware {
	return func(next pipeline.Handler) pipeline.Handler {
		if v.mode == ModeOff {
			return next
		}
		return pipeline.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
			ctx := r.Context()
			in, vd, b := input.Part.From(ctx), VerdictPart.From(ctx), body.Part.From(ctx)
			if in == nil || vd == nil || b == nil {
				return errNoState
			}
			result, p := v.check(v.current.Load(), r, in, b)
			v.metrics.observe(v.route, result)
			if p == nil {
				in.Validation = policy.Validation{Ran: true, Valid: true}
				return next.ServeHTTP(w, r)
			}
			in.Validation = policy.Validation{Ran: true, Errors: make([]policy.ValidationError, 0, len(p.InvalidParams))}
			for _, ip := range p.InvalidParams {
				in.Validation.Errors = append(in.Validation.Errors, policy.ValidationError(ip))
			}
			unknown := result == resultUnknownOperation || result == resultMethodNotAllowed
			if v.mode == ModeEnforce && !(unknown && v.passUnknown) {
				vd.Rejection = p
			}
			v.log.Debug().Str("route", v.route).Str("operation_id", in.Route.OperationID).
				Str("result", result).Int("errors", len(p.InvalidParams)).Str("mode", v.mode).Msg("request does not match the openapi document")
			return next.ServeHTTP(w, r)
		})
	}
}

// Enforce is the stage, after authorization, that returns the rejection
// validation recorded: a denied request gets 401/403 whatever its body.
func Enforce(next pipeline.Handler) pipeline.Handler {
	return pipeline.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		if vd := VerdictPart.From(r.Context()); vd != nil && vd.Rejection != nil {
			return vd.Rejection
		}
		return next.ServeHTTP(w, r)
	})
}

// check validates r, with the buffered body b, against c, sets the
// operation of in, and returns the result label and, when the request is
// not valid, the problem to record.
func (v *Validator) check(c *compiled, r *http.Request, d *input.Doc, b *body.Buffered) (string, *problem.Problem) {
	in := &d.Input
	f, allow := c.find(r)
	route, params := f.route, f.params
	if route == nil {
		if len(allow) > 0 {
			p := problem.New(http.StatusMethodNotAllowed, ReasonMethodNotAllowed, "the API does not allow this method on this path").
				WithHeader("Allow", strings.Join(allow, ", "))
			p.InvalidParams = []problem.InvalidParam{{Name: "method", In: "request", Reason: "is not allowed on this path"}}
			return resultMethodNotAllowed, p
		}
		p := problem.New(http.StatusNotFound, ReasonUnknownOperation, "the API has no operation for this method and path")
		p.InvalidParams = []problem.InvalidParam{{Name: "path", In: "request", Reason: "matches no operation"}}
		return resultUnknownOperation, p
	}
	in.Route.OperationID = route.Operation.OperationID
	in.Route.PathParams = params

	// The Content-Type, and the media type it selects in the operation
	// when there is a body, are looked up once for all the checks below.
	ct := body.ContentType(r.Header)
	plain := b.PlainBytes()
	var mt *openapi3.MediaType
	var invalid []problem.InvalidParam
	if len(plain) > 0 {
		rb := route.Operation.RequestBody
		if rb == nil || rb.Value == nil {
			invalid = append(invalid, problem.InvalidParam{Name: "", In: "body", Reason: "this operation takes no request body"})
		} else if mt = rb.Value.Content.Get(ct); !v.acceptsType(rb.Value.Content, mt, ct) {
			p := problem.New(http.StatusUnsupportedMediaType, ReasonUnsupportedMediaType, "the API does not accept this content type here")
			p.InvalidParams = []problem.InvalidParam{{Name: "Content-Type", In: "header", Reason: "is not an accepted media type"}}
			return resultUnsupportedMedia, p
		}
	}
	// The query is parsed once, by input.Routed, for the input, kin-openapi
	// and the ambiguity checks, which only read it. nil (no query) is what
	// kin-openapi would parse for itself, so it does.
	query, ok := d.ParsedQuery(r.URL.RawQuery)
	if !ok && r.URL.RawQuery != "" {
		query = r.URL.Query()
	}
	if o := c.ops[route.Operation]; o != nil {
		invalid = c.validate(r.Context(), invalid, o, r, f, query, plain, ct, mt, v.verbose)
	} else { // the router is built from the document: cannot happen, fail closed
		invalid = add(invalid, "", "request", "is invalid", "", false)
	}
	invalid = ambiguous(invalid, c, query, route, plain, ct, mt)
	if len(invalid) == 0 {
		return resultValid, nil
	}
	p := problem.New(http.StatusBadRequest, ReasonValidationFailed, "the request does not match the API description")
	// p.Err stays nil: kin-openapi's messages embed the offending values
	// (a password field, say), which must not reach the log either.
	p.InvalidParams = invalid
	return resultInvalid, p
}

// acceptsType reports whether the Content-Type ct is one the operation
// declares (declared, content.Get(ct), is not nil) and, when the route
// lists content types, one of those too.
func (v *Validator) acceptsType(content openapi3.Content, declared *openapi3.MediaType, ct string) bool {
	if len(content) > 0 && declared == nil {
		return false
	}
	if len(v.contentTypes) == 0 {
		return true
	}
	mt := mediaType(ct)
	typ, _, _ := strings.Cut(mt, "/")
	for _, a := range v.contentTypes {
		if a == mt || a == "*/*" || a == typ+"/*" {
			return true
		}
	}
	return false
}

// found is the operation a request matches.
type found struct {
	route  *routers.Route
	params map[string]string
	// path is the request's path below the server base it matched.
	path string
}

// find matches r to an operation. On a miss it returns the methods the
// path does allow, if any.
func (c *compiled) find(r *http.Request) (found, []string) {
	return c.findBy(r, c.match)
}

// findBy is find with match matching a method and a path below a base.
func (c *compiled) findBy(r *http.Request, match func(method, path string) (*routers.Route, map[string]string)) (found, []string) {
	for _, base := range c.bases {
		rest, ok := stripBase(r.URL.Path, base)
		if !ok {
			continue
		}
		if route, params := match(r.Method, rest); route != nil {
			return found{route, params, rest}, nil
		}
		if r.Method == http.MethodHead { // HEAD is GET without the body (RFC 9110 9.3.2)
			if route, params := match(http.MethodGet, rest); route != nil {
				return found{route, params, rest}, nil
			}
		}
	}
	var allow []string
	for _, m := range methods {
		if m == r.Method {
			continue
		}
		for _, base := range c.bases {
			if rest, ok := stripBase(r.URL.Path, base); ok {
				if route, _ := match(m, rest); route != nil {
					allow = append(allow, m)
					break
				}
			}
		}
	}
	return found{}, allow
}

// withPath returns a shallow copy of r whose URL path is path. The copy is
// what kin-openapi sees where it may replace the body; r itself is never
// modified.
func withPath(r *http.Request, path string) *http.Request {
	t := &target{rq: *r, u: *r.URL}
	t.u.Path, t.u.RawPath = path, ""
	t.rq.URL = &t.u
	return &t.rq
}

// target holds the copy withPath makes and its URL in one allocation.
type target struct {
	rq http.Request
	u  url.URL
}
