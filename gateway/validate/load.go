package validate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"

	"github.com/getkin/kin-openapi/openapi3"
)

// MaxSpecBytes bounds each file of an OpenAPI document, referenced files included.
const MaxSpecBytes = 16 << 20

// Load reads and validates the OpenAPI document at path. OpenAPI 3.0 is
// fully supported; 3.1 documents load and validate with kin-openapi's
// JSON Schema 2020-12 support (tested: type arrays with "null", const,
// formats, additionalProperties), which then checks bodies. $refs may name
// other local files (each at most MaxSpecBytes) but never URLs: loading a
// spec must not make the gateway fetch anything. Errors start with path
// and, where the element is known, its line ("users.yaml:42: ...").
func Load(path string) (*openapi3.T, error) {
	loader := openapi3.NewLoader()
	loader.IncludeOrigin = true
	loader.IsExternalRefsAllowed = true
	loader.ReadFromURIFunc = readLocal
	doc, err := loader.LoadFromFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		if line := locate(doc, err); line > 0 {
			return nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return doc, nil
}

// readLocal reads local files only, each at most MaxSpecBytes.
func readLocal(_ *openapi3.Loader, u *url.URL) ([]byte, error) {
	if u.Host != "" || (u.Scheme != "" && u.Scheme != "file") || u.Path == "" {
		return nil, fmt.Errorf("reference %q: only local files may be referenced", u.Redacted())
	}
	f, err := os.Open(u.Path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxSpecBytes+1))
	if err != nil {
		return nil, err
	}
	if len(b) > MaxSpecBytes {
		return nil, fmt.Errorf("%s: larger than %d bytes", u.Path, MaxSpecBytes)
	}
	return b, nil
}

// locate returns the line of the path item, operation or component schema
// that err is about, or 0.
func locate(doc *openapi3.T, err error) int {
	line := 0
	if pe, ok := errors.AsType[*openapi3.PathValidationError](err); ok && doc.Paths != nil {
		if pi := doc.Paths.Value(pe.Path); pi != nil {
			line = keyLine(pi.Origin)
			if oe, ok := errors.AsType[*openapi3.OperationValidationError](err); ok {
				if op := pi.GetOperation(oe.Method); op != nil && keyLine(op.Origin) > 0 {
					line = keyLine(op.Origin)
				}
			}
		}
	}
	if ce, ok := errors.AsType[*openapi3.ComponentValidationError](err); ok && ce.Section == "schema" && doc.Components != nil {
		if s := doc.Components.Schemas[ce.Name]; s != nil && s.Value != nil {
			line = keyLine(s.Value.Origin)
		}
	}
	return line
}

func keyLine(o *openapi3.Origin) int {
	if o == nil || o.Key == nil {
		return 0
	}
	return o.Key.Line
}
