package config

import "time"

// Policy configures the Rego bundles and the decision rule.
type Policy struct {
	Bundles []BundleSource `yaml:"bundles"`
	// Shadow, when set, evaluates candidate bundles beside Bundles without
	// enforcing them (see Shadow).
	Shadow *Shadow `yaml:"shadow"`
	// Decision is the rule evaluated per request. Default data.portcullis.authz.decision.
	Decision string `yaml:"decision"`
	// Timeout of one evaluation. Default 50ms.
	Timeout time.Duration `yaml:"timeout"`
	// Watch reloads bundles when their files change. Default true.
	Watch *bool `yaml:"watch"`
	// Debounce of file events. Default 250ms.
	Debounce time.Duration `yaml:"debounce"`
	// RequireTests runs the bundle's test_ rules before activating it.
	RequireTests bool `yaml:"require_tests"`
	// InputCompat "opa-envoy" adds the OPA-Envoy input shape on every route
	// (a route may set its own).
	InputCompat string `yaml:"input_compat"`
	// Signing, when set, refuses bundles without a valid .signatures.json.
	Signing *BundleSigning `yaml:"signing"`
	// MaxBundleBytes caps the size of a bundle as read (also uncompressed). Default 64MiB.
	MaxBundleBytes ByteSize `yaml:"max_bundle_bytes"`
	// DecisionCacheSize bounds the decisions cached per policy generation,
	// keyed by the parts of the input the policy reads (README,
	// "Decision cache"). 0 takes the default 10000; -1 disables it.
	DecisionCacheSize int `yaml:"decision_cache_size"`
	// Services are the bundle servers url bundles and status reports use
	// (OPA's services), see remote.go.
	Services []Service `yaml:"services"`
	// PersistenceDirectory holds the last good copy of every url bundle.
	// Default .portcullis beside the configuration file.
	PersistenceDirectory string `yaml:"persistence_directory"`
	// Status, when set, reports bundle activations to an OPA Status API.
	Status *StatusReport `yaml:"status"`
}

// BundleSource is a bundle directory or .tar.gz file (Path), or a bundle
// downloaded from a server with OPA's bundle protocol (URL).
type BundleSource struct {
	Name string `yaml:"name"`
	Path string `yaml:"path"`
	// URL is absolute, or relative to Service's url (OPA's resource).
	URL string `yaml:"url"`
	// Service names a policy.services entry for credentials, headers and TLS.
	Service string `yaml:"service"`
	// Polling of a url bundle. Default 60s..120s, as OPA.
	Polling BundlePolling `yaml:"polling"`
	// Persist keeps the last good download for a start-up while the server
	// is unreachable. Default true.
	Persist *bool `yaml:"persist"`
	// File is what a url bundle is read from: its last good download
	// under policy.persistence_directory.
	File string `yaml:"-"`
}

// BundleSigning verifies OPA bundle signatures.
type BundleSigning struct {
	// KeyFile is the public key (PEM) or HMAC secret file.
	KeyFile string `yaml:"key_file"`
	// KeyID is the key id the signature must name. Default "default".
	KeyID string `yaml:"key_id"`
	// Algorithm. Default RS256.
	Algorithm string `yaml:"algorithm"`
	// Scope the signature must carry, when set.
	Scope string `yaml:"scope"`
}
