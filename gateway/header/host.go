package header

import (
	"net/http"
	"net/netip"
	"strconv"
	"strings"

	"github.com/portcullis/portcullis/gateway/problem"
	"github.com/portcullis/portcullis/policy"
)

// host normalizes r.Host into req.Host and req.Port and writes the
// normalized authority back to r.Host, which routing, the policy and
// X-Forwarded-Host then share. Over HTTP/2 a host header must agree with
// :authority (RFC 9113 §8.3.1) and is then removed: the upstream gets its
// Host from the request, not the header map.
//
// For an HTTP/1.1 absolute-form target Go's server has already taken the
// authority from the target and dropped the Host line, as RFC 9112 §3.2.2
// requires; that authority is what is normalized here.
func (c *Cleaner) host(r *http.Request, req *policy.Request) error {
	host, port, err := ParseHost(r.Host)
	if err != nil {
		return problem.New(http.StatusBadRequest, ReasonHostRejected, "the host is not acceptable: "+err.Error())
	}
	if hs, ok := r.Header["Host"]; ok {
		for _, v := range hs {
			h, p, err := ParseHost(v)
			if err != nil || h != host || p != port {
				return problem.New(http.StatusBadRequest, ReasonHostMismatch, "the host header disagrees with the request's authority")
			}
		}
		delete(r.Header, "Host")
	}
	req.Host, req.Port = host, port
	if port == 0 {
		req.Port = 80
		if r.TLS != nil {
			req.Port = 443
		}
	}
	// The authority is built on the stack (a DNS name is at most 253
	// bytes; a longer one just grows to the heap): it usually is r.Host
	// already, and then nothing is allocated.
	var buf [264]byte
	authority := buf[:0]
	if strings.IndexByte(host, ':') >= 0 {
		authority = append(append(append(authority, '['), host...), ']')
	} else {
		authority = append(authority, host...)
	}
	if port != 0 {
		authority = strconv.AppendInt(append(authority, ':'), int64(port), 10)
	}
	if string(authority) != r.Host {
		r.Host = string(authority)
	}
	return nil
}

type hostError string

func (e hostError) Error() string { return string(e) }

// ParseHost splits an authority (host[:port], or [IPv6][:port]) into the
// normalized host (lower case, without a trailing dot or IPv6 brackets)
// and the port (0 when none is given). It refuses userinfo, percent
// escapes, empty labels, zones and anything but letters, digits, "-", "."
// and "_" in a name: what the gateway routes on must be what any backend
// would read.
func ParseHost(a string) (host string, port int, err error) {
	if a == "" {
		return "", 0, nil
	}
	hostPart, portPart := a, ""
	if a[0] == '[' {
		end := strings.IndexByte(a, ']')
		if end < 0 {
			return "", 0, hostError("unclosed IPv6 literal")
		}
		hostPart, portPart = a[1:end], a[end+1:]
		if portPart != "" && portPart[0] != ':' {
			return "", 0, hostError("junk after the IPv6 literal")
		}
		ip, perr := netip.ParseAddr(hostPart)
		if perr != nil || !ip.Is6() || ip.Zone() != "" {
			return "", 0, hostError("invalid IPv6 literal")
		}
		hostPart = ip.String()
	} else {
		if i := strings.LastIndexByte(a, ':'); i >= 0 {
			hostPart, portPart = a[:i], a[i:]
		}
		if hostPart, err = regName(hostPart); err != nil {
			return "", 0, err
		}
	}
	if portPart != "" {
		digits := portPart[1:]
		if digits == "" { // "host:" names no port (RFC 3986 §3.2.3)
			return hostPart, 0, nil
		}
		n, perr := strconv.Atoi(digits)
		if perr != nil || len(digits) > 5 || n < 1 || n > 65535 || digits[0] == '+' || digits[0] == '-' {
			return "", 0, hostError("invalid port")
		}
		port = n
	}
	return hostPart, port, nil
}

// regName lower-cases a host name and removes one trailing dot (the
// absolute form of the same DNS name).
func regName(s string) (string, error) {
	s = strings.TrimSuffix(s, ".")
	if s == "" {
		return "", hostError("empty host name")
	}
	if s[len(s)-1] == '.' {
		return "", hostError("empty label in host name")
	}
	lower := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '_':
		case c == '.':
			if i == 0 || s[i-1] == '.' {
				return "", hostError("empty label in host name")
			}
		case 'A' <= c && c <= 'Z':
			lower = false
		default:
			return "", hostError("invalid character in host name")
		}
	}
	if !lower {
		s = strings.ToLower(s)
	}
	return s, nil
}
