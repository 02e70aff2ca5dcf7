package cors

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/gateway/config"
	"github.com/portcullis/portcullis/gateway/pipeline"
	"github.com/portcullis/portcullis/gateway/problem"
)

func mustPolicy(t testing.TB, c config.RouteCORS) *Policy {
	t.Helper()
	p, err := New(&c)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

var partner = config.RouteCORS{
	AllowOrigins:  []string{"http://localhost:3000", "https://*.example.com"},
	AllowMethods:  []string{"GET", "POST", "DELETE"},
	AllowHeaders:  []string{"Authorization", "Content-Type"},
	ExposeHeaders: []string{"X-Request-Id", "X-Total"},
	MaxAge:        10 * time.Minute,
}

// upstream answers like a backend that does CORS on its own, badly.
func upstream(ran *bool) pipeline.Handler {
	return pipeline.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		*ran = true
		w.Header().Set("Access-Control-Allow-Origin", "*")
		w.Header()["access-control-allow-methods"] = []string{"*"}
		w.Header().Add("Vary", "Accept-Encoding")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte("ok"))
		return nil
	})
}

func TestPreflight(t *testing.T) {
	t.Parallel()
	creds := partner
	creds.AllowCredentials = true
	creds.MaxAge = 0
	for _, tc := range []struct {
		name    string
		cfg     config.RouteCORS
		header  map[string]string
		want    map[string]string // "" means absent
		wantErr bool
	}{
		{"an allowed preflight gets 204 with the policy's headers", partner,
			map[string]string{"Origin": "http://localhost:3000", "Access-Control-Request-Method": "DELETE", "Access-Control-Request-Headers": "authorization,content-type"},
			map[string]string{"Access-Control-Allow-Origin": "http://localhost:3000", "Access-Control-Allow-Methods": "GET, POST, DELETE",
				"Access-Control-Allow-Headers": "Authorization, Content-Type", "Access-Control-Max-Age": "600", "Access-Control-Allow-Credentials": "",
				"Vary": "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"}, false},
		{"a wildcard subdomain is echoed", partner,
			map[string]string{"Origin": "https://app.example.com", "Access-Control-Request-Method": "GET"},
			map[string]string{"Access-Control-Allow-Origin": "https://app.example.com"}, false},
		{"credentials are allowed when set, and no max age is sent for 0", creds,
			map[string]string{"Origin": "http://localhost:3000", "Access-Control-Request-Method": "POST"},
			map[string]string{"Access-Control-Allow-Credentials": "true", "Access-Control-Max-Age": ""}, false},
		{"a safelisted method passes whatever the list", config.RouteCORS{AllowOrigins: []string{"http://localhost:3000"}},
			map[string]string{"Origin": "http://localhost:3000", "Access-Control-Request-Method": "HEAD"},
			map[string]string{"Access-Control-Allow-Origin": "http://localhost:3000", "Access-Control-Allow-Methods": "", "Access-Control-Allow-Headers": ""}, false},
		{"header names compare without regard to case or spacing", partner,
			map[string]string{"Origin": "http://localhost:3000", "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": " AUTHORIZATION , ,Content-Type"},
			map[string]string{"Access-Control-Allow-Origin": "http://localhost:3000"}, false},
		{"a disallowed origin is rejected", partner,
			map[string]string{"Origin": "https://example.com", "Access-Control-Request-Method": "GET"}, nil, true},
		{"a method not listed is rejected", partner,
			map[string]string{"Origin": "http://localhost:3000", "Access-Control-Request-Method": "PUT"}, nil, true},
		{"methods compare case-sensitively", partner,
			map[string]string{"Origin": "http://localhost:3000", "Access-Control-Request-Method": "delete"}, nil, true},
		{"an unlisted header is rejected", partner,
			map[string]string{"Origin": "http://localhost:3000", "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "authorization,x-debug"}, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ran := false
			h := mustPolicy(t, tc.cfg).Middleware(upstream(&ran))
			r := httptest.NewRequest(http.MethodOptions, "/public", nil)
			for k, v := range tc.header {
				r.Header.Set(k, v)
			}
			w := httptest.NewRecorder()
			err := h.ServeHTTP(w, r)
			if ran {
				t.Fatal("a preflight reached the upstream")
			}
			if tc.wantErr {
				p := problem.As(err)
				if p == nil || p.Status != http.StatusForbidden || p.Reason != ReasonRejected {
					t.Fatalf("err = %v, want 403 cors_rejected", err)
				}
				for k := range p.Header {
					if strings.HasPrefix(k, "Access-Control-") {
						t.Fatalf("a rejection carries %s", k)
					}
				}
				if len(w.Header()) != 0 || w.Code != http.StatusOK || w.Body.Len() != 0 {
					t.Fatalf("a rejection wrote %d %v", w.Code, w.Header())
				}
				return
			}
			if a, ok := err.(*pipeline.Answered); !ok || a.Reason != ReasonPreflight || w.Code != http.StatusNoContent {
				t.Fatalf("got %d, %v; want 204 answered cors_preflight", w.Code, err)
			}
			for k, v := range tc.want {
				if got := strings.Join(w.Header().Values(k), ", "); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
		})
	}
}

func TestActualRequest(t *testing.T) {
	t.Parallel()
	creds := partner
	creds.AllowCredentials = true
	for _, tc := range []struct {
		name    string
		cfg     config.RouteCORS
		origins []string
		want    map[string]string
	}{
		{"an allowed origin gets its headers and the upstream's are replaced", partner, []string{"https://a.example.com"},
			map[string]string{"Access-Control-Allow-Origin": "https://a.example.com", "Access-Control-Expose-Headers": "X-Request-Id, X-Total",
				"Access-Control-Allow-Credentials": "", "Access-Control-Allow-Methods": "", "Vary": "Origin, Accept-Encoding"}},
		{"credentials are allowed when set", creds, []string{"http://localhost:3000"},
			map[string]string{"Access-Control-Allow-Origin": "http://localhost:3000", "Access-Control-Allow-Credentials": "true"}},
		{"a disallowed origin gets no CORS headers, and Vary", partner, []string{"https://evil.test"},
			map[string]string{"Access-Control-Allow-Origin": "", "Access-Control-Expose-Headers": "", "Vary": "Origin, Accept-Encoding"}},
		{"no origin gets no CORS headers, and Vary", partner, nil,
			map[string]string{"Access-Control-Allow-Origin": "", "Vary": "Origin, Accept-Encoding"}},
		{"two Origin fields get no CORS headers", partner, []string{"http://localhost:3000", "https://a.example.com"},
			map[string]string{"Access-Control-Allow-Origin": ""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ran := false
			h := mustPolicy(t, tc.cfg).Middleware(upstream(&ran))
			r := httptest.NewRequest(http.MethodGet, "/public", nil)
			r.Header["Origin"] = tc.origins
			w := httptest.NewRecorder()
			if err := h.ServeHTTP(w, r); err != nil || !ran {
				t.Fatalf("err %v, upstream ran %v", err, ran)
			}
			for k, v := range tc.want {
				if got := strings.Join(w.Header().Values(k), ", "); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			if _, ok := w.Header()["access-control-allow-methods"]; ok {
				t.Error("the upstream's lower-case Access-Control-Allow-Methods passed")
			}
		})
	}
}

func TestActualRequestHeadersOnAnswersTheServerRenders(t *testing.T) {
	t.Parallel()
	deny := problem.New(http.StatusUnauthorized, "credential_missing", "no credential")
	h := mustPolicy(t, partner).Middleware(pipeline.HandlerFunc(func(http.ResponseWriter, *http.Request) error { return deny }))
	r := httptest.NewRequest(http.MethodGet, "/public", nil)
	r.Header.Set("Origin", "http://localhost:3000")
	w := httptest.NewRecorder()
	if err := h.ServeHTTP(w, r); err != deny {
		t.Fatalf("err = %v", err)
	}
	// The server renders the problem on the same header map: a script may
	// read why it was refused.
	if got := w.Header().Get("Access-Control-Allow-Origin"); got != "http://localhost:3000" {
		t.Fatalf("Access-Control-Allow-Origin = %q on a 401", got)
	}
}

func TestAnEarlyHintDoesNotLoseTheHeaders(t *testing.T) {
	t.Parallel()
	h := mustPolicy(t, partner).Middleware(pipeline.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		w.Header().Set("Link", "</a.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		clear(w.Header()) // as ReverseProxy does after a 1xx
		_, _ = w.Write([]byte("ok"))
		return nil
	}))
	r := httptest.NewRequest(http.MethodGet, "/public", nil)
	r.Header.Set("Origin", "http://localhost:3000")
	w := httptest.NewRecorder()
	_ = h.ServeHTTP(w, r)
	if got := w.Header().Get("Access-Control-Allow-Origin"); got != "http://localhost:3000" || w.Header().Get("Vary") != "Origin" {
		t.Fatalf("after a 103 the final head has Allow-Origin %q, Vary %q", got, w.Header().Get("Vary"))
	}
}

func TestAnOptionsRequestThatIsNotAPreflightTakesTheNormalPath(t *testing.T) {
	t.Parallel()
	for _, hdr := range []map[string]string{{"Origin": "http://localhost:3000"}, {"Access-Control-Request-Method": "GET"}} {
		r := httptest.NewRequest(http.MethodOptions, "/public", nil)
		for k, v := range hdr {
			r.Header.Set(k, v)
		}
		if _, ok := Preflight(r); ok {
			t.Fatalf("%v is taken for a preflight", hdr)
		}
		ran := false
		if err := mustPolicy(t, partner).Middleware(upstream(&ran)).ServeHTTP(httptest.NewRecorder(), r); err != nil || !ran {
			t.Fatalf("%v: err %v, upstream ran %v", hdr, err, ran)
		}
	}
}

// FuzzPreflight: whatever a preflight asks for, the gateway answers it
// itself (the upstream never runs), and an answer that allows it names the
// request's own origin, an allowed one, and only configured headers.
func FuzzPreflight(f *testing.F) {
	p := mustPolicy(f, partner)
	f.Add("http://localhost:3000", "DELETE", "authorization,content-type")
	f.Add("https://a.example.com", "PUT", "x-other")
	f.Add("https://example.com", "GET", "")
	f.Add("null", "POST", ",,  ,Content-Type")
	f.Fuzz(func(t *testing.T, origin, method, headers string) {
		if method == "" || origin == "" {
			return // not a preflight: the normal path
		}
		r := httptest.NewRequest("OPTIONS", "/x", nil)
		r.Header.Set("Origin", origin)
		r.Header.Set("Access-Control-Request-Method", method)
		r.Header.Set("Access-Control-Request-Headers", headers)
		w := httptest.NewRecorder()
		ran := false
		err := p.Middleware(upstream(&ran)).ServeHTTP(w, r)
		if ran {
			t.Fatal("a preflight reached the upstream")
		}
		if err == nil {
			t.Fatal("a preflight got no outcome")
		}
		if o := w.Header().Get("Access-Control-Allow-Origin"); o != "" && (o != r.Header.Get("Origin") || !p.origins.Match(o)) {
			t.Fatalf("allowed origin %q for a request from %q", o, origin)
		}
		if w.Header().Get("Access-Control-Allow-Origin") != "" {
			for name := range strings.SplitSeq(r.Header.Get("Access-Control-Request-Headers"), ",") {
				if name = strings.TrimSpace(name); name != "" && !p.headers.Has(name) {
					t.Fatalf("allowed a preflight asking for %q", name)
				}
			}
		}
	})
}
