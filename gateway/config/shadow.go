package config

import (
	"fmt"
	"os"
)

// Shadow is policy.shadow: candidate bundles evaluated on live traffic
// beside the enforced ones, off the request's path, whose decisions are
// counted and logged but never change a response (README, "The policy
// lifecycle"). They are loaded with the enforced bundles' rules (decision
// rule, timeout, size cap, signing, require_tests), all or nothing.
type Shadow struct {
	// Bundles are the candidate bundles, as policy.bundles. Required.
	Bundles []BundleSource `yaml:"bundles"`
	// Sample is the fraction of requests evaluated by the shadow, in
	// (0, 1]. Default 1.
	Sample float64 `yaml:"sample"`
	// QueueSize bounds the requests waiting for a shadow decision; when it
	// is full a request is not shadowed and is counted as dropped. Default 1000.
	QueueSize int `yaml:"queue_size"`
}

func (c *Config) validateShadow(ch *checker) {
	s := c.Policy.Shadow
	if s == nil {
		return
	}
	if len(s.Bundles) == 0 {
		ch.add("policy.shadow.bundles", "at least one bundle is required")
	}
	ch.bundles("policy.shadow.bundles", s.Bundles)
	if !(s.Sample > 0 && s.Sample <= 1) {
		ch.add("policy.shadow.sample", "%v is out of range (want >0..1)", s.Sample)
	}
	if s.QueueSize < 1 || s.QueueSize > 1_000_000 {
		ch.add("policy.shadow.queue_size", "%d is out of range (want 1..1000000)", s.QueueSize)
	}
}

// bundles checks a list of bundle sources: names unique and set, paths present.
func (ch *checker) bundles(field string, srcs []BundleSource) {
	names := map[string]bool{}
	for i, b := range srcs {
		f := fmt.Sprintf("%s[%d]", field, i)
		if b.Name == "" {
			ch.add(f+".name", "is required")
		} else if names[b.Name] {
			ch.add(f+".name", "%q is used twice", b.Name)
		}
		names[b.Name] = true
		switch {
		case b.Path != "" && b.URL != "":
			ch.add(f, "set exactly one of path, url")
		case b.URL != "": // see validateRemote
		case b.Path == "":
			ch.add(f+".path", "is required (or url)")
		default:
			if _, err := os.Stat(b.Path); err != nil {
				ch.add(f+".path", "%v", err)
			}
		}
	}
}
