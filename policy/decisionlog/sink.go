package decisionlog

import (
	"context"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// Sink carries event lines somewhere: stdout, a file, a collector, a
// syslog receiver. A Logger writes every event to each of its sinks.
// Methods are safe for concurrent use.
//
// A Sink outlives a Logger when a newer Logger is built around it (a reload
// whose settings for it did not change): New holds every sink it is given
// and Close closes only the sinks no other open Logger holds, so queued
// events survive the reload.
type Sink interface {
	// Write takes one event line, ending in '\n', and never blocks: a line
	// the sink cannot take is dropped and counted. The line is shared by
	// every sink and never modified; the sink may keep it.
	Write(line []byte)
	// Accepting reports whether the sink can take more events. It is false
	// only for a fail_closed sink whose queue (and spool) is full; the
	// gateway then refuses requests rather than leave decisions unlogged.
	Accepting() bool
	// Reopen lets go of the file or connection, so the next write opens
	// the path (after logrotate renamed it) or dials again. SIGHUP calls it.
	Reopen() error
	// Close delivers what is queued within ctx and stops the sink. Write
	// must not be called afterwards; a Logger ensures that.
	Close(ctx context.Context) error
	// Options returns the options the sink was opened with. Options of
	// every sink are comparable with ==, so a caller rebuilding the Logger
	// keeps the sinks whose options are equal instead of opening new ones.
	Options() SinkOptions

	held() *holders
}

// SinkOptions configures one sink: StdoutOptions, FileOptions,
// HTTPOptions, SyslogOptions. Values are comparable with ==.
type SinkOptions interface {
	// Open validates the options, refusing any bad or missing value with
	// an error naming the field, and starts the sink.
	Open(env Env) (Sink, error)
}

// Env is what sinks share with the gateway, kept apart from SinkOptions
// so that those stay comparable.
type Env struct {
	// Logger is the gateway's own log, for sink errors. Event contents
	// are never written to it.
	Logger zerolog.Logger
	// Registerer receives the sink's metrics, labelled sink=<type>. If
	// nil, they are not registered.
	Registerer prometheus.Registerer
}

// holders counts the open Loggers that hold a sink.
type holders struct {
	mu sync.Mutex
	n  int
}

func (h *holders) held() *holders { return h }

func (h *holders) add() {
	h.mu.Lock()
	h.n++
	h.mu.Unlock()
}

// release drops one holder and reports whether it was the last.
func (h *holders) release() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.n--
	return h.n <= 0
}
