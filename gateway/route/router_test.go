package route

import (
	"slices"
	"testing"

	"github.com/portcullis/portcullis/gateway/config"
)

func TestRouterLookup(t *testing.T) {
	t.Parallel()
	routes := []config.Route{
		{Name: "api", Match: config.RouteMatch{PathPrefix: "/api"}},
		{Name: "users-v1", Match: config.RouteMatch{PathPrefix: "/api/v1/", Methods: []string{"GET", "POST"}}},
		{Name: "user", Match: config.RouteMatch{Path: "/api/v1/users/{id}", Methods: []string{"DELETE"}}},
		{Name: "admin-host", Match: config.RouteMatch{PathPrefix: "/", Host: "admin.example"}},
	}
	rt, err := NewRouter(routes, []int{0, 1, 2, 3})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, method, host, path string
		want                     string
		allow                    []string
	}{
		{"the longest prefix wins", "GET", "x", "/api/v1/users", "users-v1", nil},
		{"a template beats a prefix", "DELETE", "x", "/api/v1/users/7", "user", nil},
		{"a prefix matches its exact path", "PUT", "x", "/api", "api", nil},
		{"a prefix needs a segment boundary", "GET", "x", "/apix", "", nil},
		{"a shorter prefix catches other methods", "PUT", "x", "/api/v1/users", "api", nil},
		{"a host route matches its host with a port", "GET", "ADMIN.example:8080", "/y", "admin-host", nil},
		{"a host route ignores other hosts", "GET", "other", "/y", "", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m, ok := rt.Lookup(tc.method, tc.host, tc.path)
			got := ""
			if ok {
				got = m.Route.Name
			}
			if got != tc.want || !slices.Equal(m.Allow, tc.allow) {
				t.Fatalf("Lookup(%s %s%s) = %q allow %v, want %q allow %v", tc.method, tc.host, tc.path, got, m.Allow, tc.want, tc.allow)
			}
		})
	}
}

func TestRouterMethodNotAllowed(t *testing.T) {
	t.Parallel()
	routes := []config.Route{
		{Name: "r", Match: config.RouteMatch{PathPrefix: "/r", Methods: []string{"POST", "GET"}}},
	}
	rt, err := NewRouter(routes, []int{0})
	if err != nil {
		t.Fatal(err)
	}
	m, ok := rt.Lookup("DELETE", "h", "/r/1")
	if ok || !slices.Equal(m.Allow, []string{"GET", "POST"}) {
		t.Fatalf("got ok=%v allow=%v, want 405 with GET, POST", ok, m.Allow)
	}
}

func TestNewRouterRefusesABadTemplate(t *testing.T) {
	t.Parallel()
	routes := []config.Route{{Name: "r", Match: config.RouteMatch{Path: "/a/{b}c"}}}
	_, err := NewRouter(routes, []int{0})
	want := `route "r": match.path: "/a/{b}c": segment "{b}c" must be a literal or a whole {name}`
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v, want %q", err, want)
	}
}
