package decisionlog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/rs/zerolog"
)

// streamQueue bounds the events waiting for a stdout, file or syslog write.
const streamQueue = 4096

// coalesceBytes bounds one write of several queued events.
const coalesceBytes = 64 << 10

// writeEvery spaces a busy stream's writes: an event that comes sooner
// after the last write waits for the rest of the interval, and whatever
// queues meanwhile goes out in the same system call. Under load that is
// one write (and one wake-up of the stream) per interval instead of one
// per event, which cost a file sink about 3 % of the gateway's CPU; an
// event waits at most this long, and one after a quiet spell none at all.
// A write that filled coalesceBytes is not followed by a wait: the queue is
// backing up, and waiting would cap the sink at coalesceBytes per interval.
const writeEvery = time.Millisecond

// StdoutOptions configures the stdout sink.
type StdoutOptions struct {
	// W receives one JSON line per event: os.Stdout in the gateway. It is
	// compared with == (a pointer, as writers are).
	W io.Writer
}

// Open starts the sink.
func (o StdoutOptions) Open(env Env) (Sink, error) {
	if o.W == nil {
		return nil, errors.New("stdout: no writer")
	}
	return newStream("stdout", o, o.W, nil, false, env)
}

// stream is the stdout, file and syslog sink: it writes events to an
// io.Writer from its own goroutine, so a slow writer never blocks Log;
// when its queue is full, events are dropped and counted, as OPA does.
type stream struct {
	holders
	name string
	opts SinkOptions
	w    io.Writer
	// perEvent keeps one Write per event (syslog frames each one); other
	// streams write what is queued at once, one system call for many events.
	perEvent bool
	// closer, if not nil, is closed by Reopen (the writer opens again at
	// the next write) and after the queue is drained.
	closer io.Closer
	ch     chan queued
	done   chan struct{}
	log    zerolog.Logger
	m      sinkMetrics
}

func newStream(name string, opts SinkOptions, w io.Writer, closer io.Closer, perEvent bool, env Env) (*stream, error) {
	_, m, err := openSinkMetrics(env, name)
	if err != nil {
		return nil, err
	}
	s := &stream{
		name:     name,
		opts:     opts,
		perEvent: perEvent,
		w:        w,
		closer:   closer,
		ch:       make(chan queued, streamQueue),
		done:     make(chan struct{}),
		log:      env.Logger,
		m:        m,
	}
	go s.run()
	return s, nil
}

func (s *stream) Options() SinkOptions { return s.opts }

// Accepting is always true: a full stream queue drops (best effort).
func (s *stream) Accepting() bool { return true }

// queued is one event line waiting in a stream; pooled, when not nil,
// is the linePool buffer holding it, which the stream alone owns and gives
// back once the line is copied or written.
type queued struct {
	b      []byte
	pooled *[]byte
}

func (s *stream) Write(b []byte) { s.enqueue(queued{b: b}) }

// writeOwned is Write of the line in *bp, handing the buffer over.
func (s *stream) writeOwned(bp *[]byte) { s.enqueue(queued{b: *bp, pooled: bp}) }

func (s *stream) enqueue(q queued) {
	s.m.queue.Inc() // before the send, so that run never takes the gauge below zero
	select {
	case s.ch <- q:
	default:
		q.release()
		s.m.queue.Dec()
		s.m.full.Inc()
	}
}

// release gives the line's buffer back, if the stream owns it.
func (q queued) release() {
	if q.pooled != nil {
		putLine(q.pooled)
	}
}

func (s *stream) run() {
	defer close(s.done)
	failing, torn := false, false
	var buf []byte
	var last time.Time // of the last write
	full := false      // the last write took coalesceBytes
	for {
		if !s.perEvent && !full {
			// The rest of the interval is waited out before the queue is
			// looked at, not after its first event arrived: a busy stream
			// then wakes once per write (the timer), not also for the
			// send of each interval's first event. An event after a quiet
			// spell still finds the interval over and is written at once.
			if wait := writeEvery - time.Since(last); wait > 0 {
				time.Sleep(wait)
			}
		}
		q, ok := <-s.ch
		if !ok {
			return
		}
		// The line is copied, so its buffer can go back at once.
		buf = append(buf[:0], q.b...)
		q.release()
		n := 1
		if !s.perEvent {
			buf, n = s.coalesce(buf)
			full = len(buf) >= coalesceBytes
		}
		b := buf
		s.m.queue.Sub(float64(n))
		var err error
		if torn {
			// The last write left a partial line that could not be cut
			// off: end it, so this write starts on a line of its own.
			if _, err = s.w.Write([]byte{'\n'}); err == nil {
				torn = false
			}
		}
		written := 0
		if err == nil {
			written, err = s.w.Write(b)
			// A syslog write is a whole frame or nothing: no torn lines.
			torn = err != nil && !s.perEvent && s.cutPartial(written, b)
		}
		if err != nil {
			// Events wholly written before the disk filled are delivered.
			whole := bytes.Count(b[:written], []byte{'\n'})
			s.m.bytes.Add(float64(bytes.LastIndexByte(b[:written], '\n') + 1))
			s.m.delivered.Add(float64(whole))
			s.m.writeErrs.Add(float64(n - whole))
			if !failing { // once per outage, not once per event
				s.log.Error().Err(err).Str("sink", s.name).Msg("decision log write failed")
			}
			failing = true
			continue
		}
		failing = false
		s.m.bytes.Add(float64(len(b)))
		s.m.delivered.Add(float64(n))
		last = time.Now()
	}
}

// tailTruncater is a writer that can remove the last n bytes it wrote:
// the file sink, where a full disk can cut a write short.
type tailTruncater interface {
	truncateTail(n int64) error
}

// cutPartial handles a write of b that stopped after written bytes (a
// full disk): the bytes of the event it cut in half are truncated away if
// the writer can, so readers never see a torn line. It reports whether a
// partial line is left in place, which the next write must first end.
func (s *stream) cutPartial(written int, b []byte) bool {
	partial := written - (bytes.LastIndexByte(b[:written], '\n') + 1)
	if partial == 0 {
		return false
	}
	t, ok := s.w.(tailTruncater)
	if !ok {
		return true
	}
	if err := t.truncateTail(int64(partial)); err != nil {
		s.log.Error().Err(err).Str("sink", s.name).Msg("decision log: cannot cut off a partial event; the next one starts on a new line")
		return true
	}
	return false
}

// coalesce appends the events already queued to buf, up to coalesceBytes,
// and returns it with the number of events it holds.
func (s *stream) coalesce(buf []byte) ([]byte, int) {
	n := 1
	for len(buf) < coalesceBytes {
		select {
		case q, ok := <-s.ch:
			if !ok {
				return buf, n
			}
			buf = append(buf, q.b...)
			q.release()
			n++
		default:
			return buf, n
		}
	}
	return buf, n
}

func (s *stream) Reopen() error {
	if s.closer == nil {
		return nil
	}
	if err := s.closer.Close(); err != nil {
		return fmt.Errorf("%s sink reopen: %w", s.name, err)
	}
	return nil
}

// Close drains the queue within ctx.
func (s *stream) Close(ctx context.Context) error {
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
