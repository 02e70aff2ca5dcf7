package problem

import (
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var (
	// reasonConst matches the declaration of a reason constant: ReasonX = "code".
	reasonConst = regexp.MustCompile(`(?m)^\s*(?:const\s+)?Reason\w*\s*(?:problem\.Reason|Reason)?\s*=\s*"([a-z0-9_]+)"`)
	// reasonLiteral matches a literal code given to New, Wrap or Unauthorized.
	reasonLiteral = regexp.MustCompile(`(?:problem\.)?(?:New|Wrap)\(http\.Status\w+,\s*"([a-z0-9_]+)"|Unauthorized\("([a-z0-9_]+)"`)
)

// sourceReasons returns every reason code the Go source (tests left out)
// of the gateway and the policy engine declares or passes as a literal, with
// the file that does.
func sourceReasons(t *testing.T) map[Reason]string {
	t.Helper()
	found := map[Reason]string{}
	for _, root := range []string{"..", "../../policy/engine"} {
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") ||
				strings.HasSuffix(path, filepath.Join("problem", "reason.go")) {
				return err
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			for _, re := range []*regexp.Regexp{reasonConst, reasonLiteral} {
				for _, m := range re.FindAllSubmatch(b, -1) {
					for _, g := range m[1:] {
						if len(g) > 0 {
							found[Reason(g)] = path
						}
					}
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return found
}

func TestEveryReasonInTheSourceIsDeclared(t *testing.T) {
	t.Parallel()
	found := sourceReasons(t)
	if len(found) < 40 {
		t.Fatalf("found only %d reason codes in the source: the patterns no longer match it", len(found))
	}
	for r, path := range found {
		if _, ok := Lookup(r); !ok {
			t.Errorf("%s: reason %q is not declared in problem/reason.go", path, r)
		}
	}
	for _, c := range Codes() {
		if _, ok := found[c.Reason]; !ok && !outcomeOnly(c.Reason) {
			t.Errorf("reason %q is declared but nothing produces it", c.Reason)
		}
	}
}

func outcomeOnly(r Reason) bool {
	switch r {
	case ReasonAllow, ReasonInternal, ReasonClientClosed, ReasonResponseAborted:
		return true
	}
	return false
}

func TestEveryDeclaredReasonHasAStatusAndAMeaning(t *testing.T) {
	t.Parallel()
	for _, c := range Codes() {
		if c.Status != StatusClientClosed && http.StatusText(c.Status) == "" || c.Meaning == "" || c.Where == "" {
			t.Errorf("%+v: want a status, a meaning and where it appears", c)
		}
	}
}
