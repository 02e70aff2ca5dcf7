package config

import (
	"fmt"
	"strings"
)

// Request configures what the gateway accepts in, and removes from, every
// request before the policy judges it.
type Request struct {
	// MethodOverride is what happens to X-HTTP-Method-Override,
	// X-Method-Override, X-HTTP-Method and a _method query parameter:
	// "strip" (default) removes them, "reject" answers 400, "judge" gives the
	// overridden method to the policy (input.request.method) and forwards it.
	MethodOverride string `yaml:"method_override"`
	// ForwardingHeaders are added to the built-in list of headers that only
	// a trusted proxy may send (X-Real-IP, X-Original-URL, ...).
	ForwardingHeaders []string `yaml:"forwarding_headers"`
}

func (c *Config) validateRequest(ch *checker) {
	ch.oneOf("listen.headers_with_underscores", c.Listen.HeadersWithUnderscores, "drop", "reject", "allow")
	ch.oneOf("request.method_override", c.Request.MethodOverride, "strip", "reject", "judge")
	for i, h := range c.Request.ForwardingHeaders {
		if !isToken(h) {
			ch.add(fmt.Sprintf("request.forwarding_headers[%d]", i), "%q is not a header name", h)
		}
	}
	for i := range c.Routes {
		for j, u := range c.Routes[i].Upgrade {
			ch.oneOf(fmt.Sprintf("routes[%d].upgrade[%d]", i, j), u, "websocket")
		}
	}
}

// isToken reports whether s is an RFC 9110 token, the form of a header name.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}
