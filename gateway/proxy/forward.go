package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"mime"
	"net/http"
	"net/http/httptrace"
	"net/http/httputil"
	"net/textproto"
	"net/url"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/portcullis/portcullis/gateway/body"
	"github.com/portcullis/portcullis/gateway/header"
)

// relay is the exchange's part that is not ReverseProxy's: the upstream
// request, the 1xx hook and the client's body wrapper, in the Exchange so
// that an ordinary request allocates none of them on its own.
type relay struct {
	url   url.URL
	trace httptrace.ClientTrace
	w     http.ResponseWriter
	// state keeps a 1xx that arrives while RoundTrip returns (on a
	// cancelled context) from touching the client's headers afterwards:
	// idle, forwarding a 1xx, or done. Atomics on a plain int32, not a
	// Mutex, leave the Exchange a value that may be copied.
	state int32
	in    noopCloseReader
}

// forward is ReverseProxy.ServeHTTP for a request that is no upgrade,
// without its per-request copies: it puts the same request on the wire
// and gives the client the same response. The request's hop-by-hop
// headers, and those its Connection header named, were removed by header
// screening (header.Cleaner), in every spelling, and "TE: trailers" left
// as ReverseProxy sets it; only an upgrade keeps a Connection header, and
// it goes through ReverseProxy.
func (p *Proxy) forward(w http.ResponseWriter, r *http.Request, x *Exchange) {
	f := &x.relay
	f.w = w
	f.trace.Got1xxResponse = f.got1xx
	out := r.WithContext(httptrace.WithClientTrace(r.Context(), &f.trace))
	f.url = *r.URL
	out.URL = &f.url
	out.Header = r.Header.Clone()
	if out.Header == nil {
		out.Header = make(http.Header)
	}
	out.Trailer = r.Trailer.Clone()
	if r.ContentLength == 0 {
		out.Body = nil // golang/go#16036: nil Body for http.Transport retries
	}
	if out.Body != nil {
		// The transport closes the body it was given, also when it could
		// not connect; the client's body must stay open for the server.
		f.in.rc = out.Body
		out.Body = &f.in
		defer f.in.Close()
	}
	out.Close = false
	for _, k := range clientForwarding {
		delete(out.Header, k)
	}
	out.URL.RawQuery = cleanQueryParams(out.URL.RawQuery)
	p.rewrite(&httputil.ProxyRequest{In: r, Out: out})
	if _, ok := out.Header["User-Agent"]; !ok {
		// No Go default User-Agent on the client's behalf.
		out.Header["User-Agent"] = x.values[2:3:3]
	}

	res, err := p.tr.RoundTrip(out)
	for !atomic.CompareAndSwapInt32(&f.state, relayIdle, relayDone) {
		runtime.Gosched() // a 1xx is being written: it is short
	}
	if err != nil {
		x.fail(err)
		return
	}
	x.answered(res)
	if res.StatusCode == http.StatusSwitchingProtocols {
		// No upgrade was asked for. ReverseProxy refuses a switch to a
		// protocol the response names, but tunnels one whose Connection
		// names none; forward refuses both: an upstream does not turn a
		// request that asked for no tunnel into one.
		res.Body.Close()
		x.fail(fmt.Errorf("backend tried to switch protocol %q when %q was requested", res.Header.Get("Upgrade"), ""))
		return
	}
	removeHopByHop(res.Header)

	// The response is ours: its values move into the client's header map.
	h := w.Header()
	for k, vv := range res.Header {
		if len(vv) == 0 {
			continue
		}
		if old, ok := h[k]; ok {
			h[k] = append(old, vv...)
		} else {
			h[k] = vv
		}
	}
	// The transport keeps the announced trailers in Trailer, not in the
	// Trailer header: declare them before the header is written.
	announced := len(res.Trailer)
	if announced > 0 {
		keys := make([]string, 0, len(res.Trailer))
		for k := range res.Trailer {
			keys = append(keys, k)
		}
		h.Add("Trailer", strings.Join(keys, ", "))
	}
	w.WriteHeader(res.StatusCode)

	if err := copyResponse(w, res.Body, flushesAtOnce(res)); err != nil {
		defer res.Body.Close()
		// The response is under way: all that is left is to abort it
		// (golang/go#23643), which the server recovers.
		if r.Context().Value(http.ServerContextKey) == nil {
			log.Printf("suppressing panic for copyResponse error in test; copy error: %v", err)
			return
		}
		panic(http.ErrAbortHandler)
	}
	res.Body.Close() // now, not deferred: it fills res.Trailer

	if len(res.Trailer) > 0 {
		// Chunked, so net/http adds no Content-Length to a short body.
		_ = http.NewResponseController(w).Flush()
	}
	if len(res.Trailer) == announced {
		copyHeader(h, res.Trailer)
		return
	}
	for k, vv := range res.Trailer {
		k = http.TrailerPrefix + k
		for _, v := range vv {
			h.Add(k, v)
		}
	}
}

// The states of relay.state.
const (
	relayIdle int32 = iota
	relay1xx
	relayDone
)

// answered records the upstream's response head: its status, and the
// latency up to it.
func (x *Exchange) answered(res *http.Response) {
	x.Status = res.StatusCode
	x.Latency = time.Since(x.Forwarded)
}

// fail records the exchange's error and, unless the upstream answered,
// the latency up to it.
func (x *Exchange) fail(err error) {
	x.Err = err
	if x.Latency == 0 {
		x.Latency = time.Since(x.Forwarded)
	}
}

// got1xx forwards an informational response (103 Early Hints) to the
// client as ReverseProxy does.
func (f *relay) got1xx(code int, header textproto.MIMEHeader) error {
	if !atomic.CompareAndSwapInt32(&f.state, relayIdle, relay1xx) {
		return nil // the round trip is over
	}
	defer atomic.StoreInt32(&f.state, relayIdle)
	h := f.w.Header()
	copyHeader(h, http.Header(header))
	f.w.WriteHeader(code)
	clear(h) // WriteHeader keeps a 1xx's headers for the final response
	return nil
}

// clientForwarding are the forwarding headers ReverseProxy removes before
// Rewrite, which sets the gateway's (header.CopyForwarding).
var clientForwarding = [...]string{"Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto"}

// removeHopByHop removes the response's hop-by-hop headers and those its
// Connection header names, as ReverseProxy does.
func removeHopByHop(h http.Header) {
	for _, f := range h["Connection"] {
		for sf := range strings.SplitSeq(f, ",") {
			if sf = textproto.TrimString(sf); sf != "" {
				h.Del(sf)
			}
		}
	}
	for _, f := range header.HopByHop { // httputil's list, as screening uses it for the request
		delete(h, f)
	}
}

func copyHeader(dst, src http.Header) {
	for k, vv := range src {
		for _, v := range vv {
			dst.Add(k, v)
		}
	}
}

// flushesAtOnce is ReverseProxy's flushInterval for a FlushInterval of 0:
// Server-Sent Events and a response of unknown length are flushed after
// every write, anything else when the handler returns.
func flushesAtOnce(res *http.Response) bool {
	return eventStream(body.ContentType(res.Header)) || res.ContentLength == -1
}

// eventStream reports whether mime.ParseMediaType's media type of ct is
// text/event-stream. That media type is the trimmed, lower-cased text
// before the first ';', so a ct whose text there does not equal it under
// case folding is not one, without the parameter map ParseMediaType
// allocates for every other Content-Type.
func eventStream(ct string) bool {
	base, _, _ := strings.Cut(ct, ";")
	if !strings.EqualFold(strings.TrimSpace(base), "text/event-stream") {
		return false
	}
	mt, _, _ := mime.ParseMediaType(ct)
	return mt == "text/event-stream"
}

// copyResponse copies the upstream's body to the client with a pooled
// buffer; when immediate is set it flushes after every write, and the
// headers on a timer of its own, as ReverseProxy's maxLatencyWriter does
// (the first body bytes, if they come at once, are written with the
// headers, and the server sniffs their Content-Type).
func copyResponse(w http.ResponseWriter, src io.Reader, immediate bool) error {
	dst := io.Writer(w)
	if immediate {
		fw := &flushWriter{w: w, flush: http.NewResponseController(w).Flush, pending: true}
		fw.t = time.AfterFunc(-1, fw.delayedFlush)
		defer fw.stop()
		dst = fw
	}
	bp := buffers.Get().(*[]byte)
	defer buffers.Put(bp)
	buf := *bp
	for {
		nr, rerr := src.Read(buf)
		if rerr != nil && rerr != io.EOF && rerr != context.Canceled {
			log.Printf("proxy: read error during the response body copy: %v", rerr)
		}
		if nr > 0 {
			nw, werr := dst.Write(buf[:nr])
			if werr != nil {
				return werr
			}
			if nr != nw {
				return io.ErrShortWrite
			}
		}
		if rerr != nil {
			if rerr == io.EOF {
				return nil
			}
			return rerr
		}
	}
}

// flushWriter is httputil's maxLatencyWriter of a negative latency.
type flushWriter struct {
	w     io.Writer
	flush func() error

	mu      sync.Mutex // guards pending, t and the flushes
	pending bool
	t       *time.Timer
}

func (f *flushWriter) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n, err := f.w.Write(p)
	_ = f.flush()
	return n, err
}

func (f *flushWriter) delayedFlush() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.pending { // stop ran before the timer's goroutine
		return
	}
	_ = f.flush()
	f.pending = false
}

func (f *flushWriter) stop() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pending = false
	f.t.Stop()
}

// noopCloseReader is httputil's: the transport's Close of the upstream
// request's body leaves the client's open, and a Read after the handler
// returned fails instead of touching it (golang/go#46866).
type noopCloseReader struct {
	rc     io.ReadCloser
	closed int32 // atomic
}

func (n *noopCloseReader) Close() error {
	atomic.StoreInt32(&n.closed, 1)
	return nil
}

func (n *noopCloseReader) Read(p []byte) (int, error) {
	if atomic.LoadInt32(&n.closed) != 0 {
		return 0, errors.New("ReverseProxy does an invalid Read on closed Body")
	}
	return n.rc.Read(p)
}

// reencodeQuery is GODEBUG=urlmaxqueryparams=N, with which httputil
// always re-encodes the query.
var reencodeQuery = strings.Contains(os.Getenv("GODEBUG"), "urlmaxqueryparams=")

// cleanQueryParams is httputil's: a query url.ParseQuery would not
// parse back the same (a semicolon, a bad escape, too many parameters)
// is re-encoded, which drops what it cannot parse, so the upstream reads
// the parameters the gateway read.
func cleanQueryParams(s string) string {
	reencode := func(s string) string {
		v, _ := url.ParseQuery(s)
		return v.Encode()
	}
	if reencodeQuery {
		return reencode(s)
	}
	if strings.Count(s, "&")+1 > 10000 { // url's defaultMaxParams
		return reencode(s)
	}
	for i := 0; i < len(s); {
		switch s[i] {
		case ';':
			return reencode(s)
		case '%':
			if i+2 >= len(s) || !ishex(s[i+1]) || !ishex(s[i+2]) {
				return reencode(s)
			}
			i += 3
		default:
			i++
		}
	}
	return s
}

func ishex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}
