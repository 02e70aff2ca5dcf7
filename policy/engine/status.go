package engine

import "time"

// BundleStatus describes one active bundle.
type BundleStatus struct {
	Name     string `json:"name"`
	Revision string `json:"revision"`
	// Hash is the bundle's content hash (hex SHA-256, see policy.BundleID).
	Hash string `json:"hash"`
	Path string `json:"path"`
}

// Status is the engine's state for the admin endpoint GET /v1/status.
type Status struct {
	Bundles  []BundleStatus `json:"bundles"`
	LoadedAt time.Time      `json:"loaded_at"`
	// DecisionCache is "on", or why the active policy's decisions are not
	// cached (see Options.DecisionCacheSize).
	DecisionCache string `json:"decision_cache,omitempty"`
}

// Status returns the engine's bundles and when they were compiled.
func (e *Engine) Status() Status {
	c := e.state.Load()
	return Status{Bundles: append([]BundleStatus(nil), c.bundles...), LoadedAt: c.loadedAt, DecisionCache: c.cacheState()}
}
