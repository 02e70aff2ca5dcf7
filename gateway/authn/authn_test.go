package authn

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/portcullis/portcullis/gateway/config"
	"github.com/portcullis/portcullis/gateway/header"
	"github.com/portcullis/portcullis/gateway/pipeline"
	"github.com/portcullis/portcullis/gateway/problem"
	"github.com/portcullis/portcullis/policy"
)

const (
	jws    = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl"
	opaque = "2YotnFZFEjr1zCsicMWpAA"
	issuer = "https://idp.test"
)

// fakeAuth answers with id or err and records the credentials it saw.
type fakeAuth struct {
	id  *policy.Identity
	err error

	mu  sync.Mutex
	got []pipeline.Credential
}

func (f *fakeAuth) Authenticate(_ context.Context, c pipeline.Credential) (*policy.Identity, error) {
	f.mu.Lock()
	f.got = append(f.got, c)
	f.mu.Unlock()
	return f.id, f.err
}

func (f *fakeAuth) calls() []pipeline.Credential {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.got)
}

func fakes() (jwt, intro, key *fakeAuth) {
	jwt = &fakeAuth{id: &policy.Identity{Authenticated: true, Method: policy.MethodJWT, Issuer: issuer, Subject: "alice",
		Claims: map[string]any{"sub": "alice", "groups": []any{"admin", "dev"}, "tenant": "t1\r\nX-Evil: 1",
			"address": map[string]any{"city": "x"}}}}
	intro = &fakeAuth{id: &policy.Identity{Authenticated: true, Method: policy.MethodIntrospection, Subject: "bob",
		Claims: map[string]any{"sub": "bob"}}}
	key = &fakeAuth{id: &policy.Identity{Authenticated: true, Method: policy.MethodAPIKey, Consumer: "partner", Subject: "partner"}}
	return
}

func testConfig() *config.Config {
	cfg := &config.Config{}
	cfg.Authn.JWT.Issuers = []config.Issuer{{Issuer: issuer,
		ClaimsToHeaders: map[string]string{"sub": "X-User", "groups": "X-Groups", "tenant": "x-tenant", "address": "X-Address"}}}
	cfg.Authn.Introspection = &config.Introspection{ClaimsToHeaders: map[string]string{"sub": "X-Introspected-User"}}
	cfg.Authn.APIKeys = config.APIKeys{Header: "X-API-Key", Query: "apikey", ConsumerHeader: "X-Consumer-Username"}
	return cfg
}

// seen is what the next handler observed.
type seen struct {
	ran    bool
	header http.Header
	query  string
}

type result struct {
	err  error
	st   *testState
	next seen
	jwt  *fakeAuth
	in   *fakeAuth
	key  *fakeAuth
}

func run(t *testing.T, ra config.RouteAuthn, r *http.Request, edit func(jwt, in, key *fakeAuth)) result {
	t.Helper()
	jwt, in, key := fakes()
	if edit != nil {
		edit(jwt, in, key)
	}
	route := &config.Route{Name: "r", Authn: ra}
	mw, err := New(testConfig(), route, Authenticators{JWT: jwt, Introspection: in, APIKey: key, Identity: header.NewSet(IdentityHeaders(testConfig())...)})
	if err != nil {
		t.Fatal(err)
	}
	res := result{st: newTestState(), jwt: jwt, in: in, key: key}
	h := mw(pipeline.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		res.next = seen{ran: true, header: r.Header.Clone(), query: r.URL.RawQuery}
		return nil
	}))
	res.err = h.ServeHTTP(httptest.NewRecorder(), res.st.with(r))
	res.st.done(res.err)
	return res
}

func req(target string, headers ...string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, target, nil)
	for i := 0; i+1 < len(headers); i += 2 {
		r.Header.Add(headers[i], headers[i+1])
	}
	return r
}

func methods(m ...string) config.RouteAuthn { return config.RouteAuthn{Methods: m} }

func wantProblem(t *testing.T, res result, status int, reason string) *problem.Problem {
	t.Helper()
	p := problem.As(res.err)
	if p == nil || p.Status != status || string(p.Reason) != reason {
		t.Fatalf("got %v, want %d %s", res.err, status, reason)
	}
	if res.next.ran {
		t.Fatal("next ran after a failure")
	}
	if string(res.st.Reason) != reason {
		t.Errorf("State.Reason = %q, want %q", res.st.Reason, reason)
	}
	return p
}

func TestRejections(t *testing.T) {
	t.Parallel()
	all := methods("jwt", "introspection", "api_key")
	withQuery := all
	withQuery.BearerQuery = "access_token"
	withQuery.APIKeyQuery = true
	tests := []struct {
		name   string
		ra     config.RouteAuthn
		r      *http.Request
		reason string
	}{
		{"two Authorization headers get 401 ambiguous", all, req("/", "Authorization", "Bearer "+jws, "Authorization", "Bearer "+opaque), ReasonAmbiguous},
		{"a header token and a query token get 401 ambiguous", withQuery, req("/?access_token="+opaque, "Authorization", "Bearer "+jws), ReasonAmbiguous},
		{"the same token in header and query gets 401 ambiguous", withQuery, req("/?access_token="+jws, "Authorization", "Bearer "+jws), ReasonAmbiguous},
		{"a bearer token and an API key get 401 ambiguous", all, req("/", "Authorization", "Bearer "+jws, "X-API-Key", "k"), ReasonAmbiguous},
		{"two API-key headers get 401 ambiguous", all, req("/", "X-API-Key", "a", "X-API-Key", "b"), ReasonAmbiguous},
		{"an underscore API-key header beside the dashed one gets 401 ambiguous", all, req("/", "X-API-Key", "a", "X_API_Key", "b"), ReasonAmbiguous},
		{"a lower-case underscore API-key header beside the dashed one gets 401 ambiguous", all, req("/", "x_api_key", "b", "X-Api-Key", "a"), ReasonAmbiguous},
		{"two underscore spellings of the API-key header get 401 ambiguous", all, req("/", "X-Api_Key", "a", "X_API-KEY", "b"), ReasonAmbiguous},
		{"an underscore API key and a bearer token get 401 ambiguous", all, req("/", "Authorization", "Bearer "+jws, "X_Api_Key", "k"), ReasonAmbiguous},
		{"a folded API-key header gets 401 malformed", all, req("/", "X-API-Key", "a, b"), ReasonMalformed},
		{"two API-key parameters get 401 ambiguous", withQuery, req("/?apikey=a&apikey=b"), ReasonAmbiguous},
		{"an encoded duplicate parameter name gets 401 ambiguous", withQuery, req("/?apikey=a&api%6Bey=b"), ReasonAmbiguous},
		{"an API-key header and parameter get 401 ambiguous", withQuery, req("/?apikey=a", "X-API-Key", "a"), ReasonAmbiguous},
		{"the Basic scheme gets 401 malformed", all, req("/", "Authorization", "Basic dXNlcjpwYXNz"), ReasonMalformed},
		{"a bare Bearer gets 401 malformed", all, req("/", "Authorization", "Bearer"), ReasonMalformed},
		{"a token with a space gets 401 malformed", all, req("/", "Authorization", "Bearer a b"), ReasonMalformed},
		{"an empty Authorization header gets 401 malformed", all, req("/", "Authorization", ""), ReasonMalformed},
		{"an API key on a JWT-only route gets 401 method not allowed", methods("jwt"), req("/", "X-API-Key", "k"), ReasonMethodNotAllowed},
		{"a bearer token on an API-key route gets 401 method not allowed", methods("api_key"), req("/", "Authorization", "Bearer "+jws), ReasonMethodNotAllowed},
		{"a credential on an anonymous-only route gets 401 method not allowed", config.RouteAuthn{Anonymous: true}, req("/", "Authorization", "Bearer "+jws), ReasonMethodNotAllowed},
		{"an opaque token on a JWT-only route gets 401 unsupported", methods("jwt"), req("/", "Authorization", "Bearer "+opaque), ReasonUnsupported},
		{"a query token where the route does not enable it is no credential", methods("jwt"), req("/?access_token=" + jws), ReasonMissing},
		{"an API-key parameter where the route does not enable it is no credential", methods("api_key"), req("/?apikey=k"), ReasonMissing},
		{"a cookie token where the route does not enable it is no credential", methods("jwt"), req("/", "Cookie", "at="+jws), ReasonMissing},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			res := run(t, tc.ra, tc.r, nil)
			p := wantProblem(t, res, http.StatusUnauthorized, tc.reason)
			if p.Header.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
			if n := len(res.jwt.calls()) + len(res.in.calls()) + len(res.key.calls()); n != 0 {
				t.Errorf("%d authenticator calls, want none", n)
			}
		})
	}
}

func TestMissingCredential(t *testing.T) {
	t.Parallel()
	res := run(t, methods("jwt"), req("/"), nil)
	p := wantProblem(t, res, http.StatusUnauthorized, ReasonMissing)
	if got := p.Header.Get("WWW-Authenticate"); got != "Bearer" {
		t.Errorf("WWW-Authenticate = %q, want Bearer without error (RFC 6750 §3.1)", got)
	}
}

func TestAnonymousRoute(t *testing.T) {
	t.Parallel()
	ra := methods("jwt")
	ra.Anonymous = true
	res := run(t, ra, req("/?access_token=x", "X-User", "admin", "X-Consumer-Username", "root", "X-Introspected-User", "x"), nil)
	if res.err != nil || !res.next.ran {
		t.Fatalf("err %v, next ran %v", res.err, res.next.ran)
	}
	if id := res.st.Input.Identity; id == nil || id.Method != policy.MethodAnonymous || id.Authenticated {
		t.Fatalf("identity %+v, want anonymous", id)
	}
	for _, h := range []string{"X-User", "X-Consumer-Username", "X-Introspected-User"} {
		if v := res.next.header.Get(h); v != "" {
			t.Errorf("spoofed %s: %q reached next", h, v)
		}
	}
	if len(res.st.SetHeaders) != 0 {
		t.Errorf("identity headers queued for an anonymous request: %v", res.st.SetHeaders)
	}
}

// TestIdentityHeadersInEverySpelling: a backend that folds "_" into "-"
// (CGI, WSGI, PHP, Rack) must not read a client's X_User as the gateway's
// X-User, on an anonymous route or an authenticated one.
func TestIdentityHeadersInEverySpelling(t *testing.T) {
	t.Parallel()
	ra := methods("api_key")
	ra.Anonymous = true
	spoofs := []string{"X_User", "x_user", "X-USER", "x_consumer_username", "X-Consumer_Username", "X_INTROSPECTED_USER", "x-introspected_user", "X_Groups"}
	for _, cred := range [][]string{nil, {"X-API-Key", "pk_abc"}, {"X_API_Key", "pk_abc"}} {
		var hs []string
		for _, h := range spoofs {
			hs = append(hs, h, "admin")
		}
		r := req("/", append(hs, cred...)...)
		res := run(t, ra, r, nil)
		if res.err != nil || !res.next.ran {
			t.Fatalf("%v: err %v", cred, res.err)
		}
		for k := range res.next.header {
			for _, id := range []string{"X-User", "X-Consumer-Username", "X-Introspected-User", "X-Groups", "X-Api-Key"} {
				if header.Equal(k, id) {
					t.Errorf("%v: %s reached next", cred, k)
				}
			}
		}
	}
}

func TestSuccess(t *testing.T) {
	t.Parallel()
	hideOff := false
	tests := []struct {
		name      string
		ra        config.RouteAuthn
		r         *http.Request
		edit      func(jwt, in, key *fakeAuth)
		via       func(res result) *fakeAuth
		cred      pipeline.Credential
		set       map[string]string
		hidden    []string // headers next must not see
		kept      map[string]string
		wantQuery string
	}{
		{
			name: "a JWT in the header sets claim headers and is hidden",
			ra:   methods("jwt", "introspection"),
			r:    req("/", "Authorization", "Bearer "+jws, "X-User", "mallory", "X-Groups", "root"),
			via:  func(res result) *fakeAuth { return res.jwt },
			cred: pipeline.Credential{Kind: "bearer", Source: "header", Value: jws},
			set:  map[string]string{"X-User": "alice", "X-Groups": "admin,dev", "X-Tenant": "t1X-Evil: 1"},
			// X-Address is an object claim: skipped. X-User etc.: spoofed values gone.
			hidden: []string{"Authorization", "X-User", "X-Groups", "X-Address"},
		},
		{
			name: "the bearer scheme is case-insensitive",
			ra:   methods("jwt"),
			r:    req("/", "Authorization", "bEaReR   "+jws),
			via:  func(res result) *fakeAuth { return res.jwt },
			cred: pipeline.Credential{Kind: "bearer", Source: "header", Value: jws},
		},
		{
			name:   "an opaque token goes to introspection",
			ra:     methods("jwt", "introspection"),
			r:      req("/", "Authorization", "Bearer "+opaque),
			via:    func(res result) *fakeAuth { return res.in },
			cred:   pipeline.Credential{Kind: "bearer", Source: "header", Value: opaque},
			set:    map[string]string{"X-Introspected-User": "bob"},
			hidden: []string{"Authorization"},
		},
		{
			name: "a JWS the JWT verifier declines goes to introspection",
			ra:   methods("jwt", "introspection"),
			r:    req("/", "Authorization", "Bearer "+jws),
			edit: func(jwt, in, key *fakeAuth) { jwt.id, jwt.err = nil, pipeline.ErrNoCredential },
			via:  func(res result) *fakeAuth { return res.in },
			cred: pipeline.Credential{Kind: "bearer", Source: "header", Value: jws},
		},
		{
			name:   "an API key in the header sets the consumer header and is hidden",
			ra:     methods("api_key"),
			r:      req("/", "X-API-Key", "pk_abc", "X-Consumer-Username", "admin"),
			via:    func(res result) *fakeAuth { return res.key },
			cred:   pipeline.Credential{Kind: "api_key", Source: "header", Value: "pk_abc"},
			set:    map[string]string{"X-Consumer-Username": "partner"},
			hidden: []string{"X-API-Key", "X-Consumer-Username"},
		},
		{
			name:      "an API key in the query is accepted when enabled and hidden",
			ra:        config.RouteAuthn{Methods: []string{"api_key"}, APIKeyQuery: true},
			r:         req("/?a=1&apikey=pk_abc&b=%20x"),
			via:       func(res result) *fakeAuth { return res.key },
			cred:      pipeline.Credential{Kind: "api_key", Source: "query", Value: "pk_abc"},
			wantQuery: "a=1&b=%20x",
		},
		{
			name:      "a bearer token in the query is accepted when enabled and hidden",
			ra:        config.RouteAuthn{Methods: []string{"jwt"}, BearerQuery: "access_token"},
			r:         req("/?access_token=" + jws + "&page=2"),
			via:       func(res result) *fakeAuth { return res.jwt },
			cred:      pipeline.Credential{Kind: "bearer", Source: "query", Value: jws},
			wantQuery: "page=2",
		},
		{
			name: "a bearer token in a cookie is accepted when enabled and hidden",
			ra:   config.RouteAuthn{Methods: []string{"jwt"}, BearerCookie: "at"},
			r:    req("/", "Cookie", "session=abc; at="+jws+"; theme=dark"),
			via:  func(res result) *fakeAuth { return res.jwt },
			cred: pipeline.Credential{Kind: "bearer", Source: "cookie", Value: jws},
			kept: map[string]string{"Cookie": "session=abc; theme=dark"},
		},
		{
			name: "with hide_credentials off the credential is forwarded",
			ra:   config.RouteAuthn{Methods: []string{"jwt"}, HideCredentials: &hideOff},
			r:    req("/", "Authorization", "Bearer "+jws),
			via:  func(res result) *fakeAuth { return res.jwt },
			cred: pipeline.Credential{Kind: "bearer", Source: "header", Value: jws},
			kept: map[string]string{"Authorization": "Bearer " + jws},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			res := run(t, tc.ra, tc.r, tc.edit)
			if res.err != nil || !res.next.ran {
				t.Fatalf("err %v, next ran %v", res.err, res.next.ran)
			}
			if got := tc.via(res).calls(); len(got) != 1 || got[0] != tc.cred {
				t.Fatalf("authenticator saw %+v, want %+v", got, tc.cred)
			}
			if res.st.Input.Identity == nil || !res.st.Input.Identity.Authenticated {
				t.Fatalf("identity %+v", res.st.Input.Identity)
			}
			for h, v := range tc.set {
				if got := res.st.SetHeaders.Get(h); got != v {
					t.Errorf("queued %s = %q, want %q", h, got, v)
				}
			}
			if tc.set != nil && len(res.st.SetHeaders) != len(tc.set) {
				t.Errorf("queued headers %v, want exactly %v", res.st.SetHeaders, tc.set)
			}
			for _, h := range tc.hidden {
				if v := res.next.header.Values(h); len(v) != 0 {
					t.Errorf("next saw %s: %q", h, v)
				}
			}
			for h, v := range tc.kept {
				if got := res.next.header.Get(h); got != v {
					t.Errorf("next saw %s = %q, want %q", h, got, v)
				}
			}
			if res.next.query != tc.wantQuery {
				t.Errorf("next saw query %q, want %q", res.next.query, tc.wantQuery)
			}
		})
	}
}

func TestAuthenticatorErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		err    error
		status int
		reason string
	}{
		{"a problem from the authenticator is returned as it is", problem.Unauthorized("token_expired", "expired", nil), 401, "token_expired"},
		{"any other error fails closed with 503", errors.New("jwks down"), 503, ReasonUnavailable},
		{"no identity and no error fails closed with 503", nil, 503, ReasonUnavailable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			res := run(t, methods("jwt"), req("/", "Authorization", "Bearer "+jws), func(jwt, in, key *fakeAuth) {
				jwt.id, jwt.err = nil, tc.err
			})
			wantProblem(t, res, tc.status, tc.reason)
		})
	}
}

func TestNewRejectsUnconfiguredMethods(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		m    string
		want string
	}{
		{"jwt without a JWT authenticator", "jwt", "authn method jwt is enabled but not configured"},
		{"an unknown method", "basic", `unknown authn method "basic"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := New(testConfig(), &config.Route{Name: "r", Authn: methods(tc.m)}, Authenticators{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
}

func TestExportedLocations(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	route := &config.Route{Authn: config.RouteAuthn{BearerQuery: "access_token"}}
	if got, want := IdentityHeaders(cfg), []string{"X-Address", "X-Consumer-Username", "X-Groups", "X-Introspected-User", "X-Tenant", "X-User"}; !slices.Equal(got, want) {
		t.Errorf("IdentityHeaders = %v, want %v", got, want)
	}
	if got, want := CredentialHeaders(cfg, route), []string{"Authorization", "Cookie", "X-Api-Key"}; !slices.Equal(got, want) {
		t.Errorf("CredentialHeaders = %v, want %v", got, want)
	}
	if got, want := CredentialQuery(cfg, route), []string{"apikey", "access_token"}; !slices.Equal(got, want) {
		t.Errorf("CredentialQuery = %v, want %v", got, want)
	}
}

func TestClaimValue(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   any
		want string
		ok   bool
	}{
		{"a string is kept", "a b", "a b", true},
		{"CR LF and NUL are stripped", "a\r\nb\x00c", "abc", true},
		{"a float is formatted without exponent", 1700000000.0, "1700000000", true},
		{"a bool is formatted", true, "true", true},
		{"an array is comma-joined", []any{"a", 1.5, map[string]any{}}, "a,1.5", true},
		{"an object is skipped", map[string]any{"a": 1}, "", false},
		{"null is skipped", nil, "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, ok := claimValue(tc.in)
			if got != tc.want || ok != tc.ok {
				t.Fatalf("claimValue(%v) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
			}
		})
	}
}

func BenchmarkStage(b *testing.B) {
	jwt, _, _ := fakes()
	hideOff := false
	mw, err := New(testConfig(), &config.Route{Name: "r", Authn: config.RouteAuthn{Methods: []string{"jwt"}, HideCredentials: &hideOff}},
		Authenticators{JWT: benchAuth{jwt.id}, Identity: header.NewSet(IdentityHeaders(testConfig())...)})
	if err != nil {
		b.Fatal(err)
	}
	h := mw(pipeline.HandlerFunc(func(http.ResponseWriter, *http.Request) error { return nil }))
	st := newTestState()
	r := req("/", "Authorization", "Bearer "+jws)
	r = st.with(r)
	w := httptest.NewRecorder()
	b.ReportAllocs()
	for b.Loop() {
		st.edits = header.Edits{}
		if err := h.ServeHTTP(w, r); err != nil {
			b.Fatal(err)
		}
	}
}

// benchAuth is a fakeAuth without the recording.
type benchAuth struct{ id *policy.Identity }

func (a benchAuth) Authenticate(context.Context, pipeline.Credential) (*policy.Identity, error) {
	return a.id, nil
}
