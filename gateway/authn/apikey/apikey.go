// Package apikey authenticates API keys against hashed keys held in bundle data.
package apikey

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"math"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/portcullis/portcullis/gateway/pipeline"
	"github.com/portcullis/portcullis/gateway/problem"
	"github.com/portcullis/portcullis/internal/promreg"
	"github.com/portcullis/portcullis/policy"
)

// Reason codes of the problems Authenticate returns.
const (
	ReasonInvalid     = "api_key_invalid"
	ReasonExpired     = "api_key_expired"
	ReasonNotYetValid = "api_key_not_yet_valid"
	ReasonUnavailable = "api_keys_unavailable"
)

// maxKeyBytes bounds a presented key; longer ones cannot be in the index.
const maxKeyBytes = 1024

// challenge is the WWW-Authenticate value of a 401 for a bad API key. There
// is no registered scheme for API keys; like Kong's key-auth we name one.
const challenge = "APIKey"

// Options are the dependencies of an Authenticator. The zero value works.
type Options struct {
	// Logger receives debug events for rejected keys (key id only, never the key).
	Logger zerolog.Logger
	// Registerer receives the metrics; nil registers none.
	Registerer prometheus.Registerer
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Authenticator verifies credentials of kind "api_key" against the current
// [Index]. It is safe for concurrent use; SetIndex may run at any time.
type Authenticator struct {
	idx     atomic.Pointer[Index]
	log     zerolog.Logger
	now     func() time.Time
	results *prometheus.CounterVec
	ok      prometheus.Counter // results{result="ok"}, resolved once
	keys    prometheus.Gauge
	// memos give the identities of a key one shared policy.Memo, so that
	// its policy value is built once; a slot serves the last key that
	// hashed to it (bounded, lock-free, allocation only on a miss).
	memos [memoSlots]atomic.Pointer[memoSlot]
}

const memoSlots = 4096

type memoSlot struct {
	key  entry
	memo policy.Memo
}

var _ pipeline.Authenticator = (*Authenticator)(nil)

// New returns an Authenticator with no index: until SetIndex is called every
// key gets 503 api_keys_unavailable (fail closed while bundles load).
func New(opts Options) *Authenticator {
	a := &Authenticator{log: opts.Logger, now: opts.Now}
	if a.now == nil {
		a.now = time.Now
	}
	a.results = promreg.MustRegister(opts.Registerer, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "portcullis_apikey_authentications_total",
		Help: "API-key authentications by result: ok, revoked (a key on the revocation list) or the reason code of the rejection.",
	}, []string{"result"}))
	a.ok = a.results.WithLabelValues("ok")
	a.keys = promreg.MustRegister(opts.Registerer, prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "portcullis_apikey_keys",
		Help: "Number of API keys in the index currently loaded from bundle data.",
	}))
	return a
}

// SetIndex atomically replaces the index: requests that start afterwards see
// only the new keys, so dropping a key from bundle data revokes it. A nil
// x unloads the index (503 api_keys_unavailable).
func (a *Authenticator) SetIndex(x *Index) {
	a.idx.Store(x)
	if x == nil {
		a.keys.Set(0)
		return
	}
	a.keys.Set(float64(x.Len()))
}

// Authenticate implements [pipeline.Authenticator]. It returns
// [pipeline.ErrNoCredential] for credentials that are not API keys.
// Ready reports whether an index is loaded; without one every key gets 503.
func (a *Authenticator) Ready() bool { return a.idx.Load() != nil }

func (a *Authenticator) Authenticate(_ context.Context, cred pipeline.Credential) (*policy.Identity, error) {
	if cred.Kind != "api_key" {
		return nil, pipeline.ErrNoCredential
	}
	x := a.idx.Load()
	if x == nil {
		a.results.WithLabelValues(ReasonUnavailable).Inc()
		return nil, problem.New(http.StatusServiceUnavailable, ReasonUnavailable, "API keys are not loaded yet").
			WithHeader("Retry-After", "5")
	}
	if len(cred.Value) == 0 || len(cred.Value) > maxKeyBytes {
		return nil, a.reject(ReasonInvalid, "the API key is not valid", "")
	}
	// The map compares SHA-256 digests, never the key: the lookup's timing
	// depends only on the digest of the presented key, and an attacker who
	// learns how many leading bytes of that digest match a stored one gains
	// nothing, because producing a key with a chosen digest prefix is a
	// preimage search. So the lookup leaks nothing usable about valid keys.
	sum := sha256.Sum256([]byte(cred.Value))
	k, ok := x.lookup(&sum)
	if !ok {
		return nil, a.reject(ReasonInvalid, "the API key is not valid", "")
	}
	if x.revoked.has(k) {
		// Refused exactly like an unknown key; only the metric and the
		// debug line say why.
		return nil, a.refuse(resultRevoked, ReasonInvalid, "the API key is not valid", k.id)
	}
	now := a.now().Unix()
	if now < k.nbf {
		return nil, a.reject(ReasonNotYetValid, "the API key is not valid yet", k.id)
	}
	if now >= k.exp {
		return nil, a.reject(ReasonExpired, "the API key has expired", k.id)
	}
	a.ok.Inc()
	var exp time.Time
	if k.exp != math.MaxInt64 {
		exp = time.Unix(k.exp, 0).UTC()
	}
	return &policy.Identity{
		Authenticated: true,
		Method:        policy.MethodAPIKey,
		Subject:       k.cons.name,
		Consumer:      k.cons.name,
		Groups:        k.cons.groups,
		KeyID:         k.id,
		ExpiresAt:     exp,
		Memo:          a.memo(k),
	}, nil
}

// memo returns the shared memo of k's identities.
func (a *Authenticator) memo(k *entry) *policy.Memo {
	slot := &a.memos[int(binary.BigEndian.Uint16(k.hash[2:]))%memoSlots]
	if s := slot.Load(); s != nil && s.key == *k {
		return &s.memo
	}
	s := &memoSlot{key: *k}
	slot.Store(s)
	return &s.memo
}

func (a *Authenticator) reject(reason, detail, keyID string) *problem.Problem {
	return a.refuse(reason, reason, detail, keyID)
}

// resultRevoked is the metric's result for a key on the revocation list.
const resultRevoked = "revoked"

// refuse counts a rejection under result and returns its problem.
func (a *Authenticator) refuse(result, reason, detail, keyID string) *problem.Problem {
	a.results.WithLabelValues(result).Inc()
	a.log.Debug().Str("reason", reason).Str("key_id", keyID).Bool("revoked", result == resultRevoked).Msg("api key rejected")
	return problem.New(http.StatusUnauthorized, problem.Reason(reason), detail).WithHeader("WWW-Authenticate", challenge)
}
