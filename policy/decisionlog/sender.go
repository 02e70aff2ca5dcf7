package decisionlog

import (
	"errors"
	"math/rand/v2"
	"time"
)

// minRetryDelay is the first backoff step, doubled per failed attempt up
// to MaxRetryDelay; the actual wait is uniform in [0, step) (full jitter).
const minRetryDelay = 50 * time.Millisecond

// run is the sender goroutine. Batches go out strictly in cut order:
// first a failed batch the spool could not take (pending), then the spool
// oldest-first, then the queue. While the collector is failing, the queue
// is spilled into the spool so that it does not overflow and a crash loses
// little; the same happens when a slow collector lets the queue pass its
// high-water mark.
func (h *httpSink) run() {
	defer close(h.done)
	tick := time.NewTicker(h.o.FlushInterval)
	defer tick.Stop()
	var pending *batch
	attempt := 0
	for {
		select {
		case <-h.stop:
			h.drain(pending)
			return
		default:
		}
		b := pending
		if b == nil && h.spool != nil {
			var err error
			if b, err = h.spool.oldest(); err != nil {
				h.log.Error().Err(err).Msg("decision log spool unreadable")
			}
		}
		if b == nil {
			b = h.cut(false)
		}
		if b == nil {
			select {
			case <-h.stop:
				h.drain(nil)
				return
			case <-h.q.wake:
			case <-tick.C:
				if h.spool != nil && h.spool.empty() {
					if err := h.spool.scan(); err != nil {
						h.log.Error().Err(err).Msg("decision log spool unreadable")
					}
				}
				b = h.cut(true)
			}
			if b == nil {
				continue
			}
		}

		err := h.send(b, tick)
		var be *bulkError
		if errors.As(err, &be) {
			if b = h.partial(b, be); b == nil {
				pending, attempt = nil, 0
				continue
			}
		}
		if err == nil {
			if attempt > 0 {
				h.log.Info().Int("attempts", attempt+1).Msg("decision log collector reachable again")
			}
			attempt = 0
			h.sent.Inc()
			h.bytes.Add(float64(len(b.data)))
			h.delivered.Add(float64(b.events))
			if b.spooled {
				h.spool.remove(b.name)
			}
			pending = nil
			continue
		}
		h.failed.Inc()
		if rejectsBatch(err) {
			// Retrying would block every later event behind this batch.
			h.setAside(b, err)
			pending, attempt = nil, 0
			continue
		}
		if attempt == 0 { // once per outage, not once per retry
			h.log.Warn().Err(err).Str("url", h.o.URL).Msg("decision log collector unavailable, retrying")
		}
		if !b.spooled && !b.dropped {
			pending = b
			if h.spool != nil && h.spoolPut(b, false) == nil {
				pending = nil
			}
		}
		attempt++
		h.retries.Inc()
		if h.backoff(attempt, tick) {
			h.drain(pending)
			return
		}
	}
}

// setAside gives up on a batch the collector refused: it is kept in the
// spool directory as NAME.rejected (which replay ignores) when there is
// one, and counted as dropped either way.
func (h *httpSink) setAside(b *batch, err error) {
	h.rejected.Add(float64(b.events))
	h.log.Error().Err(err).Int("events", b.events).Msg("decision log collector refused a batch; it is set aside, not retried")
	if h.spool == nil {
		return
	}
	if !b.spooled {
		if werr := writeAtomic(h.spool.dir, b.name+".rejected", b.data); werr != nil {
			h.log.Error().Err(werr).Msg("decision log: cannot keep the refused batch")
		}
		return
	}
	h.spool.setAside(b.name, ".rejected")
}

// send POSTs b; meanwhile it spills the queue if it passes high water.
// Once the POST has been outstanding for a flush interval (a hanging or
// slow collector), b itself and everything queued go to the spool at once
// and then at every tick, so that a crash loses about the last flush
// interval of events instead of everything queued during the whole
// timeout. The first spill has a timer of its own: waiting for the ticker,
// whose phase is unrelated to the POST's start, could add almost a whole
// interval.
func (h *httpSink) send(b *batch, tick *time.Ticker) error {
	res := make(chan error, 1)
	go func() { res <- h.post(h.runCtx, b) }()
	hang := time.NewTimer(h.o.FlushInterval)
	defer hang.Stop()
	hanging := false
	for {
		select {
		case err := <-res:
			return err
		case <-h.q.wake:
			if h.q.length.Load() >= int64(h.q.highWater) {
				h.spill(false)
			}
		case <-hang.C:
			hanging = true
			if !b.spooled && !b.dropped && h.spool != nil {
				_ = h.spoolPut(b, false) // on error b stays in memory, as before
			}
			h.spill(true)
		case <-tick.C:
			if hanging || h.q.length.Load() >= int64(h.q.highWater) {
				h.spill(true)
			}
		}
	}
}

// backoff waits before retry attempt, spilling the queue as it fills. It
// reports whether Close was called.
func (h *httpSink) backoff(attempt int, tick *time.Ticker) bool {
	t := time.NewTimer(h.retryDelay(attempt))
	defer t.Stop()
	for {
		select {
		case <-t.C:
			return false
		case <-h.stop:
			return true
		case <-h.q.wake:
			h.spill(false)
		case <-tick.C:
			h.spill(true)
		}
	}
}

// spill moves queued events into the spool: full batches, or everything
// if partial. With no spool, or a full fail_closed one, events stay queued.
func (h *httpSink) spill(partial bool) {
	if h.spool == nil {
		return
	}
	for {
		b := h.cut(partial)
		if b == nil {
			return
		}
		if err := h.spoolPut(b, false); err != nil {
			h.q.unshift(b.items)
			return
		}
	}
}

// drain runs once at Close: it delivers everything still in memory, in
// order, POSTing until the Close context is done; whatever it cannot
// deliver goes to the spool (beyond its cap if need be). Only without a
// spool can events be lost; they are counted and logged.
func (h *httpSink) drain(pending *batch) {
	var rest []*batch
	if pending != nil {
		rest = append(rest, pending)
	}
	for b := h.cut(true); b != nil; b = h.cut(true) {
		rest = append(rest, b)
	}
	// While the spool holds older batches, newer ones must queue behind them.
	deliver := h.spool == nil || (pending == nil && h.spool.empty())
	for i, b := range rest {
		if deliver {
			if h.deliver(b) {
				continue
			}
			deliver = h.spool == nil
		}
		if h.spool != nil {
			if h.spoolPut(b, true) == nil {
				continue
			}
		}
		lost := 0
		for _, r := range rest[i:] {
			lost += r.events
		}
		h.lost.Add(float64(lost))
		h.log.Error().Int("events", lost).Msg("decision log events lost at shutdown: collector unreachable and no spool")
		return
	}
}

// deliver POSTs b during drain. With a spool it tries once (spooling is
// safe and fast); without one it retries until the Close context is done.
func (h *httpSink) deliver(b *batch) bool {
	for attempt := 1; ; attempt++ {
		err := h.post(h.runCtx, b)
		if err == nil {
			h.sent.Inc()
			h.bytes.Add(float64(len(b.data)))
			h.delivered.Add(float64(b.events))
			return true
		}
		h.failed.Inc()
		if h.spool != nil || h.runCtx.Err() != nil {
			return false
		}
		h.retries.Inc()
		t := time.NewTimer(h.retryDelay(attempt))
		select {
		case <-t.C:
		case <-h.runCtx.Done():
			t.Stop()
			return false
		}
	}
}

// retryDelay is exponential backoff with full jitter.
func (h *httpSink) retryDelay(attempt int) time.Duration {
	step := min(h.o.MaxRetryDelay, minRetryDelay<<min(attempt, 30))
	return rand.N(step + 1)
}

// spoolPut writes b to the spool. A write error (not a full fail_closed
// spool, which is a state, not a fault) is logged once per outage, when
// the first write fails, and again when writes succeed again; every failed
// write is counted in portcullis_decisionlog_spool_errors_total.
func (h *httpSink) spoolPut(b *batch, force bool) error {
	err := h.spool.put(b, force)
	switch {
	case err == nil:
		if h.spoolFailing {
			h.spoolFailing = false
			h.log.Info().Str("dir", h.o.SpoolDir).Msg("decision log spool writable again")
		}
	case !errors.Is(err, errSpoolFull):
		h.spoolErrs.Inc()
		if !h.spoolFailing {
			h.spoolFailing = true
			h.log.Error().Err(err).Str("dir", h.o.SpoolDir).Msg("decision log spool write failed")
		}
	}
	return err
}
