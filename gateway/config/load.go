package config

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"
)

// FieldError is one problem with the configuration, at a field path such
// as routes[2].upstream. Line is the line of that field in File, 0 if unknown.
type FieldError struct {
	File  string
	Line  int
	Field string
	Msg   string
}

func (e *FieldError) Error() string {
	loc := e.File
	if e.Line > 0 {
		loc = fmt.Sprintf("%s:%d", e.File, e.Line)
	}
	if e.Field == "" {
		return fmt.Sprintf("%s: %s", loc, e.Msg)
	}
	return fmt.Sprintf("%s: %s: %s", loc, e.Field, e.Msg)
}

// Errors is every problem found in a configuration, ordered by line.
type Errors []*FieldError

func (es Errors) Error() string {
	s := make([]string, len(es))
	for i, e := range es {
		s[i] = e.Error()
	}
	return strings.Join(s, "\n")
}

// decodeMu serializes decoding because file: secrets resolve against baseDir.
var decodeMu sync.Mutex

// Load reads, decodes strictly, defaults and validates the file at path.
// The error, if any, is an Errors listing every problem as file:line: field: message.
func Load(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, Errors{{File: path, Msg: err.Error()}}
	}
	return Parse(path, b)
}

// Parse is Load for a file already read. Only a YAML syntax error stops it
// early; otherwise every unknown field, wrongly typed value and invalid
// setting is reported, ordered by line.
func Parse(path string, b []byte) (*Config, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(b, &root); err != nil {
		return nil, yamlErrors(path, err)
	}
	c := &Config{File: path, Dir: filepath.Dir(path)}
	c.defaults()
	d := &decoder{cfg: c}
	if len(root.Content) > 0 {
		decodeMu.Lock()
		baseDir = c.Dir
		d.mapping(root.Content[0], reflect.ValueOf(c).Elem(), "")
		baseDir = "."
		decodeMu.Unlock()
	}
	c.finish()
	errs := d.errs
	for _, e := range c.validate() {
		// A field that did not decode was left at its default; what
		// validation says of that value would only mislead.
		if !related(d.bad, e.Field) {
			e.Line = lineOf(&root, e.Field)
			errs = append(errs, e)
		}
	}
	if len(errs) > 0 {
		for _, e := range errs {
			e.File = path
		}
		errs.sort()
		return nil, errs
	}
	return c, nil
}

// related tells whether field is one of fields, contains one or is
// contained in one.
func related(fields []string, field string) bool {
	for _, f := range fields {
		if f == field || within(field, f) || within(f, field) {
			return true
		}
	}
	return false
}

// within tells whether field a is inside field b.
func within(a, b string) bool {
	return strings.HasPrefix(a, b+".") || strings.HasPrefix(a, b+"[")
}

// sort orders es by line, then field and message, so that the same file
// always gives the same report.
func (es Errors) sort() {
	slices.SortStableFunc(es, func(a, b *FieldError) int {
		return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Field, b.Field), cmp.Compare(a.Msg, b.Msg))
	})
}

var yamlLineRE = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

// yamlErrors turns a yaml.v3 error (one or several "line N: msg") into Errors.
func yamlErrors(path string, err error) Errors {
	var msgs []string
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs = te.Errors
	} else {
		msgs = []string{err.Error()}
	}
	out := make(Errors, 0, len(msgs))
	for _, m := range msgs {
		fe := &FieldError{File: path, Msg: m}
		if sm := yamlLineRE.FindStringSubmatch(m); sm != nil {
			fe.Line, _ = strconv.Atoi(sm[1])
			fe.Msg = sm[2]
		}
		out = append(out, fe)
	}
	return out
}

var pathPartRE = regexp.MustCompile(`([^.\[\]]+)|\[(\d+)\]`)

// lineOf finds the line of a field path like routes[1].authn.methods in the
// document, or of its closest existing parent.
func lineOf(root *yaml.Node, field string) int {
	n := root
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	line := 0
	for _, m := range pathPartRE.FindAllStringSubmatch(field, -1) {
		var next *yaml.Node
		switch {
		case m[1] != "" && n.Kind == yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == m[1] {
					line = n.Content[i].Line
					next = n.Content[i+1]
					break
				}
			}
		case m[2] != "" && n.Kind == yaml.SequenceNode:
			if i, _ := strconv.Atoi(m[2]); i < len(n.Content) {
				next = n.Content[i]
				line = next.Line
			}
		}
		if next == nil {
			break
		}
		n = next
	}
	return line
}

// resolvePath makes p absolute against dir unless it already is.
func resolvePath(dir, p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(dir, p)
}

// Path resolves a path from the config file against the file's directory.
func (c *Config) Path(p string) string { return resolvePath(c.Dir, p) }
