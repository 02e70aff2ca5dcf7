package header

import (
	"net/netip"
	"strings"

	"github.com/portcullis/portcullis/gateway/header/trusted"
)

// clientIP is the address of the client that sent a request through the
// trusted proxy peer (the caller has checked it is one; from any other
// peer the peer itself is the client): the right-most address of the
// forwarding chain that is not a trusted proxy, walking from the peer
// outwards (X-Forwarded-For, or Forwarded's for= when there is no
// X-Forwarded-For). Entries left of the first untrusted one were written
// by the client and are never believed. When every hop is trusted the
// left-most one is the client; an entry that is not an address (garbage,
// "unknown", an obfuscated identifier) ends the walk at the last trusted
// hop, which is the last address anyone trusted vouched for.
func (c *Cleaner) clientIP(peer netip.Addr, xff, forwarded []string) netip.Addr {
	var hops []string
	if len(xff) > 0 {
		for _, v := range xff {
			for h := range strings.SplitSeq(v, ",") {
				hops = append(hops, strings.TrimSpace(h))
			}
		}
	} else {
		hops = forwardedFor(forwarded)
	}
	client := peer
	for i := len(hops) - 1; i >= 0; i-- {
		a, ok := parseHop(hops[i])
		if !ok {
			break
		}
		client = a
		if !c.trustedAddr(a) {
			break
		}
	}
	return client
}

func (c *Cleaner) trustedAddr(a netip.Addr) bool { return trusted.ContainsAddr(c.trusted, a) }

// parseHop reads one forwarding hop: an IPv4 or IPv6 address, with or
// without a port, IPv6 with a port in brackets (as Forwarded writes it).
func parseHop(s string) (netip.Addr, bool) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap(), true
	}
	return parseAddr(s)
}

// parseAddr reads an IPv4 or IPv6 address without a port, IPv6 with or
// without brackets, and without a zone.
func parseAddr(s string) (netip.Addr, bool) {
	s = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

// forwardedFor returns the for= values of RFC 7239 Forwarded fields, in
// order, unquoted. An element without for= yields "" so that the walk
// stops there rather than skip a hop it cannot read.
func forwardedFor(fields []string) []string {
	var out []string
	for _, f := range fields {
		for elem := range strings.SplitSeq(f, ",") {
			v := ""
			for pair := range strings.SplitSeq(elem, ";") {
				k, val, ok := strings.Cut(strings.TrimSpace(pair), "=")
				if ok && strings.EqualFold(k, "for") {
					v = strings.Trim(val, `"`)
				}
			}
			out = append(out, v)
		}
	}
	return out
}

// addrString is a.String(); s is the text a was parsed from, returned as
// it is when it is already that form (every IPv4 address of a connection),
// so the client address costs no allocation.
func addrString(a netip.Addr, s string) string {
	if a.Is4() && len(s) <= len("255.255.255.255") {
		var buf [len("255.255.255.255")]byte
		if string(a.AppendTo(buf[:0])) == s {
			return s
		}
	}
	return a.String()
}
