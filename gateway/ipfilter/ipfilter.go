// Package ipfilter admits or refuses a route's requests by the client's address.
package ipfilter

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"

	"github.com/portcullis/portcullis/gateway/header/trusted"
	"github.com/portcullis/portcullis/gateway/input"
	"github.com/portcullis/portcullis/gateway/pipeline"
	"github.com/portcullis/portcullis/gateway/problem"
)

// ReasonDenied is the outcome of a request from an address the route's lists refuse.
const ReasonDenied problem.Reason = "ip_denied"

// Filter is one route's compiled ip_allow and ip_deny.
type Filter struct {
	allow, deny []netip.Prefix
}

// New parses the lists: CIDRs or single addresses, IPv4 or IPv6, with the
// parser of listen.trusted_proxies. At least one must be set.
func New(allow, deny []string) (*Filter, error) {
	if len(allow) == 0 && len(deny) == 0 {
		return nil, errors.New("ipfilter: no list")
	}
	f := &Filter{}
	var errs []error
	parse := func(field string, list []string) []netip.Prefix {
		out := make([]netip.Prefix, 0, len(list))
		for i, s := range list {
			p, err := trusted.Parse(s)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s[%d]: %w", field, i, err))
				continue
			}
			out = append(out, unmap(p))
		}
		return out
	}
	f.allow, f.deny = parse("ip_allow", allow), parse("ip_deny", deny)
	return f, errors.Join(errs...)
}

// unmap writes an IPv4-mapped IPv6 prefix (::ffff:10.0.0.0/104) as the
// IPv4 prefix it covers: client addresses are compared unmapped (see
// gateway/header), so the mapped form would never match.
func unmap(p netip.Prefix) netip.Prefix {
	if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
		return netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return p
}

// Admits tells whether a request from addr passes: not in the deny list,
// and in the allow list when there is one. An address that is not valid
// (the client's could not be told) passes neither, so it fails closed.
func (f *Filter) Admits(addr netip.Addr) bool {
	if !addr.IsValid() {
		return false
	}
	addr = addr.Unmap()
	for _, p := range f.deny {
		if p.Contains(addr) {
			return false
		}
	}
	if len(f.allow) == 0 {
		return true
	}
	for _, p := range f.allow {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

var errDenied = problem.New(http.StatusForbidden, ReasonDenied, "requests from this address are not allowed on this route")

// errNoState means the stage ran outside the pipeline; it fails closed (500).
var errNoState = errors.New("ipfilter: no pipeline state in request context")

// Middleware refuses, with 403 ip_denied, a request whose client address
// (input.request.client_ip: the peer, or behind listen.trusted_proxies the
// right-most untrusted forwarded address) the lists do not admit. It runs
// before anything else of the route, so a refused client's credential is
// never checked and nothing is read.
func (f *Filter) Middleware(next pipeline.Handler) pipeline.Handler {
	return pipeline.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		d := input.Part.From(r.Context())
		if d == nil {
			return errNoState
		}
		addr, _ := netip.ParseAddr(d.Request.ClientIP)
		if !f.Admits(addr) {
			return errDenied
		}
		return next.ServeHTTP(w, r)
	})
}
