package proxy

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/http/httputil"
	"net/textproto"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portcullis/portcullis/gateway/config"
	"github.com/portcullis/portcullis/gateway/problem"
)

// rawUpstream records the bytes of every request it reads and answers
// each with the scripted parts; it serves one connection at a time, as
// many requests on it as the transport sends.
type rawUpstream struct {
	ln net.Listener
	// parts are written in order; before every part but the first it
	// waits for gate (the client read what came before), if set.
	parts []string
	gate  chan struct{}
	// closeAfter closes the connection after the parts; hang answers
	// nothing and waits for the transport to close the connection.
	closeAfter, hang bool

	mu   sync.Mutex
	reqs [][]byte
}

func newRawUpstream(t *testing.T, u *rawUpstream) *rawUpstream {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u.ln = ln
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u.conn(c)
		}
	}()
	return u
}

func (u *rawUpstream) conn(c net.Conn) {
	defer c.Close()
	var raw bytes.Buffer
	br := bufio.NewReader(io.TeeReader(c, &raw))
	for {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		io.Copy(io.Discard, req.Body)
		u.mu.Lock()
		u.reqs = append(u.reqs, slices.Clone(raw.Bytes()))
		u.mu.Unlock()
		raw.Reset()
		if u.hang {
			io.Copy(io.Discard, c)
			return
		}
		for i, p := range u.parts {
			if i > 0 && u.gate != nil {
				select {
				case <-u.gate:
				case <-time.After(5 * time.Second):
				}
			}
			if _, err := io.WriteString(c, p); err != nil {
				return
			}
		}
		if u.closeAfter {
			return
		}
	}
}

// received is what one exchange showed the upstream and the client.
type received struct {
	Upstream  []string
	Informal  []string
	Status    int
	Header    http.Header
	Body      string
	Trailer   http.Header
	ClientErr bool
	// Answer is the proxy's error as the server renders it.
	Answer         string
	ExchangeStatus int
	ExchangeErr    bool
}

type diffCase struct {
	name, method, target string
	header               http.Header
	body                 string
	buffered             bool // the body stage read the body
	stripPrefix          string
	timeout              time.Duration
	edits                func(*testState)
	upstream             *rawUpstream
	refused              bool
	// gateOn opens the upstream's gate when the client read it.
	gateOn string
}

// diffCases are the exchanges of TestForwardEqualsReverseProxy. A response
// flushed at once (unknown length, event stream) names its Content-Type:
// otherwise whether the server sniffs one depends on ReverseProxy's race
// between its flush timer and the first body write (forward keeps the
// race, as it is).
func diffCases() []diffCase {
	ok := []string{"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nX-Up: 1\r\n\r\nok"}
	return []diffCase{
		{name: "GET", method: "GET", target: "/a/b", header: http.Header{"Accept": {"*/*"}, "User-Agent": {"curl/8"}}, upstream: &rawUpstream{parts: ok}},
		{name: "HEAD", method: "HEAD", target: "/a", upstream: &rawUpstream{parts: []string{"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nEtag: \"x\"\r\n\r\n"}}},
		{name: "POST buffered body", method: "POST", target: "/p", header: http.Header{"Content-Type": {"application/json"}}, body: `{"a":1}`, buffered: true, upstream: &rawUpstream{parts: ok}},
		{name: "POST streamed body", method: "POST", target: "/p", header: http.Header{"Content-Type": {"application/json"}}, body: `{"a":2}`, upstream: &rawUpstream{parts: ok}},
		{name: "POST empty body", method: "POST", target: "/p", buffered: true, upstream: &rawUpstream{parts: ok}},
		{name: "POST empty streamed body", method: "POST", target: "/p", upstream: &rawUpstream{parts: ok}},
		{name: "query", method: "GET", target: "/q?b=2&a=1&a=3", upstream: &rawUpstream{parts: ok}},
		{name: "unparsable query", method: "GET", target: "/q?a=1;b=2&c=%zz&d=4", upstream: &rawUpstream{parts: ok}},
		{name: "strip_prefix", method: "GET", target: "/api/v1/x?q=1", stripPrefix: "/api", upstream: &rawUpstream{parts: ok}},
		{name: "strip_prefix to root", method: "GET", target: "/api", stripPrefix: "/api", upstream: &rawUpstream{parts: ok}},
		{name: "escaped path", method: "GET", target: "/a%2Fb/c%20d", upstream: &rawUpstream{parts: ok}},
		{name: "edits and stamp", method: "GET", target: "/e", header: http.Header{"X-Drop": {"1"}, "X-Consumer-Id": {"mallory"}}, edits: func(st *testState) {
			st.SetHeader("X-Consumer-Id", "alice")
			st.edits.Delete("X-Drop")
			st.edits.Stamp("X-Assert", stampFunc(func(in *http.Request, up *url.URL, path string) string { return up.Host + path }))
		}, upstream: &rawUpstream{parts: ok}},
		{name: "X-Forwarded chain", method: "GET", target: "/f", header: http.Header{
			"X-Forwarded-For": {"203.0.113.9, 192.0.2.7"}, "X-Forwarded-Host": {"api.example"}, "X-Forwarded-Proto": {"https"}, "Forwarded": {"for=192.0.2.1"}, "X-Real-Ip": {"1.2.3.4"},
		}, upstream: &rawUpstream{parts: ok}},
		{name: "no User-Agent", method: "GET", target: "/u", header: http.Header{"User-Agent": nil}, upstream: &rawUpstream{parts: ok}},
		{name: "Te: trailers", method: "GET", target: "/t", header: http.Header{"Te": {"trailers"}}, upstream: &rawUpstream{parts: ok}},
		{name: "Connection-named response headers", method: "GET", target: "/c", upstream: &rawUpstream{parts: []string{
			"HTTP/1.1 200 OK\r\nConnection: X-Hop, keep-alive\r\nX-Hop: secret\r\nKeep-Alive: timeout=5\r\nProxy-Authenticate: Basic\r\nUpgrade: h2c\r\nX-Keep: yes\r\nX-Keep: twice\r\nContent-Length: 2\r\n\r\nok"}}},
		{name: "announced trailers", method: "GET", target: "/tr", upstream: &rawUpstream{parts: []string{
			"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum, X-Two\r\n\r\n5\r\nhello\r\n0\r\nX-Sum: 1\r\nX-Two: 2\r\n\r\n"}}},
		{name: "undeclared trailers", method: "GET", target: "/tr", upstream: &rawUpstream{parts: []string{
			"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n5\r\nhello\r\n0\r\nX-Sum: 1\r\nX-Other: 3\r\n\r\n"}}},
		{name: "103 Early Hints then 200", method: "GET", target: "/h", upstream: &rawUpstream{parts: []string{
			"HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\nLink: </s.css>; rel=preload\r\n\r\nok"}}},
		{name: "SSE flushed at once", method: "GET", target: "/sse", gateOn: "data: 1\n\n", upstream: &rawUpstream{gate: make(chan struct{}, 1), parts: []string{
			"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\nContent-Length: 18\r\n\r\ndata: 1\n\n", "data: 2\n\n"}}},
		{name: "chunked of unknown length flushed at once", method: "GET", target: "/chunked", gateOn: "hello", upstream: &rawUpstream{gate: make(chan struct{}, 1), parts: []string{
			"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n", "6\r\n world\r\n0\r\n\r\n"}}},
		{name: "204", method: "DELETE", target: "/d", upstream: &rawUpstream{parts: []string{"HTTP/1.1 204 No Content\r\nX-Up: 1\r\n\r\n"}}},
		{name: "304", method: "GET", target: "/n", header: http.Header{"If-None-Match": {`"a"`}}, upstream: &rawUpstream{parts: []string{"HTTP/1.1 304 Not Modified\r\nEtag: \"a\"\r\n\r\n"}}},
		{name: "upstream closing mid-body", method: "GET", target: "/m", upstream: &rawUpstream{closeAfter: true, parts: []string{"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort"}}},
		{name: "upstream closing before answering", method: "GET", target: "/m", upstream: &rawUpstream{closeAfter: true}},
		{name: "101 to a request that asked no upgrade", method: "GET", target: "/s", upstream: &rawUpstream{closeAfter: true, parts: []string{
			"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"}}},
		{name: "upstream refusing", method: "GET", target: "/r", refused: true},
		{name: "timeout", method: "GET", target: "/slow", timeout: 300 * time.Millisecond, upstream: &rawUpstream{hang: true}},
	}
}

type stampFunc func(*http.Request, *url.URL, string) string

func (f stampFunc) Stamp(in *http.Request, up *url.URL, path string) string { return f(in, up, path) }

// TestForwardEqualsReverseProxy runs every exchange through ReverseProxy
// and through forward against one scripted upstream: the upstream must
// read the same bytes and the client the same response.
func TestForwardEqualsReverseProxy(t *testing.T) {
	t.Parallel()
	for _, tc := range diffCases() {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			target := closedURL(t)
			var up *rawUpstream
			if !tc.refused {
				up = newRawUpstream(t, tc.upstream)
				target = "http://" + up.ln.Addr().String()
			}
			timeout := tc.timeout
			if timeout == 0 {
				timeout = 5 * time.Second
			}
			rt := routeTo(t, timeout, target)
			rt.StripPrefix = tc.stripPrefix
			tr := transport(t, nil)
			viaRP := func(p *Proxy) func(http.ResponseWriter, *http.Request, *Exchange) {
				return func(w http.ResponseWriter, r *http.Request, _ *Exchange) { p.rp.ServeHTTP(w, r) }
			}
			viaForward := func(p *Proxy) func(http.ResponseWriter, *http.Request, *Exchange) { return p.relay }
			old := runDiff(t, &tc, up, rt, tr, viaRP)
			cur := runDiff(t, &tc, up, rt, tr, viaForward)
			if !reflect.DeepEqual(old, cur) {
				t.Errorf("ReverseProxy:\n%s\nforward:\n%s", dump(old), dump(cur))
			}
		})
	}
}

func dump(r received) string {
	var b strings.Builder
	for _, u := range r.Upstream {
		fmt.Fprintf(&b, "upstream read %q\n", u)
	}
	fmt.Fprintf(&b, "1xx %q\nstatus %d header %v\nbody %q trailer %v client err %v\nanswer %q exchange %d err %v",
		r.Informal, r.Status, r.Header, r.Body, r.Trailer, r.ClientErr, r.Answer, r.ExchangeStatus, r.ExchangeErr)
	return b.String()
}

// runDiff serves tc once through a gateway whose proxy relays with via.
func runDiff(t *testing.T, tc *diffCase, up *rawUpstream, rt *config.Route, tr *Transport, via func(*Proxy) func(http.ResponseWriter, *http.Request, *Exchange)) received {
	t.Helper()
	p, err := New(rt, tr)
	if err != nil {
		t.Fatal(err)
	}
	relay := via(p)
	answered := make(chan received, 1)
	gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var got received
		st := newTestState()
		defer func() { // also when the response is aborted
			got.ExchangeStatus, got.ExchangeErr = st.x.Status, st.x.Err != nil
			answered <- got
		}()
		st.Input.Request.ID = "rid-1"
		if tc.buffered {
			st.Body, _ = io.ReadAll(r.Body)
			st.BodyRead = true
		}
		if tc.edits != nil {
			tc.edits(st)
		}
		err := p.exchange(w, st.with(r), relay)
		var pb *problem.Problem
		switch {
		case errors.As(err, &pb):
			got.Answer = fmt.Sprint(pb.Status, " ", pb.Reason)
			w.WriteHeader(pb.Status)
		case err != nil:
			got.Answer = err.Error()
		}
	}))
	defer gw.Close()

	var body io.Reader
	if tc.body != "" || tc.method == "POST" {
		body = strings.NewReader(tc.body)
		if !tc.buffered {
			body = struct{ io.Reader }{body} // of unknown length: chunked
		}
	}
	req, err := http.NewRequest(tc.method, gw.URL+tc.target, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range tc.header {
		req.Header[k] = v
	}
	var got received
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
		Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
			got.Informal = append(got.Informal, fmt.Sprint(code, " ", h))
			return nil
		},
	}))
	before := 0
	if up != nil {
		up.mu.Lock()
		before = len(up.reqs)
		up.mu.Unlock()
	}
	// Keep-alive, so the client sends no Connection header, which would
	// take the request to ReverseProxy (header screening removes it).
	ct := &http.Transport{DisableCompression: true}
	defer ct.CloseIdleConnections()
	client := &http.Client{Timeout: 10 * time.Second, Transport: ct}
	res, err := client.Do(req)
	if err != nil {
		got.ClientErr = true
	} else {
		got.Status = res.StatusCode
		var b []byte
		buf := make([]byte, 64)
		gated := tc.gateOn == ""
		for {
			n, rerr := res.Body.Read(buf)
			b = append(b, buf[:n]...)
			if !gated && strings.Contains(string(b), tc.gateOn) {
				gated = true
				up.gate <- struct{}{}
			}
			if rerr != nil {
				got.ClientErr = rerr != io.EOF
				break
			}
		}
		res.Body.Close()
		got.Body = string(b)
		got.Header = res.Header
		delete(got.Header, "Date")
		if tr := got.Header["Trailer"]; tr != nil {
			names := strings.Split(strings.Join(tr, ", "), ", ")
			slices.Sort(names)
			got.Header["Trailer"] = names
		}
		got.Trailer = res.Trailer
	}
	select {
	case g := <-answered:
		got.Answer, got.ExchangeStatus, got.ExchangeErr = g.Answer, g.ExchangeStatus, g.ExchangeErr
	case <-time.After(10 * time.Second):
		t.Fatal("the gateway did not answer")
	}
	if up != nil {
		up.mu.Lock()
		for _, r := range up.reqs[before:] {
			got.Upstream = append(got.Upstream, string(r))
		}
		up.mu.Unlock()
	}
	return got
}

// reverseProxyQuery is the query ReverseProxy hands its Rewrite for raw.
func reverseProxyQuery(raw string) string {
	var got string
	rp := &httputil.ReverseProxy{
		Rewrite:      func(pr *httputil.ProxyRequest) { got = pr.Out.URL.RawQuery },
		Transport:    roundTripFunc(func(*http.Request) (*http.Response, error) { return nil, errors.New("none") }),
		ErrorHandler: func(http.ResponseWriter, *http.Request, error) {},
	}
	r := httptest.NewRequest("GET", "/", nil)
	r.URL.RawQuery = raw
	rp.ServeHTTP(httptest.NewRecorder(), r)
	return got
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestCleanQueryParamsIsReverseProxys(t *testing.T) {
	t.Parallel()
	for _, q := range queryCorpus() {
		if got, want := cleanQueryParams(q), reverseProxyQuery(q); got != want {
			t.Errorf("cleanQueryParams(%.40q) = %.40q, ReverseProxy's %.40q", q, got, want)
		}
	}
}

func queryCorpus() []string {
	return []string{"", "a=1", "a=1&b=2", "b=2&a=1", "a=1;b=2", "a=%zz", "a=%4", "a=%41", "a=%", "%", ";", "a=1&&b", "a+b=c d",
		strings.Repeat("a=1&", 9999) + "a=1", strings.Repeat("a=1&", 10000) + "a=1", strings.Repeat("&", 10000)}
}

func FuzzCleanQueryParams(f *testing.F) {
	for _, q := range queryCorpus() {
		f.Add(q)
	}
	f.Fuzz(func(t *testing.T, q string) {
		if got, want := cleanQueryParams(q), reverseProxyQuery(q); got != want {
			t.Errorf("cleanQueryParams(%q) = %q, ReverseProxy's %q", q, got, want)
		}
	})
}

func mediaTypeCorpus() []string {
	return []string{"", "text/event-stream", "Text/Event-Stream", " text/event-stream ; charset=utf-8", "text/event-stream;", "text/event-stream; a",
		"text/event-stream; a=\"", "text/event-streams", "text/plain", "application/json", "text/ſvent-stream", "text/event-\u017ftream",
		"text /event-stream", "text/event-stream\x00", "\ttext/event-stream", "TEXT/EVENT-STREAM;charset=x;charset=y"}
}

func TestEventStreamIsParseMediaTypes(t *testing.T) {
	t.Parallel()
	for _, ct := range mediaTypeCorpus() {
		mt, _, _ := mime.ParseMediaType(ct)
		if got, want := eventStream(ct), mt == "text/event-stream"; got != want {
			t.Errorf("eventStream(%q) = %v, ParseMediaType says %v", ct, got, want)
		}
	}
}

func FuzzEventStream(f *testing.F) {
	for _, ct := range mediaTypeCorpus() {
		f.Add(ct)
	}
	f.Fuzz(func(t *testing.T, ct string) {
		mt, _, _ := mime.ParseMediaType(ct)
		if got, want := eventStream(ct), mt == "text/event-stream"; got != want {
			t.Errorf("eventStream(%q) = %v, ParseMediaType says %v", ct, got, want)
		}
	})
}
