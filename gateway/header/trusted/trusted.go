// Package trusted parses listen.trusted_proxies: the peers whose
// X-Forwarded-* headers are kept.
//
// It is a leaf package so that gateway/config can report a bad entry with
// the same parser gateway/header uses.
package trusted

import (
	"fmt"
	"net/netip"
)

// Parse parses a CIDR ("10.0.0.0/8") or a single address ("192.0.2.1",
// meaning that address alone), masked to its prefix.
func Parse(s string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(s)
	if err != nil {
		a, aerr := netip.ParseAddr(s)
		if aerr != nil {
			return netip.Prefix{}, fmt.Errorf("%q is not a CIDR or IP address", s)
		}
		p = netip.PrefixFrom(a, a.BitLen())
	}
	return p.Masked(), nil
}

// Contains tells whether the peer at remoteAddr (host:port, as in
// http.Request.RemoteAddr) is in one of prefixes; an address that does not
// parse is not.
func Contains(prefixes []netip.Prefix, remoteAddr string) bool {
	if len(prefixes) == 0 {
		return false
	}
	ap, err := netip.ParseAddrPort(remoteAddr)
	if err != nil {
		return false
	}
	return ContainsAddr(prefixes, ap.Addr().Unmap())
}

// ContainsAddr tells whether a is in one of prefixes.
func ContainsAddr(prefixes []netip.Prefix, a netip.Addr) bool {
	for _, p := range prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
