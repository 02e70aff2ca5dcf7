// Package listener accepts client connections: it bounds their number,
// terminates TLS, and refuses HTTP/1.x requests whose framing could be read
// two ways before Go's server hands them to the gateway.
package listener

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Options configure a Listener.
type Options struct {
	// MaxConnections bounds the open connections; one accepted beyond it
	// is closed at once and counted. Must be positive.
	MaxConnections int
	// MaxHeaderBytes bounds an HTTP/1.x request head; above it the
	// request gets 431 headers_too_large. Must be positive.
	MaxHeaderBytes int
	// TLS, when set, makes the listener terminate TLS: connections that
	// negotiate h2 are handed to Go's server as *tls.Conn (its HTTP/2
	// server frames requests itself), the others are scanned like
	// plaintext ones and carry their TLS state (see ConnContext).
	TLS *tls.Config
	// HandshakeTimeout bounds a TLS handshake. Default 10s.
	HandshakeTimeout time.Duration
	// Refused answers a refused request. It gets a request built from the
	// head that was read (method, target, Host, client address), whose
	// context carries the problem (see [Refusal]), and a writer whose
	// response is sent with Connection: close. Required.
	Refused http.Handler
	// Registerer takes the connection metrics. Nil: not registered.
	Registerer prometheus.Registerer
	// ErrorLog gets a failed TLS handshake in the words Go's server uses
	// for one ("http: TLS handshake error from ..."), so the server's own
	// error log treats both alike. Nil: not logged.
	ErrorLog *log.Logger
}

// Listener is a net.Listener for the gateway's http.Server, which must use
// its ConnState and ConnContext methods.
type Listener struct {
	inner   net.Listener
	o       Options
	open    atomic.Int64
	refused prometheus.Counter

	// With TLS, handshakes run apart from Accept so that a slow client
	// cannot hold up the others.
	ready     chan net.Conn
	errc      chan error
	done      chan struct{}
	closeOnce sync.Once
}

// New wraps inner.
func New(inner net.Listener, o Options) (*Listener, error) {
	if o.MaxConnections <= 0 || o.MaxHeaderBytes <= 0 || o.Refused == nil {
		return nil, errors.New("listener: MaxConnections, MaxHeaderBytes and Refused are required")
	}
	if o.HandshakeTimeout <= 0 {
		o.HandshakeTimeout = 10 * time.Second
	}
	l := &Listener{inner: inner, o: o, done: make(chan struct{})}
	l.refused = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "portcullis_connections_refused_total",
		Help: "Client connections closed on accept because listen.max_connections were open.",
	})
	if o.Registerer != nil {
		open := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "portcullis_connections_open",
			Help: "Client connections open on the proxy listener.",
		}, func() float64 { return float64(l.open.Load()) })
		for _, c := range []prometheus.Collector{open, l.refused} {
			if err := o.Registerer.Register(c); err != nil {
				return nil, err
			}
		}
	}
	if o.TLS != nil {
		l.ready, l.errc = make(chan net.Conn), make(chan error, 1)
		go l.acceptTLS()
	}
	return l, nil
}

// Accept returns the next connection within the limit.
func (l *Listener) Accept() (net.Conn, error) {
	if l.o.TLS != nil {
		select {
		case c := <-l.ready:
			return c, nil
		case err := <-l.errc:
			return nil, err
		case <-l.done:
			return nil, net.ErrClosed
		}
	}
	for {
		c, err := l.admit()
		if err != nil {
			return nil, err
		}
		if c != nil {
			return l.wrap(c, nil), nil
		}
	}
}

// admit accepts one connection; it returns nil, nil when it was over the
// limit and closed.
func (l *Listener) admit() (*counted, error) {
	raw, err := l.inner.Accept()
	if err != nil {
		return nil, err
	}
	// Closing at once, rather than holding Accept as netutil.LimitListener
	// does, keeps the kernel's backlog for the moment a slot frees and
	// tells a client straight away (Envoy's max_downstream_connections).
	if l.open.Add(1) > int64(l.o.MaxConnections) {
		l.open.Add(-1)
		l.refused.Inc()
		_ = raw.Close()
		return nil, nil
	}
	return &counted{Conn: raw, l: l}, nil
}

func (l *Listener) wrap(c net.Conn, st *tls.ConnectionState) *Conn {
	return &Conn{Conn: c, l: l, tls: st, sc: newScanner(l.o.MaxHeaderBytes)}
}

func (l *Listener) acceptTLS() {
	for {
		c, err := l.admit()
		if err != nil {
			// Go's Serve decides: it retries temporary errors and
			// closes the listener on the others.
			select {
			case l.errc <- err:
			case <-l.done:
				return
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		if c != nil {
			go l.handshake(c)
		}
	}
}

func (l *Listener) handshake(raw *counted) {
	tc := tls.Server(raw, l.o.TLS)
	ctx, cancel := context.WithTimeout(context.Background(), l.o.HandshakeTimeout)
	defer cancel()
	if err := tc.HandshakeContext(ctx); err != nil {
		if l.o.ErrorLog != nil {
			l.o.ErrorLog.Printf("http: TLS handshake error from %s: %v", raw.RemoteAddr(), err)
		}
		// As Go's server does for a plain HTTP request on a TLS port.
		var re tls.RecordHeaderError
		if errors.As(err, &re) && re.Conn != nil && looksLikeHTTP(re.RecordHeader) {
			_ = re.Conn.SetWriteDeadline(time.Now().Add(answerTimeout))
			_, _ = io.WriteString(re.Conn, "HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n")
		}
		_ = tc.Close()
		return
	}
	st := tc.ConnectionState()
	var c net.Conn = tc
	if st.NegotiatedProtocol != "h2" {
		c = l.wrap(tc, &st)
	}
	select {
	case l.ready <- c:
	case <-l.done:
		_ = c.Close()
	}
}

func looksLikeHTTP(hdr [5]byte) bool {
	switch string(hdr[:]) {
	case "GET /", "HEAD ", "POST ", "PUT /", "OPTIO":
		return true
	}
	return false
}

// Close stops accepting; open connections stay.
func (l *Listener) Close() error {
	l.closeOnce.Do(func() { close(l.done) })
	return l.inner.Close()
}

// Addr is the address listened on.
func (l *Listener) Addr() net.Addr { return l.inner.Addr() }

// ConnState is the http.Server ConnState hook: the connection scanner needs
// Go's view of whether a request is being served.
func (l *Listener) ConnState(c net.Conn, s http.ConnState) {
	if cc, ok := c.(*Conn); ok {
		cc.setState(s)
	}
}

type tlsKey struct{}

// ConnContext is the http.Server ConnContext hook: it keeps the TLS state of
// an HTTP/1.1 connection over TLS, which Go's server cannot see through the
// scanning wrapper, for [TLSState].
func (l *Listener) ConnContext(ctx context.Context, c net.Conn) context.Context {
	if cc, ok := c.(*Conn); ok && cc.tls != nil {
		return context.WithValue(ctx, tlsKey{}, cc.tls)
	}
	return ctx
}

// TLSState returns r.TLS, or the TLS state ConnContext kept for r's
// connection; nil for plaintext.
func TLSState(r *http.Request) *tls.ConnectionState {
	if r.TLS != nil {
		return r.TLS
	}
	st, _ := r.Context().Value(tlsKey{}).(*tls.ConnectionState)
	return st
}

// counted holds one of the listener's connection slots until closed.
type counted struct {
	net.Conn
	l    *Listener
	once sync.Once
}

func (c *counted) Close() error {
	c.once.Do(func() { c.l.open.Add(-1) })
	return c.Conn.Close()
}

// CloseWrite half-closes a TCP connection (after a refused request's answer).
func (c *counted) CloseWrite() error {
	if cw, ok := c.Conn.(closeWriter); ok {
		return cw.CloseWrite()
	}
	return nil
}
