package server

import (
	"net/http"
	"testing"

	"github.com/portcullis/portcullis/gateway/proxy"
)

// The gateway sets its own headers by map assignment, which equals
// Header.Set only for a canonical name.
func TestHeadersSetByAssignmentAreCanonical(t *testing.T) {
	for _, name := range []string{proxy.RequestIDHeader, DecisionIDHeader, "Content-Length"} {
		if c := http.CanonicalHeaderKey(name); c != name {
			t.Errorf("%q is not canonical (%q)", name, c)
		}
	}
}
