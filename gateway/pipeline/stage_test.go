package pipeline

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func pass(next Handler) Handler { return next }

func TestBuildRefusesAWrongOrder(t *testing.T) {
	t.Parallel()
	authn := Stage{Name: StageAuthn, Middleware: pass}
	body := Stage{Name: StageBody, Needs: []StageName{StageAuthn}, Middleware: pass}
	validate := Stage{Name: StageValidate, Needs: []StageName{StageBody}, Middleware: pass}
	authz := Stage{Name: StageAuthz, Needs: []StageName{StageAuthn}, After: []StageName{StageValidate}, Middleware: pass}
	enforce := Stage{Name: StageEnforce, Needs: []StageName{StageValidate, StageAuthz}, Middleware: pass}
	left := func(s Stage) Stage { s.Middleware = nil; return s }
	for _, tc := range []struct {
		name    string
		stages  []Stage
		wantErr string
	}{
		{"the route's order is accepted", []Stage{authn, body, validate, authz, enforce}, ""},
		{"a stage left out needs nothing", []Stage{authn, body, left(validate), authz, left(enforce)}, ""},
		{"reading the body before authentication is refused", []Stage{body, authn, validate, authz, enforce}, "stage body needs authn before it"},
		{"validation before the body is read is refused", []Stage{authn, validate, body, authz, enforce}, "stage validate needs body before it"},
		{"validation without the body stage is refused", []Stage{authn, left(body), validate, authz, enforce}, "stage validate needs body before it"},
		{"authorization before validation is refused", []Stage{authn, body, authz, validate, enforce}, "stage authz must run after validate"},
		{"enforcing before authorization is refused", []Stage{authn, body, validate, enforce, authz}, "stage enforce needs authz before it"},
		{"a stage twice is refused", []Stage{authn, authn, body}, "stage authn appears twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h, err := Build(HandlerFunc(func(http.ResponseWriter, *http.Request) error { return nil }), tc.stages...)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("Build: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("Build error %v, want %q", err, tc.wantErr)
			case tc.wantErr != "" && h != nil:
				t.Fatal("Build returned a chain with its error")
			}
		})
	}
}

func TestBuildRunsTheStagesInOrderBeforeTheLast(t *testing.T) {
	t.Parallel()
	var got []string
	mark := func(name string) Middleware {
		return func(next Handler) Handler {
			return HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
				got = append(got, name)
				return next.ServeHTTP(w, r)
			})
		}
	}
	h, err := Build(HandlerFunc(func(http.ResponseWriter, *http.Request) error { got = append(got, "proxy"); return nil }),
		Stage{Name: StageGuard, Middleware: mark("guard")},
		Stage{Name: StageAuthn, Middleware: mark("authn")},
		Stage{Name: StageAuthz, Needs: []StageName{StageAuthn}, Middleware: mark("authz")})
	if err != nil {
		t.Fatal(err)
	}
	_ = h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	if strings.Join(got, ",") != "guard,authn,authz,proxy" {
		t.Fatalf("ran %v", got)
	}
}
