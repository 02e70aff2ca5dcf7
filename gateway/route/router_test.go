package route

import (
	"fmt"
	"math/rand/v2"
	"regexp"
	"slices"
	"sort"
	"strings"
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

// linear is the router as it was before the index: every route in rank
// order, each matched against the path. The index must agree with it on
// every lookup.
type linear struct {
	routes []config.Route // in rank order
	res    []*regexp.Regexp
}

func newLinear(routes []config.Route) *linear {
	l := &linear{routes: slices.Clone(routes)}
	rank := func(r config.Route) int {
		if r.Match.Path != "" {
			return 1 << 30
		}
		return len(r.Match.PathPrefix)
	}
	sort.SliceStable(l.routes, func(i, j int) bool { return rank(l.routes[i]) > rank(l.routes[j]) })
	for _, r := range l.routes {
		var re *regexp.Regexp
		if r.Match.Path != "" {
			var b strings.Builder
			b.WriteString("^")
			for _, s := range strings.Split(r.Match.Path[1:], "/") {
				b.WriteString("/")
				if strings.HasPrefix(s, "{") {
					b.WriteString("[^/]+")
				} else {
					b.WriteString(regexp.QuoteMeta(s))
				}
			}
			re = regexp.MustCompile(b.String() + "$")
		}
		l.res = append(l.res, re)
	}
	return l
}

func (l *linear) lookup(method, host, path string) (name string, allow []string) {
	host = stripPort(host)
	for i, r := range l.routes {
		mt := r.Match
		if mt.Host != "" && !strings.EqualFold(mt.Host, host) {
			continue
		}
		if re := l.res[i]; re != nil {
			if !re.MatchString(path) {
				continue
			}
		} else {
			p := mt.PathPrefix
			if !strings.HasPrefix(path, p) || !(len(path) == len(p) || strings.HasSuffix(p, "/") || path[len(p)] == '/') {
				continue
			}
		}
		if len(mt.Methods) > 0 && !slices.Contains(mt.Methods, method) {
			for _, a := range mt.Methods {
				if !slices.Contains(allow, a) {
					allow = append(allow, a)
				}
			}
			continue
		}
		return r.Name, nil
	}
	sort.Strings(allow)
	return "", allow
}

// randomRoutes draws routes over a small alphabet of segments, so that
// prefixes, templates, hosts and methods overlap often.
func randomRoutes(r *rand.Rand, n int) []config.Route {
	segs := []string{"a", "b", "api", "v1", "users", ""}
	path := func(vars bool) string {
		var b strings.Builder
		for range 1 + r.IntN(4) {
			b.WriteString("/")
			if vars && r.IntN(3) == 0 {
				b.WriteString("{x}")
			} else {
				b.WriteString(segs[r.IntN(len(segs))])
			}
		}
		return b.String()
	}
	methods := [][]string{nil, {"GET"}, {"POST", "GET"}, {"DELETE"}}
	hosts := []string{"", "", "A.example", "b.example"}
	routes := make([]config.Route, n)
	for i := range routes {
		m := config.RouteMatch{Methods: methods[r.IntN(len(methods))], Host: hosts[r.IntN(len(hosts))]}
		if r.IntN(2) == 0 {
			m.Path = path(true)
		} else {
			m.PathPrefix = path(false)
		}
		routes[i] = config.Route{Name: fmt.Sprintf("r%d", i), Match: m}
	}
	return routes
}

func TestRouterAgreesWithLinearLookup(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 2))
	for round := range 200 {
		routes := randomRoutes(r, 1+r.IntN(30))
		rt, err := NewRouter(routes, make([]int, len(routes)))
		if err != nil {
			t.Fatal(err)
		}
		ref := newLinear(routes)
		for range 50 {
			path := randomRoutes(r, 1)[0].Match.PathPrefix
			if path == "" {
				path = strings.ReplaceAll(randomRoutes(r, 1)[0].Match.Path, "{x}", "7")
			}
			method := []string{"GET", "POST", "DELETE", "PUT"}[r.IntN(4)]
			host := []string{"a.example", "A.EXAMPLE:8443", "b.example", "c.example", ""}[r.IntN(5)]
			m, ok := rt.Lookup(method, host, path)
			got := ""
			if ok {
				got = m.Route.Name
			}
			want, allow := ref.lookup(method, host, path)
			if got != want || !slices.Equal(m.Allow, allow) {
				t.Fatalf("round %d: Lookup(%s %s %s) = %q allow %v, linear %q allow %v\nroutes: %+v", round, method, host, path, got, m.Allow, want, allow, routes)
			}
		}
	}
}

// BenchmarkLookup: the cost of a lookup as the number of routes grows,
// half prefixes, half templates, a tenth with a host. The request matches
// the last route configured.
func BenchmarkLookup(b *testing.B) {
	for _, n := range []int{10, 100, 1000, 10000} {
		b.Run(fmt.Sprintf("routes=%d", n), func(b *testing.B) {
			routes := make([]config.Route, n)
			for i := range routes {
				m := config.RouteMatch{Methods: []string{"GET"}}
				if i%2 == 0 {
					m.PathPrefix = fmt.Sprintf("/svc%d/api", i)
				} else {
					m.Path = fmt.Sprintf("/svc%d/users/{id}", i)
				}
				if i%10 == 0 {
					m.Host = fmt.Sprintf("h%d.example", i)
				}
				routes[i] = config.Route{Name: fmt.Sprint(i), Match: m}
			}
			rt, err := NewRouter(routes, make([]int, n))
			if err != nil {
				b.Fatal(err)
			}
			path := fmt.Sprintf("/svc%d/users/42", n-1)
			b.ReportAllocs()
			for b.Loop() {
				if _, ok := rt.Lookup("GET", "api.example", path); !ok {
					b.Fatal("no match")
				}
			}
		})
	}
}

// FuzzRouterLookup: on any path and host the index agrees with the
// linear lookup.
func FuzzRouterLookup(f *testing.F) {
	routes := randomRoutes(rand.New(rand.NewPCG(3, 4)), 40)
	rt, err := NewRouter(routes, make([]int, len(routes)))
	if err != nil {
		f.Fatal(err)
	}
	ref := newLinear(routes)
	f.Add("GET", "a.example", "/api/v1/users")
	f.Add("POST", "B.example:80", "//a/")
	f.Add("DELETE", "[::1]:80", "/")
	f.Fuzz(func(t *testing.T, method, host, path string) {
		m, ok := rt.Lookup(method, host, path)
		got := ""
		if ok {
			got = m.Route.Name
		}
		if want, allow := ref.lookup(method, host, path); got != want || !slices.Equal(m.Allow, allow) {
			t.Fatalf("Lookup(%q %q %q) = %q allow %v, linear %q allow %v", method, host, path, got, m.Allow, want, allow)
		}
	})
}
