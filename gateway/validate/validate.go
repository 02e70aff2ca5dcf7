// Package validate checks requests against the route's OpenAPI document and records the verdict for the policy.
package validate

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/portcullis/portcullis/gateway/config"
)

// Modes of a route's openapi.mode; the empty string means ModeEnforce.
const (
	ModeEnforce = "enforce"
	ModeReport  = "report"
	ModeOff     = "off"
)

// Values of a route's openapi.unknown_operation; the empty string means UnknownReject.
const (
	UnknownReject = "reject"
	UnknownPass   = "pass"
)

// Options are the dependencies of a Validator.
type Options struct {
	// Logger receives reload outcomes and, at debug level, verdicts
	// (never request values). The zero Logger discards.
	Logger zerolog.Logger
	// Registerer receives the validation metrics; nil registers none.
	Registerer prometheus.Registerer
}

// Validator validates the requests of one route against its OpenAPI
// document. It is safe for concurrent use.
type Validator struct {
	route        string
	mode         string
	passUnknown  bool
	contentTypes []string
	verbose      bool
	log          zerolog.Logger
	metrics      *metrics

	current atomic.Pointer[compiled]
}

// compiled is everything built from one version of the document.
type compiled struct {
	doc *openapi3.T
	// paths are the document's routes by method: the trie kin-openapi's
	// legacy router builds, one per method, so that a path is matched
	// without the request (or a copy of it) and without the router's
	// method+" "+path key, with the exact answers for its literal paths.
	paths map[string]*methodRoutes
	// bases are the path prefixes of the document's servers, longest
	// first; "" when the paths are matched from the root.
	bases []string
	opts  *openapi3filter.Options
	// ops are the document's operations, prepared for validation.
	ops map[*openapi3.Operation]*operation
	// bodyOpts are the schema options of a request body, writableBodyOpts
	// those of a body without readOnly (bodyOptions).
	bodyOpts, writableBodyOpts []openapi3.SchemaValidationOption
	// paramOpts are the schema options of a parameter.
	paramOpts []openapi3.SchemaValidationOption
	// openSchemas are the body schemas the case-variant check walks.
	openSchemas map[*openapi3.SchemaRef]bool
}

// New loads route.OpenAPI.Spec and builds the router and validation
// options once. It fails when the route has no spec, the mode or
// unknown_operation is not a known value, or the document is invalid.
func New(route *config.Route, opts Options) (*Validator, error) {
	o := route.OpenAPI
	if o.Spec == "" {
		return nil, fmt.Errorf("route %q: openapi.spec is empty", route.Name)
	}
	mode := o.Mode
	if mode == "" {
		mode = ModeEnforce
	}
	if mode != ModeEnforce && mode != ModeReport && mode != ModeOff {
		return nil, fmt.Errorf("route %q: openapi.mode %q (want %q, %q or %q)", route.Name, o.Mode, ModeEnforce, ModeReport, ModeOff)
	}
	if u := o.UnknownOperation; u != "" && u != UnknownReject && u != UnknownPass {
		return nil, fmt.Errorf("route %q: openapi.unknown_operation %q (want %q or %q)", route.Name, u, UnknownReject, UnknownPass)
	}
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, err
	}
	v := &Validator{
		route:        route.Name,
		mode:         mode,
		passUnknown:  o.UnknownOperation == UnknownPass,
		contentTypes: normalizeTypes(o.ContentTypes),
		verbose:      o.Verbose,
		log:          opts.Logger,
		metrics:      m,
	}
	c, err := compile(o.Spec)
	if err != nil {
		return nil, fmt.Errorf("route %q: %w", route.Name, err)
	}
	v.current.Store(c)
	return v, nil
}

func compile(path string) (*compiled, error) {
	doc, err := Load(path)
	if err != nil {
		return nil, err
	}
	bases, err := basePaths(doc.Servers)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	// The routes match paths only: servers are applied as prefixes by
	// us, because the host and scheme a client used say nothing about
	// which operation it calls behind a gateway.
	bare := *doc
	bare.Servers = nil
	paths, err := routes(&bare)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	c := &compiled{
		doc:         doc,
		paths:       paths,
		bases:       bases,
		ops:         operations(doc),
		openSchemas: openSchemas(doc),
		opts: &openapi3filter.Options{
			MultiError: true,
			// Validation never rewrites the request: the proxy forwards the wire bytes.
			SkipSettingDefaults: true,
			// Authentication is the gateway's job, before this stage.
			AuthenticationFunc:      openapi3filter.NoopAuthenticationFunc,
			SchemaValidationOptions: []openapi3.SchemaValidationOption{openapi3.WithStringFormatValidators(stringFormats)},
		},
	}
	c.bodyOpts, c.writableBodyOpts = bodyOptions(doc, c.opts)
	c.paramOpts = paramOptions(doc, c.opts)
	return c, nil
}

// basePaths returns the path of every server URL (variables replaced by
// their defaults), without a trailing slash, longest first.
func basePaths(servers openapi3.Servers) ([]string, error) {
	if len(servers) == 0 {
		return []string{""}, nil
	}
	var bases []string
	for _, s := range servers {
		raw := s.URL
		for name, sv := range s.Variables {
			raw = strings.ReplaceAll(raw, "{"+name+"}", sv.Default)
		}
		u, err := url.Parse(raw)
		if err != nil {
			return nil, fmt.Errorf("server url %q: %w", s.URL, err)
		}
		b := strings.TrimRight(u.Path, "/")
		if !slices.Contains(bases, b) {
			bases = append(bases, b)
		}
	}
	slices.SortFunc(bases, func(a, b string) int { return len(b) - len(a) })
	return bases, nil
}

// stripBase returns path without the prefix base, matched on whole segments.
func stripBase(path, base string) (string, bool) {
	if base == "" {
		return path, true
	}
	rest, ok := strings.CutPrefix(path, base)
	switch {
	case !ok:
		return "", false
	case rest == "":
		return "/", true
	case rest[0] == '/':
		return rest, true
	}
	return "", false
}

func normalizeTypes(ts []string) []string {
	out := make([]string, 0, len(ts))
	for _, t := range ts {
		out = append(out, mediaType(t))
	}
	return out
}

// mediaType returns the lower-case type/subtype of a Content-Type value.
func mediaType(ct string) string {
	mt, _, _ := strings.Cut(ct, ";")
	return strings.ToLower(strings.TrimSpace(mt))
}

// errNoState means the stage ran outside the pipeline; it fails closed (500).
var errNoState = errors.New("validate: no pipeline state in request context")
