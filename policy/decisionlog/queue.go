package decisionlog

import (
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// queue is the HTTP sink's bounded in-memory FIFO of encoded events.
// Log pushes; only the sender goroutine takes.
type queue struct {
	mu     sync.Mutex
	items  [][]byte // items[head:] are queued, oldest first
	head   int
	bytes  int64
	length atomic.Int64 // len(items)-head, read by Accepting without the lock

	hard       int  // events kept at most
	dropOldest bool // at hard: drop the oldest (counted), else refuse the new one (counted)
	ready      int  // events that make a batch worth sending now
	readyBytes int64
	highWater  int // events at which the sender spills to the spool mid-send

	wake  chan struct{} // signalled when a batch is ready
	gauge prometheus.Gauge
	drops prometheus.Counter
}

func newQueue(o HTTPOptions, m sinkMetrics) *queue {
	hard := o.QueueEvents
	if o.OnFull == OnFullFailClosed {
		// Accepting turns false at QueueEvents; the slack keeps the events of
		// requests already past that check, and of the 503s themselves.
		hard += o.QueueEvents/4 + 64
	}
	return &queue{
		hard:       hard,
		dropOldest: o.OnFull == OnFullDropOldest,
		ready:      o.BatchEvents,
		readyBytes: o.BatchBytes,
		highWater:  max(o.QueueEvents/2, 1),
		wake:       make(chan struct{}, 1),
		gauge:      m.queue,
		drops:      m.full,
	}
}

// push appends b, never blocking.
func (q *queue) push(b []byte) {
	q.mu.Lock()
	if q.len() >= q.hard {
		if !q.dropOldest {
			q.mu.Unlock()
			q.drops.Inc()
			return
		}
		q.bytes -= int64(len(q.items[q.head]))
		q.items[q.head] = nil
		q.head++
		q.compact()
		q.drops.Inc()
		q.gauge.Dec()
	}
	q.items = append(q.items, b)
	q.bytes += int64(len(b))
	n := q.len()
	q.length.Store(int64(n))
	signal := n >= q.ready || q.bytes >= q.readyBytes || n >= q.highWater
	q.mu.Unlock()
	q.gauge.Inc()
	if signal {
		select {
		case q.wake <- struct{}{}:
		default:
		}
	}
}

func (q *queue) len() int { return len(q.items) - q.head }

// take removes and returns the oldest events, up to maxEvents and maxBytes
// but at least one; nil when fewer than a ready batch are queued, unless
// partial.
func (q *queue) take(maxEvents int, maxBytes int64, partial bool) [][]byte {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := q.len()
	if n == 0 || (!partial && n < q.ready && q.bytes < q.readyBytes) {
		return nil
	}
	var size int64
	k := 0
	for k < n && k < maxEvents {
		l := int64(len(q.items[q.head+k]))
		if k > 0 && size+l > maxBytes {
			break
		}
		size += l
		k++
	}
	out := make([][]byte, k)
	copy(out, q.items[q.head:q.head+k])
	clear(q.items[q.head : q.head+k])
	q.head += k
	q.bytes -= size
	q.compact()
	q.length.Store(int64(q.len()))
	q.gauge.Sub(float64(k))
	return out
}

// compact moves the queued events to the start of the backing array once
// half of it is consumed, so it stays bounded by about twice the queue.
func (q *queue) compact() {
	if q.head > len(q.items)/2 {
		n := copy(q.items, q.items[q.head:])
		clear(q.items[n:])
		q.items = q.items[:n]
		q.head = 0
	}
}

// unshift puts events taken by take back at the front, oldest first. Only
// fail_closed uses it, where push never removes from the front.
func (q *queue) unshift(events [][]byte) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.items = append(append(make([][]byte, 0, len(events)+q.len()), events...), q.items[q.head:]...)
	q.head = 0
	for _, e := range events {
		q.bytes += int64(len(e))
	}
	q.length.Store(int64(q.len()))
	q.gauge.Add(float64(len(events)))
}
