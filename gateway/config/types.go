package config

import (
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// ByteSize is a number of bytes, written as an integer or with a unit:
// "512", "64KiB", "1MiB", "1GiB" (also KB/MB/GB, meaning the same powers of 1024).
type ByteSize int64

var byteUnits = map[string]int64{
	"": 1, "b": 1,
	"k": 1 << 10, "kb": 1 << 10, "kib": 1 << 10,
	"m": 1 << 20, "mb": 1 << 20, "mib": 1 << 20,
	"g": 1 << 30, "gb": 1 << 30, "gib": 1 << 30,
}

var byteSizeRE = regexp.MustCompile(`^\s*([0-9]+)\s*([A-Za-z]*)\s*$`)

// ParseByteSize parses s as a ByteSize.
func ParseByteSize(s string) (ByteSize, error) {
	m := byteSizeRE.FindStringSubmatch(s)
	if m == nil {
		return 0, fmt.Errorf("invalid size %q (want e.g. 1048576, 64KiB or 1MiB)", s)
	}
	unit, ok := byteUnits[strings.ToLower(m[2])]
	if !ok {
		return 0, fmt.Errorf("invalid size unit in %q (want B, KiB, MiB or GiB)", s)
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil || n > (1<<62)/unit {
		return 0, fmt.Errorf("size %q is too large", s)
	}
	return ByteSize(n * unit), nil
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (b *ByteSize) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseByteSize(n.Value)
	if err != nil {
		return atLine(n, err)
	}
	*b = v
	return nil
}

// Secret is a sensitive string. In YAML it is a literal, "${ENV_VAR}" (the
// variable must be set) or "file:PATH" (the file's content without a
// trailing newline; relative to the config file). It prints as "[redacted]"
// so it never reaches a log by accident.
type Secret struct {
	value string
	// From tells where the value came from ("literal", "env:NAME", "file:PATH"), for error messages.
	From string
}

// NewSecret returns a Secret holding v, for tests and generated config.
func NewSecret(v string) Secret { return Secret{value: v, From: "literal"} }

// Value returns the secret value.
func (s Secret) Value() string { return s.value }

// IsSet tells whether a non-empty value was given.
func (s Secret) IsSet() bool { return s.value != "" }

func (s Secret) String() string { return "[redacted]" }

// MarshalJSON keeps secrets out of any JSON rendering of the config.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"[redacted]"`), nil }

var envRefRE = regexp.MustCompile(`^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$`)

// baseDir is where relative file: secrets resolve; set by Load while decoding.
var baseDir = "."

// UnmarshalYAML implements yaml.Unmarshaler.
func (s *Secret) UnmarshalYAML(n *yaml.Node) error {
	raw := n.Value
	switch {
	case envRefRE.MatchString(raw):
		name := envRefRE.FindStringSubmatch(raw)[1]
		v, ok := os.LookupEnv(name)
		if !ok || v == "" {
			return atLine(n, fmt.Errorf("environment variable %s is not set", name))
		}
		*s = Secret{value: v, From: "env:" + name}
	case strings.HasPrefix(raw, "file:"):
		p := resolvePath(baseDir, strings.TrimPrefix(raw, "file:"))
		b, err := os.ReadFile(p)
		if err != nil {
			return atLine(n, fmt.Errorf("read secret file: %w", err))
		}
		*s = Secret{value: strings.TrimRight(string(b), "\r\n"), From: "file:" + p}
	default:
		*s = Secret{value: raw, From: "literal"}
	}
	return nil
}

// atLine prefixes err with the node's line the way yaml.v3 reports its own errors.
func atLine(n *yaml.Node, err error) error {
	return fmt.Errorf("line %d: %w", n.Line, err)
}
