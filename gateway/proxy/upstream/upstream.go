// Package upstream parses the base URLs a route forwards to.
//
// It is a leaf package so that gateway/config can report a bad upstream
// with the same parser gateway/proxy forwards with.
package upstream

import (
	"errors"
	"fmt"
	"net/url"
)

// Errors of [ParseAll] about the number of upstreams.
var (
	ErrNone = errors.New("no upstream")
	ErrBoth = errors.New("set upstream or upstreams, not both")
)

// Parse parses raw as an absolute http or https URL without query or fragment.
func Parse(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("%q must be an absolute http or https URL", raw)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("%q must not have a query or fragment", raw)
	}
	return u, nil
}

// ParseAll parses one upstream or a list of them (exactly one of the two
// is set), in order.
func ParseAll(one string, list []string) ([]*url.URL, error) {
	switch {
	case one != "" && len(list) > 0:
		return nil, ErrBoth
	case one != "":
		list = []string{one}
	case len(list) == 0:
		return nil, ErrNone
	}
	out := make([]*url.URL, len(list))
	for i, s := range list {
		u, err := Parse(s)
		if err != nil {
			return nil, err
		}
		out[i] = u
	}
	return out, nil
}
