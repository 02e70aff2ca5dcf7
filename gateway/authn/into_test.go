package authn

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/portcullis/portcullis/gateway/config"
	"github.com/portcullis/portcullis/gateway/header"
	"github.com/portcullis/portcullis/gateway/pipeline"
	"github.com/portcullis/portcullis/policy"
)

// intoAuth is an IntoAuthenticator that tells which of its methods ran.
type intoAuth struct {
	id          *policy.Identity
	into, plain int
}

func (a *intoAuth) Authenticate(context.Context, pipeline.Credential) (*policy.Identity, error) {
	a.plain++
	return a.id, nil
}

func (a *intoAuth) AuthenticateInto(_ context.Context, _ pipeline.Credential, dst *policy.Identity) (*policy.Identity, error) {
	a.into++
	*dst = *a.id
	return dst, nil
}

// TestIdentityPart: with the part bound, an IntoAuthenticator writes the
// identity there and the stage publishes that storage; without it, or for
// an authenticator that is not one, Authenticate answers as before.
func TestIdentityPart(t *testing.T) {
	jwtID, _, _ := fakes()
	for _, tc := range []struct {
		name       string
		bind, into bool
	}{
		{"bound, an IntoAuthenticator", true, true},
		{"unbound", false, true},
		{"bound, a plain Authenticator", true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := &intoAuth{id: jwtID.id}
			var auth pipeline.Authenticator = a
			if !tc.into {
				auth = benchAuth{jwtID.id}
			}
			mw, err := New(testConfig(), &config.Route{Name: "r", Authn: methods(policy.MethodJWT)},
				Authenticators{JWT: auth, Identity: header.NewSet(IdentityHeaders(testConfig())...)})
			if err != nil {
				t.Fatal(err)
			}
			st, storage := newTestState(), new(policy.Identity)
			if tc.bind {
				IdentityPart.Bind(&st.rq, storage)
			}
			h := mw(pipeline.HandlerFunc(func(http.ResponseWriter, *http.Request) error { return nil }))
			if err := h.ServeHTTP(httptest.NewRecorder(), st.with(req("/", "Authorization", "Bearer "+jws))); err != nil {
				t.Fatal(err)
			}
			got := st.Identity
			if got == nil || got.Subject != "alice" || got.Method != policy.MethodJWT {
				t.Fatalf("identity %+v", got)
			}
			wantInto := tc.bind && tc.into
			if (got == storage) != wantInto {
				t.Errorf("identity in the part: %v, want %v", got == storage, wantInto)
			}
			if tc.into && (a.into == 1) != wantInto || tc.into && a.into+a.plain != 1 {
				t.Errorf("AuthenticateInto ran %d times, Authenticate %d", a.into, a.plain)
			}
		})
	}
}
