package listener

import (
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Conn is a client connection carrying HTTP/1.x. It scans the request
// stream as Go's server reads it and stops delivering bytes at the start of
// a request head it refuses: Go sees the end of the stream there, so that
// request and everything after it never reach the handler. When Go then
// closes the connection, after any response it was still writing, Conn
// writes the gateway's own answer to the refused request and closes.
//
// On the common path Read only scans the bytes Go's own buffer received:
// no copy, no allocation.
type Conn struct {
	net.Conn
	l   *Listener
	tls *tls.ConnectionState // of an HTTP/1.1 connection over TLS
	sc  scanner
	// broken is set when a body's chunked framing cannot be parsed: Go's
	// server gets the end of the stream inside the body, answers the
	// request it is reading (its body unreadable) and closes.
	broken bool

	refused atomic.Pointer[refusal]
	// idle is Go's view: no request is being served (http.StateNew or
	// http.StateIdle), so its next read is for a request head.
	idle atomic.Bool
	// reached is set once Go asked for the refused head: from then on
	// what Go writes is its own error for it, never sent.
	reached atomic.Bool
	// opaque is set once the connection is hijacked (an upgrade): its
	// bytes are no longer HTTP/1.x requests.
	opaque    atomic.Bool
	closeOnce sync.Once
}

func (c *Conn) Read(p []byte) (int, error) {
	if c.opaque.Load() {
		return c.Conn.Read(p)
	}
	if c.refused.Load() != nil {
		return c.afterRefusal()
	}
	if c.broken {
		return 0, io.EOF
	}
	n, err := c.Conn.Read(p)
	if n > 0 {
		cut, ref, ok := c.sc.feed(p[:n])
		if !ok {
			if ref != nil {
				c.refused.Store(ref)
			} else {
				c.broken = true
			}
			if cut == 0 {
				if ref != nil {
					return c.afterRefusal()
				}
				return 0, io.EOF
			}
			return cut, nil
		}
	}
	return n, err
}

// afterRefusal is every read once a head was refused. When Go reads for a
// request head it gets the end of the stream. Otherwise it is Go's
// background read while the previous response is written (the one that
// detects a client going away): it waits, discarding what arrives, until
// Go cancels it with a past deadline or the client closes.
func (c *Conn) afterRefusal() (int, error) {
	if c.idle.Load() {
		c.reached.Store(true)
		return 0, io.EOF
	}
	var buf [512]byte
	for {
		if _, err := c.Conn.Read(buf[:]); err != nil {
			return 0, err
		}
	}
}

func (c *Conn) Write(p []byte) (int, error) {
	if c.reached.Load() {
		return len(p), nil // Go's own 400 for the head it saw cut short
	}
	return c.Conn.Write(p)
}

// Close answers a refused request that Go reached, then closes.
func (c *Conn) Close() error {
	err := net.ErrClosed
	c.closeOnce.Do(func() {
		if ref := c.refused.Load(); ref != nil && c.reached.Load() {
			c.l.answer(c, ref)
		}
		err = c.Conn.Close()
	})
	return err
}

func (c *Conn) setState(s http.ConnState) {
	switch s {
	case http.StateNew, http.StateIdle:
		c.idle.Store(true)
	case http.StateActive:
		c.idle.Store(false)
	case http.StateHijacked:
		c.opaque.Store(true)
	}
}

// answerTimeout bounds writing the answer to a refused request and
// draining what the client still sends.
const answerTimeout = 2 * time.Second

// drainBytes is how much of what follows a refused request is read before
// closing, so the client gets the answer rather than a reset (Go's server
// does the same after its own 400s).
const drainBytes = 256 << 10

type closeWriter interface{ CloseWrite() error }

// finish half-closes c after the answer and reads what the client still
// sends, for a bounded time, before the caller closes.
func finish(c net.Conn) {
	if cw, ok := c.(closeWriter); ok {
		_ = cw.CloseWrite()
	}
	_ = c.SetReadDeadline(time.Now().Add(answerTimeout))
	_, _ = io.CopyN(io.Discard, c, drainBytes)
}
