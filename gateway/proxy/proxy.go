// Package proxy forwards requests to a route's upstreams over a shared
// http.Transport: an ordinary exchange itself (forward), a WebSocket
// upgrade through httputil.ReverseProxy, which tunnels it.
package proxy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/portcullis/portcullis/gateway/body"
	"github.com/portcullis/portcullis/gateway/config"
	"github.com/portcullis/portcullis/gateway/header"
	"github.com/portcullis/portcullis/gateway/input"
	"github.com/portcullis/portcullis/gateway/pipeline"
	"github.com/portcullis/portcullis/gateway/problem"
	upstreams "github.com/portcullis/portcullis/gateway/proxy/upstream"
)

// RequestIDHeader carries the request id to the upstream and back to the client.
const RequestIDHeader = "X-Request-Id"

// Exchange is the request's exchange with the upstream, written by the proxy.
type Exchange struct {
	// Upstream is the base URL the request was sent to.
	Upstream string
	// ForwardedPath is the escaped path of the upstream request, exactly
	// as the transport writes it on the wire.
	ForwardedPath string
	// Status is the status the upstream answered, 0 if it did not.
	Status int
	// Forwarded is when forwarding began (zero if the gateway answered
	// itself); the time before it is the gateway's own.
	Forwarded time.Time
	// Latency is the time from Forwarded to the upstream's response
	// headers, or to the exchange's failure.
	Latency time.Duration
	// Relayed is when the exchange was over: the response copied to the
	// client, or the exchange failed. The time after it is the gateway's own.
	Relayed time.Time
	// Err is the error of the exchange.
	Err error

	// values back the request id and Content-Length headers rewrite sets,
	// and forward's empty User-Agent, which so cost no allocation of their own.
	values [3]string
	// up is the upstream serve picked, for rewrite: a field, not a context
	// value, which would cost a context and a request copy per request.
	up *upstream
	// body reads the upstream request's body of bytes a stage read. The
	// exchange is never reused, so the transport may still read it after
	// the round trip returned.
	body  bytes.Reader
	relay relay
}

// ExchangePart is the request's Exchange.
var ExchangePart = pipeline.NewPart[Exchange]()

// Proxy forwards to the upstreams of one route, round robin, skipping an
// upstream for route.EjectFor after it refused a connection (passive health).
type Proxy struct {
	rp          *httputil.ReverseProxy
	tr          *http.Transport
	upstreams   []*upstream
	next        atomic.Uint64
	timeout     time.Duration
	ejectFor    time.Duration
	stripPrefix string
	now         func() time.Time
}

type upstream struct {
	url *url.URL
	// name is url.String(), written once: the exchange records it for
	// every request.
	name      string
	ejectedAt atomic.Int64 // unix nanos until which it is skipped; 0 = healthy
}

// Transport is a pool of upstream connections. Every route with the same
// connect timeout and tls block shares one, so routes to one upstream
// share its connections: a thousand routes in front of one service open
// its connections once, not once per route.
type Transport struct {
	rt  *http.Transport
	tls bool
}

// NewTransport returns the pool for routes whose connect timeout is
// connectTimeout and whose tls block loaded is t (nil: none; https
// upstreams are then verified against the system roots). The route's
// timeout is not a property of the pool: each exchange carries it as its
// context's deadline.
func NewTransport(connectTimeout time.Duration, t *TLS) (*Transport, error) {
	if connectTimeout <= 0 {
		return nil, fmt.Errorf("connect_timeout %s is not positive", connectTimeout)
	}
	dialer := &net.Dialer{Timeout: connectTimeout, KeepAlive: 30 * time.Second}
	transport := &http.Transport{
		Proxy:                 nil, // never route upstream traffic through an environment proxy
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   connectTimeout,
		ExpectContinueTimeout: time.Second,
		// Content codings pass through as the client and the upstream chose
		// them: the gateway never asks for gzip on its own and never
		// decompresses a response on the way.
		DisableCompression: true,
	}
	if t != nil {
		// The transport clones it per connection (and adds h2 to
		// NextProtos once); this pool is its only user.
		transport.TLSClientConfig = t.config
	}
	return &Transport{rt: transport, tls: t != nil}, nil
}

// CloseIdleConnections closes the idle connections of a pool no
// generation uses any more.
func (t *Transport) CloseIdleConnections() { t.rt.CloseIdleConnections() }

// New returns the proxy of route over the pool tr, which must have been
// built for the route's tls block (NewTransport(route.ConnectTimeout,
// LoadTLS(route.TLS))). It refuses a route without upstreams or with one
// that is not an absolute http(s) URL, tls with an http upstream, and a
// non-positive timeout.
func New(route *config.Route, tr *Transport) (*Proxy, error) {
	urls, err := upstreams.ParseAll(route.Upstream, route.Upstreams)
	if err != nil {
		return nil, err
	}
	if route.Timeout <= 0 {
		return nil, fmt.Errorf("timeout %s is not positive", route.Timeout)
	}
	if tr.tls != (route.TLS != nil) {
		return nil, errors.New("the route's tls block and its transport's disagree")
	}
	for _, u := range urls {
		if tr.tls && u.Scheme != "https" {
			return nil, fmt.Errorf("tls is set but upstream %q is %s", u, u.Scheme)
		}
	}
	p := &Proxy{tr: tr.rt, timeout: route.Timeout, ejectFor: route.EjectFor, stripPrefix: route.StripPrefix, now: time.Now}
	for _, u := range urls {
		p.upstreams = append(p.upstreams, &upstream{url: u, name: u.String()})
	}
	p.rp = &httputil.ReverseProxy{
		Rewrite:        p.rewrite,
		Transport:      tr.rt,
		ModifyResponse: modifyResponse,
		ErrorHandler:   p.errorHandler,
		ErrorLog:       nil,
		BufferPool:     BufferPool{},
	}
	return p, nil
}

// Handler returns the last stage of a route's pipeline.
func (p *Proxy) Handler() pipeline.Handler {
	return pipeline.HandlerFunc(p.serve)
}

func (p *Proxy) serve(w http.ResponseWriter, r *http.Request) error {
	return p.exchange(w, r, p.relay)
}

// relay sends a WebSocket upgrade (the only request header screening
// leaves a Connection or Upgrade header) through ReverseProxy, which
// tunnels it, and forwards every other request itself.
func (p *Proxy) relay(w http.ResponseWriter, r *http.Request, x *Exchange) {
	if r.Header["Connection"] != nil || r.Header["Upgrade"] != nil {
		p.rp.ServeHTTP(w, r)
		return
	}
	p.forward(w, r, x)
}

// exchange runs one exchange with the upstream it picks through relay.
func (p *Proxy) exchange(w http.ResponseWriter, r *http.Request, relay func(http.ResponseWriter, *http.Request, *Exchange)) error {
	ctx := r.Context()
	rq := pipeline.FromContext(ctx)
	x := ExchangePart.Of(rq)
	if x == nil {
		return errNoState
	}
	up := p.pick()
	x.Upstream, x.up = up.name, up
	// The route's timeout cancels the request's own context, which the
	// client's going away cancels too: no context or request copy here.
	defer rq.Expire(p.timeout).Stop()
	x.Forwarded = time.Now()
	relay(w, r, x)
	x.Relayed = time.Now()
	if x.Err == nil {
		return nil
	}
	return p.classify(ctx, up, x.Err)
}

// errNoState means the proxy ran outside the pipeline; it fails closed (500).
var errNoState = errors.New("proxy: no pipeline state in request context")

// pick chooses the next healthy upstream; when all are ejected it takes
// the next one anyway, since refusing every request helps nobody.
func (p *Proxy) pick() *upstream {
	n := uint64(len(p.upstreams))
	start := p.next.Add(1)
	// The clock is read only when an upstream was ejected: 0, healthy,
	// is before any time it could answer.
	var now int64
	for i := uint64(0); i < n; i++ {
		u := p.upstreams[(start+i)%n]
		at := u.ejectedAt.Load()
		if at == 0 {
			return u
		}
		if now == 0 {
			now = p.now().UnixNano()
		}
		if at <= now {
			return u
		}
	}
	return p.upstreams[start%n]
}

func (p *Proxy) rewrite(pr *httputil.ProxyRequest) {
	rq := pipeline.FromContext(pr.In.Context())
	x := ExchangePart.Of(rq)
	up := x.up

	// The path forwarded is the normalized path the route matched and the
	// policy saw (set on In by the server), less strip_prefix.
	path := strings.TrimPrefix(pr.In.URL.Path, p.stripPrefix)
	if path == "" || path[0] != '/' {
		path = "/" + path
	}
	pr.Out.URL.Path = path
	pr.Out.URL.RawPath = ""
	pr.SetURL(up.url)
	// The transport writes URL.RequestURI, whose path is EscapedPath.
	x.ForwardedPath = pr.Out.URL.EscapedPath()

	// The forwarding headers were computed once, before the policy saw
	// them (header.Cleaner.Screen); ReverseProxy removed them from Out.
	header.CopyForwarding(pr.In.Header, pr.Out.Header)

	// Hop-by-hop headers, including those the client named in Connection,
	// were removed from In before the policy ran; what is set here cannot be
	// removed that way (golang/go#46313). Every spelling of a removed or
	// set name goes, so no second value sits beside the gateway's.
	if e := header.EditsPart.Of(rq); e != nil {
		e.Apply(pr.Out.Header)
		e.ApplyStamp(pr.In, pr.Out.Header, up.url, x.ForwardedPath)
	}
	if in := input.Part.Of(rq); in != nil {
		x.values[0] = in.Request.ID
		pr.Out.Header[RequestIDHeader] = x.values[0:1:1] // as Header.Set: the name is canonical
	}

	if b := body.Part.Of(rq); b != nil && b.Read {
		pr.Out.Body = forwardBody(pr.Out.Method, b.Bytes, &x.body)
		pr.Out.ContentLength = int64(len(b.Bytes))
		pr.Out.TransferEncoding = nil
		pr.Out.Header.Del("Transfer-Encoding")
		x.values[1] = strconv.Itoa(len(b.Bytes))
		pr.Out.Header["Content-Length"] = x.values[1:2:2]
		pr.Out.GetBody = nil
	}
}

// forwardBody is the upstream request's body of the buffered bytes b. An
// empty body of a method that usually has none (net/http's
// requestMethodUsuallyLacksBody) is nil: the transport would send none
// after probing it, with a goroutine and a 200 ms timer for each request
// (transferWriter.probeRequestBody), so nil puts the same bytes on the
// wire, and leaves the request replayable on a stale idle connection, as
// ReverseProxy makes every request without a body (golang/go#16036).
// Otherwise it reads b with rd. It stays a NopCloser over a *bytes.Reader,
// which the transport knows to be in memory, so it writes the headers and
// the body together (isKnownInMemoryReader) instead of flushing the headers
// first.
func forwardBody(method string, b []byte, rd *bytes.Reader) io.ReadCloser {
	if len(b) == 0 {
		switch method {
		case "GET", "HEAD", "DELETE", "OPTIONS", "PROPFIND", "SEARCH":
			return nil
		}
	}
	rd.Reset(b)
	return io.NopCloser(rd)
}

func modifyResponse(resp *http.Response) error {
	ExchangePart.From(resp.Request.Context()).answered(resp)
	return nil
}

func (p *Proxy) errorHandler(_ http.ResponseWriter, r *http.Request, err error) {
	ExchangePart.From(r.Context()).fail(err)
}

// ErrClientGone marks a request whose client went away; the server logs
// it as 499 and writes nothing.
var ErrClientGone = errors.New("client closed request")

// classify maps an upstream error to the client's answer: 504 on timeout,
// 502 upstream_tls_failed when TLS failed, 502 upstream_unavailable on
// anything else, and ejects the upstream on a refused connection (not on
// a TLS failure: that is a certificate or setting to fix, and every
// upstream of the route shares the settings).
func (p *Proxy) classify(ctx context.Context, up *upstream, err error) error {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EHOSTUNREACH) || errors.Is(err, syscall.ENETUNREACH) {
			up.ejectedAt.Store(p.now().Add(p.ejectFor).UnixNano())
		}
	}
	switch {
	case errors.Is(context.Cause(ctx), context.DeadlineExceeded) || isTimeout(err):
		return problem.Wrap(http.StatusGatewayTimeout, "upstream_timeout", "the upstream did not answer in time", err)
	case errors.Is(err, context.Canceled):
		return ErrClientGone
	case tlsFailure(err):
		// The route may have several upstreams; the log names the one.
		return problem.Wrap(http.StatusBadGateway, "upstream_tls_failed", "the TLS connection to the upstream failed", fmt.Errorf("tls with %s: %w", up.url.Host, err))
	default:
		return problem.Wrap(http.StatusBadGateway, "upstream_unavailable", "the upstream could not be reached", err)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// BufferPool reuses the 32 KiB copy buffers of ReverseProxy (which
// otherwise allocates one per response); make bench's bare proxy uses it
// too.
type BufferPool struct{}

var buffers = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

func (BufferPool) Get() []byte  { return *(buffers.Get().(*[]byte)) }
func (BufferPool) Put(b []byte) { buffers.Put(&b) }
