package config

import (
	"fmt"
	"strings"
)

// checkTokenTypes wants at least one accepted token_type (omit the field
// for the default), each a non-empty printable value given once.
func checkTokenTypes(ch *checker, p string, types []string) {
	if len(types) == 0 {
		ch.add(p, "must not be empty (omit it for the default access-token types)")
	}
	seen := map[string]bool{}
	for i, t := range types {
		f := fmt.Sprintf("%s[%d]", p, i)
		switch {
		case strings.TrimSpace(t) != t || t == "" || strings.ContainsFunc(t, func(r rune) bool { return r < 0x21 || r > 0x7e }):
			ch.add(f, "%q is not a token type (want e.g. \"access_token\" or \"Bearer\")", t)
		case seen[strings.ToLower(t)]:
			ch.add(f, "%q is listed twice", t)
		}
		seen[strings.ToLower(t)] = true
	}
}
