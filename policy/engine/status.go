package engine

import "time"

// BundleStatus describes one active bundle.
type BundleStatus struct {
	Name     string `json:"name"`
	Revision string `json:"revision"`
	Path     string `json:"path"`
}

// Status is the engine's state for the admin endpoint GET /v1/status.
type Status struct {
	Bundles     []BundleStatus `json:"bundles"`
	LoadedAt    time.Time      `json:"loaded_at"`
	LastError   string         `json:"last_error,omitempty"`
	LastErrorAt *time.Time     `json:"last_error_at,omitempty"`
	// Reloads counts successful reloads since start.
	Reloads int64 `json:"reloads"`
	// DecisionCache is "on", or why the active policy's decisions are not
	// cached (see Options.DecisionCacheSize).
	DecisionCache string `json:"decision_cache,omitempty"`
}

// Status returns the active bundles and the outcome of the last reload.
// LastError is the last failed reload's message, cleared by a successful one.
func (e *Engine) Status() Status {
	s := Status{Reloads: e.reloads.Load()}
	if c := e.state.Load(); c != nil {
		s.Bundles = append([]BundleStatus(nil), c.bundles...)
		s.LoadedAt = c.loadedAt
		s.DecisionCache = c.cacheState()
	}
	e.statusMu.Lock()
	if e.lastErr != "" {
		at := e.lastErrAt
		s.LastError, s.LastErrorAt = e.lastErr, &at
	}
	e.statusMu.Unlock()
	return s
}
