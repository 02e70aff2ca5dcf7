package config

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/portcullis/portcullis/gateway/cors/origin"
	"github.com/portcullis/portcullis/gateway/header/trusted"
)

// RouteCORS is a route's CORS policy (gateway/cors). The gateway answers
// preflights itself and is the only source of the route's
// Access-Control-* response headers.
type RouteCORS struct {
	// AllowOrigins are exact origins ("http://localhost:3000"), wildcard
	// subdomains ("https://*.example.com") or "*" alone.
	AllowOrigins []string `yaml:"allow_origins"`
	// AllowMethods are the methods a preflight may ask for besides GET,
	// HEAD and POST, which browsers send without asking.
	AllowMethods []string `yaml:"allow_methods"`
	// AllowHeaders are the request headers a preflight may ask for.
	AllowHeaders []string `yaml:"allow_headers"`
	// ExposeHeaders are the response headers scripts may read besides
	// the CORS-safelisted ones.
	ExposeHeaders []string `yaml:"expose_headers"`
	// AllowCredentials lets scripts send cookies and Authorization and
	// read the response (fetch's credentials: "include").
	AllowCredentials bool `yaml:"allow_credentials"`
	// MaxAge is how long a browser may cache a preflight's answer; 0
	// sends no Access-Control-Max-Age (browsers then keep it 5s).
	MaxAge time.Duration `yaml:"max_age"`
}

// maxCORSMaxAge is Firefox's cap (Chromium's is 2h): a longer one is ignored.
const maxCORSMaxAge = 24 * time.Hour

type namedList struct {
	field string
	list  []string
}

// validateEdge checks a route's CORS policy and IP lists with the parsers
// the gateway uses.
func validateEdge(ch *checker, p string, r *Route) {
	for _, l := range []namedList{{"ip_allow", r.IPAllow}, {"ip_deny", r.IPDeny}} {
		for i, s := range l.list {
			if _, err := trusted.Parse(s); err != nil {
				ch.add(fmt.Sprintf("%s.%s[%d]", p, l.field, i), "%v", err)
			}
		}
	}
	c := r.CORS
	if c == nil {
		return
	}
	p += ".cors"
	set, err := origin.NewSet(c.AllowOrigins)
	var joined interface{ Unwrap() []error }
	errs := []error{err}
	if errors.As(err, &joined) {
		errs = joined.Unwrap()
	}
	for _, e := range errs {
		if ee, ok := errors.AsType[*origin.EntryError](e); ok {
			ch.add(fmt.Sprintf("%s.allow_origins[%d]", p, ee.Index), "%v", ee.Err)
		} else if e != nil {
			ch.add(p+".allow_origins", "%v", e)
		}
	}
	if set.AllowsAny() && c.AllowCredentials {
		ch.add(p+".allow_origins", `"*" cannot go with allow_credentials: true (browsers refuse credentials for a wildcard origin): list the origins`)
	}
	for i, m := range c.AllowMethods {
		if m != strings.ToUpper(m) || !validHeaderName(m) || m == "*" {
			ch.add(fmt.Sprintf("%s.allow_methods[%d]", p, i), "%q is not an upper-case HTTP method", m)
		}
	}
	for _, l := range []namedList{{"allow_headers", c.AllowHeaders}, {"expose_headers", c.ExposeHeaders}} {
		for i, h := range l.list {
			if !validHeaderName(h) || h == "*" {
				ch.add(fmt.Sprintf("%s.%s[%d]", p, l.field, i), "%q is not a header name (list the names; \"*\" is not supported)", h)
			}
		}
	}
	if c.MaxAge < 0 || c.MaxAge > maxCORSMaxAge {
		ch.add(p+".max_age", "%s is out of range (want 0..24h; browsers ignore more)", c.MaxAge)
	}
}
