package validate

import (
	"errors"
	"net/url"

	"github.com/getkin/kin-openapi/openapi3"
)

// stringFormats are checked on every validation, per call rather than
// through kin-openapi's global registry, which other code could change.
// date and date-time are kin-openapi's own (registered by default).
var stringFormats = map[string]openapi3.StringFormatValidator{
	"email": openapi3.NewRegexpFormatValidator(openapi3.FormatOfStringForEmail),
	"uuid":  openapi3.NewRegexpFormatValidator(openapi3.FormatOfStringForUUIDOfRFC9562),
	"ipv4":  openapi3.NewIPValidator(true),
	"ipv6":  openapi3.NewIPValidator(false),
	"uri":   openapi3.NewCallbackValidator(validURI),
}

var errNotAbsolute = errors.New("not an absolute URI")

func validURI(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return err
	}
	if !u.IsAbs() {
		return errNotAbsolute
	}
	return nil
}
