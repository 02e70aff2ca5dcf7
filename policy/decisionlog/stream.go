package decisionlog

import (
	"context"
	"fmt"
	"io"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// streamQueue bounds the events waiting for a stdout or file write.
const streamQueue = 4096

// coalesceBytes bounds one write of several queued events.
const coalesceBytes = 64 << 10

// sink receives every logged event. write must not block and must not
// modify or retain b beyond reading it (b is shared by all sinks).
type sink interface {
	write(b []byte)
	close(ctx context.Context) error
}

// stream writes events to an io.Writer from its own goroutine, so a slow
// writer never blocks Log; when its queue is full, events are dropped and
// counted, as OPA does.
type stream struct {
	name string
	w    io.Writer
	// perEvent keeps one Write per event (syslog frames each one); other
	// streams write what is queued at once, one system call for many events.
	perEvent bool
	closer   io.Closer // closed after the queue is drained, if not nil
	ch       chan []byte
	done     chan struct{}
	log      zerolog.Logger

	bytes, full, errs prometheus.Counter
}

func newStream(name string, w io.Writer, closer io.Closer, perEvent bool, log zerolog.Logger, m *metrics) *stream {
	s := &stream{
		name:     name,
		perEvent: perEvent,
		w:        w,
		closer:   closer,
		ch:       make(chan []byte, streamQueue),
		done:     make(chan struct{}),
		log:      log,
		bytes:    m.bytes.WithLabelValues(name),
		full:     m.drops.WithLabelValues(name, dropQueueFull),
		errs:     m.drops.WithLabelValues(name, dropWrite),
	}
	go s.run()
	return s
}

func (s *stream) write(b []byte) {
	select {
	case s.ch <- b:
	default:
		s.full.Inc()
	}
}

func (s *stream) run() {
	defer close(s.done)
	failing := false
	var buf []byte
	for b := range s.ch {
		n := 1
		if !s.perEvent {
			buf, n = s.coalesce(append(buf[:0], b...))
			b = buf
		}
		if _, err := s.w.Write(b); err != nil {
			s.errs.Add(float64(n))
			if !failing { // once per outage, not once per event
				s.log.Error().Err(err).Str("sink", s.name).Msg("decision log write failed")
			}
			failing = true
			continue
		}
		failing = false
		s.bytes.Add(float64(len(b)))
	}
}

// coalesce appends the events already queued to buf, up to coalesceBytes,
// and returns it with the number of events it holds.
func (s *stream) coalesce(buf []byte) ([]byte, int) {
	n := 1
	for len(buf) < coalesceBytes {
		select {
		case b, ok := <-s.ch:
			if !ok {
				return buf, n
			}
			buf = append(buf, b...)
			n++
		default:
			return buf, n
		}
	}
	return buf, n
}

// close drains the queue within ctx. Log must not call write afterwards.
func (s *stream) close(ctx context.Context) error {
	close(s.ch)
	select {
	case <-s.done:
	case <-ctx.Done():
		return fmt.Errorf("%s sink: %d events not written: %w", s.name, len(s.ch), ctx.Err())
	}
	if s.closer != nil {
		if err := s.closer.Close(); err != nil {
			return fmt.Errorf("%s sink: %w", s.name, err)
		}
	}
	return nil
}
