package bundle

import (
	"fmt"
	"strings"

	opabundle "github.com/open-policy-agent/opa/v1/bundle"
)

// CheckRoots refuses a set of bundles in which two bundles claim
// overlapping roots (OPA's rule: one root is a path prefix of the other,
// and the empty root overlaps everything), since their data and rules
// would silently shadow each other.
func CheckRoots(bs []*Loaded) error {
	for i := range bs {
		for j := i + 1; j < len(bs); j++ {
			for _, a := range bs[i].Roots {
				for _, b := range bs[j].Roots {
					if opabundle.RootPathsOverlap(a, b) {
						return fmt.Errorf("bundles %s and %s have overlapping roots %q and %q", bs[i].Name, bs[j].Name, a, b)
					}
				}
			}
		}
	}
	return nil
}

// checkDataRoots refuses data outside the manifest roots, as OPA does when
// it activates a bundle.
func checkDataRoots(roots []string, prefix string, data map[string]any) error {
	for k, v := range data {
		p := k
		if prefix != "" {
			p = prefix + "/" + k
		}
		if opabundle.RootPathsContain(roots, p) {
			continue
		}
		child, isObj := v.(map[string]any)
		if !isObj || !rootUnder(roots, p) {
			return fmt.Errorf("manifest roots %v do not permit data at path /%s", roots, p)
		}
		if err := checkDataRoots(roots, p, child); err != nil {
			return err
		}
	}
	return nil
}

// rootUnder reports whether some root lies below path p.
func rootUnder(roots []string, p string) bool {
	for _, r := range roots {
		if strings.HasPrefix(r, p+"/") {
			return true
		}
	}
	return false
}
