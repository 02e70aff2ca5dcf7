// Package authn is the authentication stage: it extracts the one credential of a request and verifies it.
package authn

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/portcullis/portcullis/gateway/authn/clientcert"
	"github.com/portcullis/portcullis/gateway/config"
	"github.com/portcullis/portcullis/gateway/header"
	"github.com/portcullis/portcullis/gateway/input"
	"github.com/portcullis/portcullis/gateway/pipeline"
	"github.com/portcullis/portcullis/gateway/problem"
	"github.com/portcullis/portcullis/policy"
)

// Reason codes of the problems the stage itself returns (authenticators
// add their own, such as token_expired or api_key_invalid).
const (
	ReasonMissing          = "credential_missing"
	ReasonMethodNotAllowed = "method_not_allowed_on_route"
	ReasonUnsupported      = "credential_unsupported"
	ReasonUnavailable      = "authn_unavailable"
)

// Authenticators are the verifiers the stage dispatches to; a field is nil
// when its method is not configured. ClientCert verifies no credential
// value but the connection's certificate chain, hence its own type.
type Authenticators struct {
	JWT, Introspection, APIKey pipeline.Authenticator
	ClientCert                 *clientcert.Authenticator
	// Identity is the set of [IdentityHeaders] of the config, which every
	// route strips alike. The caller builds it once per config: computing
	// it per route walks every route for each, quadratic in the routes
	// (2.7 s to build 10 000 routes).
	Identity header.Set
}

// IdentityPart is the request's storage for its identity: an
// authenticator that can write there ([IntoAuthenticator]) spares the
// allocation of a copy per request. The server binds it with the other
// parts of its per-request exchange, which is never reused, so the
// identity may outlive the request (a decision-log event kept beyond it).
var IdentityPart = pipeline.NewPart[policy.Identity]()

// IntoAuthenticator is an Authenticator that can write the identity it
// returns to dst, storage of the request's (nil: none); the caller uses
// the result, which need not be dst.
type IntoAuthenticator interface {
	AuthenticateInto(ctx context.Context, cred pipeline.Credential, dst *policy.Identity) (*policy.Identity, error)
}

// verifier is an enabled authenticator and, when it is one, its
// IntoAuthenticator, found once per route, not per request.
type verifier struct {
	a    pipeline.Authenticator
	into IntoAuthenticator
}

func (v verifier) authenticate(ctx context.Context, cred pipeline.Credential, dst *policy.Identity) (*policy.Identity, error) {
	if v.into != nil && dst != nil {
		return v.into.AuthenticateInto(ctx, cred, dst)
	}
	return v.a.Authenticate(ctx, cred)
}

// stage is the per-route authentication, built once.
type stage struct {
	x extractor
	// The chains hold the verifiers the route enables, tried in order. A
	// JWS-shaped token the JWT verifier declines (ErrNoCredential) may still
	// be an opaque token the introspection endpoint knows.
	jwsChain, opaqueChain, apiKeyChain []verifier
	clientCert                         *clientcert.Authenticator // nil unless the route enables client_cert
	anon                               bool
	hide                               bool
	identity                           header.Set // headers removed from every request, in any spelling

	issuerHeaders  map[string][]claimHeader // by JWT issuer
	introHeaders   []claimHeader
	consumerHeader string
}

// New builds the authentication stage of route. Per request it:
//
//  1. removes every identity header ([IdentityHeaders]) the client sent;
//  2. extracts exactly one credential: the Authorization header (Bearer),
//     the route's bearer_query parameter and bearer_cookie, the API-key
//     header and, with api_key_query, the API-key parameter and, when the
//     route enables client_cert, the connection's verified client
//     certificate. Two of them (a certificate and a token too), or one
//     repeated, is 401 credential_ambiguous; a malformed one (other
//     schemes included) 401 credential_malformed;
//  3. sends a bearer token that looks like a JWS to JWT (when the route
//     enables jwt), else to introspection (when it enables introspection),
//     an API key to APIKey and a certificate chain to ClientCert. A credential of a method the route does not
//     enable is 401 method_not_allowed_on_route;
//  4. with no credential, gives policy.Anonymous() if the route allows
//     anonymous requests, else 401 credential_missing;
//  5. on success sets input.identity ([input.Doc]), queues the identity
//     headers ([header.Edits]) and, with hide_credentials, removes the
//     credential from the request.
//
// A failure is returned as a [*Failure]: the problem (from an authenticator
// as it is; any other error is 503 authn_unavailable, fail closed) and the
// credentials the request carried. New fails if the route enables a method
// whose authenticator is nil.
func New(cfg *config.Config, route *config.Route, auth Authenticators) (pipeline.Middleware, error) {
	a := route.Authn
	s := &stage{
		x: extractor{
			bearerQuery:  a.BearerQuery,
			bearerCookie: string(cookieKey(nil, a.BearerCookie)),
			apiKeyHeader: http.CanonicalHeaderKey(cfg.Authn.APIKeys.Header),
		},
		anon:           a.Anonymous,
		hide:           a.HideCredentials == nil || *a.HideCredentials,
		identity:       auth.Identity,
		issuerHeaders:  map[string][]claimHeader{},
		consumerHeader: http.CanonicalHeaderKey(cfg.Authn.APIKeys.ConsumerHeader),
	}
	if s.x.apiKeyHeader == "" {
		return nil, fmt.Errorf("route %q: authn.api_keys.header is empty", route.Name)
	}
	if a.APIKeyQuery {
		s.x.apiKeyQuery = cfg.Authn.APIKeys.Query
	}
	enabled := map[string]pipeline.Authenticator{}
	for _, m := range a.Methods {
		var have pipeline.Authenticator
		switch m {
		case policy.MethodClientCert:
			if auth.ClientCert == nil {
				return nil, fmt.Errorf("route %q: authn method %s is enabled but not configured", route.Name, m)
			}
			s.clientCert, s.x.clientCert = auth.ClientCert, true
			continue
		case policy.MethodJWT:
			have = auth.JWT
		case policy.MethodIntrospection:
			have = auth.Introspection
		case policy.MethodAPIKey:
			have = auth.APIKey
		default:
			return nil, fmt.Errorf("route %q: unknown authn method %q", route.Name, m)
		}
		if have == nil {
			return nil, fmt.Errorf("route %q: authn method %s is enabled but not configured", route.Name, m)
		}
		enabled[m] = have
	}
	s.jwsChain = chain(enabled[policy.MethodJWT], enabled[policy.MethodIntrospection])
	s.opaqueChain = chain(enabled[policy.MethodIntrospection])
	s.apiKeyChain = chain(enabled[policy.MethodAPIKey])
	for _, is := range cfg.Authn.JWT.Issuers {
		s.issuerHeaders[is.Issuer] = claimHeaders(is.ClaimsToHeaders)
	}
	if in := cfg.Authn.Introspection; in != nil {
		s.introHeaders = claimHeaders(in.ClaimsToHeaders)
	}
	return s.middleware, nil
}

func (s *stage) middleware(next pipeline.Handler) pipeline.Handler {
	return pipeline.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		rq := pipeline.FromContext(r.Context())
		in, edits := input.Part.Of(rq), header.EditsPart.Of(rq)
		if in == nil || edits == nil {
			return errors.New("authn: request has no pipeline state")
		}
		s.identity.DeleteFrom(r.Header)
		id, f, err := s.authenticate(r, IdentityPart.Of(rq))
		if err != nil {
			return &Failure{Err: err, Presented: s.x.presented(r)}
		}
		in.Identity = id
		if f.cred.Kind != "" {
			s.setHeaders(edits, id)
			if s.hide {
				hide(r, f)
			}
		}
		return next.ServeHTTP(w, r)
	})
}

// authenticate returns the identity and the credential it came from (the
// zero found, of no kind, for an anonymous request). The credential is
// returned by value: a pointer would put it on the heap on every request.
// dst is the request's storage for the identity (nil: none).
func (s *stage) authenticate(r *http.Request, dst *policy.Identity) (*policy.Identity, found, error) {
	f, ok, p := s.x.extract(r)
	switch {
	case p != nil:
		return nil, found{}, p
	case !ok && s.anon:
		return policy.Anonymous(), found{}, nil
	case !ok:
		// RFC 6750 §3.1: no error attribute when no credential was sent.
		return nil, found{}, problem.New(http.StatusUnauthorized, ReasonMissing, "authentication is required").
			WithHeader("WWW-Authenticate", "Bearer")
	}
	if f.cred.Kind == kindClientCert { // extracted only where the route enables it
		id, err := s.clientCert.Authenticate(r.TLS.VerifiedChains)
		if id, err = settle(id, err); err != nil {
			return nil, found{}, err
		}
		return id, f, nil
	}
	verifiers := s.authenticators(f)
	if len(verifiers) == 0 {
		return nil, found{}, s.notAllowed(f.cred)
	}
	for _, v := range verifiers {
		id, err := v.authenticate(r.Context(), f.cred, dst)
		if errors.Is(err, pipeline.ErrNoCredential) {
			continue
		}
		if id, err = settle(id, err); err != nil {
			return nil, found{}, err
		}
		return id, f, nil
	}
	return nil, found{}, problem.Unauthorized(ReasonUnsupported, "the credential is not of a supported kind", nil)
}

// settle is an authenticator's answer as the stage returns it: an
// identity, its problem, or 503 authn_unavailable for anything else
// (fail closed).
func settle(id *policy.Identity, err error) (*policy.Identity, error) {
	switch {
	case err == nil && id != nil:
		return id, nil
	case err == nil:
		return nil, problem.Wrap(http.StatusServiceUnavailable, ReasonUnavailable, "authentication is unavailable",
			errors.New("authenticator returned no identity and no error"))
	case problem.As(err) != nil:
		return nil, err
	default:
		return nil, problem.Wrap(http.StatusServiceUnavailable, ReasonUnavailable, "authentication is unavailable", err)
	}
}

// authenticators lists, in order, the verifiers enabled on the route for
// the credential f. An empty list means the route enables no
// method for this kind of credential.
func (s *stage) authenticators(f found) []verifier {
	switch cred := f.cred; {
	case cred.Kind == kindAPIKey:
		return s.apiKeyChain
	case cred.Kind == kindBearer && f.jws:
		return s.jwsChain
	case cred.Kind == kindBearer:
		return s.opaqueChain
	}
	return nil
}

// chain drops the nil authenticators.
func chain(as ...pipeline.Authenticator) []verifier {
	var out []verifier
	for _, a := range as {
		if a != nil {
			into, _ := a.(IntoAuthenticator)
			out = append(out, verifier{a, into})
		}
	}
	return out
}

// notAllowed is the answer to a credential no enabled method takes: a
// bearer token on a route that verifies bearer tokens, but not this kind
// (an opaque token where only JWTs are accepted), is unsupported; any other
// credential is of a method the route does not enable.
func (s *stage) notAllowed(cred pipeline.Credential) *problem.Problem {
	if cred.Kind == kindBearer && len(s.jwsChain) > 0 {
		return problem.Unauthorized(ReasonUnsupported, "the bearer token is not a JWT", nil)
	}
	return problem.Unauthorized(ReasonMethodNotAllowed, "this route does not accept this kind of credential", nil)
}

// setHeaders queues the identity headers for the upstream request.
func (s *stage) setHeaders(edits *header.Edits, id *policy.Identity) {
	var chs []claimHeader
	switch id.Method {
	case policy.MethodJWT:
		chs = s.issuerHeaders[id.Issuer]
	case policy.MethodIntrospection:
		chs = s.introHeaders
	case policy.MethodAPIKey, policy.MethodClientCert:
		if v := stripControl(id.Consumer); v != "" {
			edits.Set(s.consumerHeader, v)
		}
		return
	}
	for _, ch := range chs {
		if v, ok := claimValue(id.Claims[ch.claim]); ok && v != "" {
			edits.Set(ch.header, v)
		}
	}
}

// Failure is a failed authentication: the problem to send (Err) and the
// credentials the request carried, kind and source only, for the decision log.
type Failure struct {
	Err       error
	Presented []pipeline.Presented
}

func (f *Failure) Error() string { return f.Err.Error() }
func (f *Failure) Unwrap() error { return f.Err }
