// Package input builds the policy input of a request: the request facts at arrival, the route's view once routed.
package input

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/portcullis/portcullis/gateway/config"
	"github.com/portcullis/portcullis/gateway/header"
	"github.com/portcullis/portcullis/gateway/pipeline"
	"github.com/portcullis/portcullis/policy"
)

// Doc is the policy input of a request as the stages build it: request
// and route from this package, the identity from authentication, the
// verdict from validation, the body from authorization. The decision log
// records it whole, with the path as received beside it.
type Doc struct {
	policy.Input
	// RawPath is the path of the request target as received, still
	// escaped (see Arrive); the decision log records it when no canonical
	// path was made.
	RawPath string

	// query is the whole query Routed parsed from rawQuery, credentials
	// included (see ParsedQuery).
	query    url.Values
	rawQuery string
	// segs backs Request.Segments for paths of up to len(segs) segments,
	// so that splitting the path allocates nothing for most routes.
	segs [4]string
}

// ParsedQuery returns the whole query of the request target, credentials
// and secrets included, as Routed parsed it, when raw (the target's
// current raw query) is still the one it parsed; otherwise ok is false
// and the caller parses raw itself. It spares validation a second parse.
// The values may be shared with input.request.query: read only.
func (d *Doc) ParsedQuery(raw string) (q url.Values, ok bool) {
	if raw == "" || raw != d.rawQuery {
		return nil, false
	}
	return d.query, true
}

// Part is the request's Doc.
var Part = pipeline.NewPart[Doc]()

// Options are the names that never enter the input.
type Options struct {
	// Exclude are the headers, in any spelling, that carry credentials or identities.
	Exclude header.Set
	// Secret tells the query parameters that are secret on every route.
	Secret func(name string) bool
	// CredentialQuery are, per route, the query parameters that may carry a credential.
	CredentialQuery map[*config.Route][]string
}

// Builder fills the request and route parts of the input.
type Builder struct {
	o Options
	// names are the usual header names with their lower-case form and
	// whether o.Exclude holds them, worked out once: one lookup per
	// header instead of a fold for Exclude and another for the case.
	names map[string]headerName
}

type headerName struct {
	lower    string
	excluded bool
}

// New returns the Builder of o.
func New(o Options) *Builder {
	b := &Builder{o: o, names: make(map[string]headerName, len(commonHeaders))}
	for _, h := range commonHeaders {
		b.names[h] = headerName{lower: strings.ToLower(h), excluded: o.Exclude.Has(h)}
	}
	return b
}

// Routed sets input.request and input.route once r matched rt.
// Credentials (the Authorization header, cookies, the API-key header,
// credential query parameters) and identity headers never enter the input.
// Method, WireMethod, Host and Port were set by header.Cleaner.Screen.
func (b *Builder) Routed(d *Doc, r *http.Request, rt *config.Route) {
	in := &d.Input
	in.Route.Name = rt.Name
	in.Route.Tags = rt.Tags
	in.OPAEnvoy = rt.Policy.InputCompat == "opa-envoy"
	req := &in.Request
	req.Path = r.URL.Path
	req.Segments = segments(d.segs[:0], r.URL.Path)
	req.Scheme = "http"
	if r.TLS != nil {
		req.Scheme = "https"
	}
	req.RemoteAddr = r.RemoteAddr
	if r.URL.RawQuery != "" {
		q := r.URL.Query()
		d.query, d.rawQuery = q, r.URL.RawQuery
		req.Query = b.visible(q, rt)
	}
	req.Headers = make(map[string]string, len(r.Header))
	for k, v := range r.Header {
		n, ok := b.names[k]
		if !ok {
			n = headerName{lower: strings.ToLower(k), excluded: b.o.Exclude.Has(k)}
		}
		if n.excluded {
			continue
		}
		lk := n.lower
		if len(v) == 1 {
			req.Headers[lk] = v[0]
		} else {
			req.Headers[lk] = strings.Join(v, ", ")
		}
	}
}

// segments appends to dst the segments of path between its leading and
// trailing slashes, split on "/" as strings.Split splits them; a path of
// slashes only has none.
func segments(dst []string, path string) []string {
	rest := strings.Trim(path, "/")
	if rest == "" {
		return dst
	}
	for {
		seg, more, found := strings.Cut(rest, "/")
		dst = append(dst, seg)
		if !found {
			return dst
		}
		rest = more
	}
}

// visible returns the parameters of q that may enter the input: q itself
// when it holds no credential or secret parameter, else a copy without
// them (q stays whole for ParsedQuery).
func (b *Builder) visible(q url.Values, rt *config.Route) url.Values {
	cred := b.o.CredentialQuery[rt]
	hidden := func(name string) bool {
		for _, c := range cred {
			if c == name {
				return true
			}
		}
		return b.o.Secret(name)
	}
	for name := range q {
		if !hidden(name) {
			continue
		}
		out := make(url.Values, len(q)-1)
		for name, vs := range q {
			if !hidden(name) {
				out[name] = vs
			}
		}
		return out
	}
	return q
}

// commonHeaders are the names, as net/http canonicalizes them, that
// requests usually carry; others are lowered per request.
var commonHeaders = []string{"Accept", "Accept-Encoding", "Accept-Language", "Content-Type", "Content-Length",
	"User-Agent", "X-Request-Id", "X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host", "Origin",
	"Referer", "Cache-Control", "Connection", "Expect", "If-None-Match", "If-Modified-Since", "Traceparent",
	"Authorization", "Cookie", "X-Api-Key"}
