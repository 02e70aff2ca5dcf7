package listener

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portcullis/portcullis/gateway/problem"
)

// testServer serves HTTP/1.1 through a Listener and records the paths its
// handler saw.
type testServer struct {
	addr string
	l    *Listener
	mu   sync.Mutex
	seen []string
}

func startServer(t testing.TB, maxConns int) *testServer {
	t.Helper()
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{addr: tcp.Addr().String()}
	refused := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := Refusal(r).(*problem.Problem)
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(p.Status)
		fmt.Fprintf(w, `{"reason":%q,"method":%q,"path":%q,"host":%q,"client":%q}`, p.Reason, r.Method, r.URL.Path, r.Host, r.RemoteAddr)
	})
	ts.l, err = New(tcp, Options{MaxConnections: maxConns, MaxHeaderBytes: 1024, Refused: refused})
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			ts.mu.Lock()
			ts.seen = append(ts.seen, r.URL.Path)
			ts.mu.Unlock()
			fmt.Fprint(w, "ok ", r.URL.Path)
		}),
		ConnState: ts.l.ConnState, ConnContext: ts.l.ConnContext,
	}
	go func() { _ = srv.Serve(ts.l) }()
	t.Cleanup(func() { srv.Close() })
	return ts
}

func (ts *testServer) paths() []string {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return append([]string(nil), ts.seen...)
}

// exchange writes raw (in pieces of step bytes, 0: at once) and reads
// every response until the server closes.
func exchange(t *testing.T, addr, raw string, step int) []*http.Response {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second)) // guards against a hang, not a timing assertion
	go func() {
		if step == 0 {
			_, _ = io.WriteString(c, raw)
			return
		}
		for i := 0; i < len(raw); i += step {
			if _, err := io.WriteString(c, raw[i:min(i+step, len(raw))]); err != nil {
				return
			}
		}
	}()
	br := bufio.NewReader(c)
	var out []*http.Response
	for {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			if err != io.EOF && err != io.ErrUnexpectedEOF && !strings.Contains(err.Error(), "reset") {
				t.Fatalf("after %d responses: %v", len(out), err)
			}
			return out
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body = io.NopCloser(strings.NewReader(string(b)))
		out = append(out, resp)
	}
}

func body(r *http.Response) string {
	b, _ := io.ReadAll(r.Body)
	return string(b)
}

func TestConnRefusesSmuggling(t *testing.T) {
	t.Parallel()
	ts := startServer(t, 100)
	smuggled := "GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"
	tests := []struct {
		name     string
		raw      string
		step     int
		wantOK   []string // paths served before the refusal
		reason   string
		wantPath string
	}{
		{name: "CL+TE first on the connection", raw: "POST /up HTTP/1.1\r\nHost: h\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled,
			reason: ReasonFramingAmbiguous, wantPath: "/up"},
		{name: "TE+CL in odd case after a served request", raw: "GET /a HTTP/1.1\r\nHost: h\r\n\r\nPOST /up HTTP/1.1\r\nHost: h\r\ntransfer-ENCODING: Chunked\r\ncontent-length: 6\r\n\r\n0\r\n\r\n" + smuggled,
			wantOK: []string{"/a"}, reason: ReasonFramingAmbiguous, wantPath: "/up"},
		{name: "CL+TE sent byte by byte", raw: "POST /up HTTP/1.1\r\nHost: h\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled, step: 1,
			reason: ReasonFramingAmbiguous, wantPath: "/up"},
		{name: "CL+TE after a chunked request", raw: "POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\nPOST /up HTTP/1.1\r\nHost: h\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled,
			wantOK: []string{"/c"}, reason: ReasonFramingAmbiguous, wantPath: "/up"},
		{name: "a space before the colon", raw: "POST /up HTTP/1.1\r\nHost: h\r\nTransfer-Encoding : chunked\r\nContent-Length: 6\r\n\r\n0\r\n\r\n" + smuggled,
			reason: ReasonHeadMalformed, wantPath: "/up"},
		{name: "an oversized head", raw: "GET /big HTTP/1.1\r\nHost: h\r\nX-A: " + strings.Repeat("a", 2000) + "\r\n\r\n" + smuggled,
			reason: ReasonHeadersTooLarge, wantPath: "/big"},
		{name: "an oversized head in pieces", raw: "GET /big HTTP/1.1\r\nHost: h\r\nX-A: " + strings.Repeat("a", 2000) + "\r\n\r\n" + smuggled, step: 100,
			reason: ReasonHeadersTooLarge, wantPath: "/big"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resps := exchange(t, ts.addr, tc.raw, tc.step)
			if len(resps) != len(tc.wantOK)+1 {
				t.Fatalf("got %d responses, want %d", len(resps), len(tc.wantOK)+1)
			}
			last := resps[len(resps)-1]
			b := body(last)
			if !last.Close || !strings.Contains(b, `"reason":"`+tc.reason+`"`) || !strings.Contains(b, `"path":"`+tc.wantPath+`"`) ||
				!strings.Contains(b, `"host":"h"`) || !strings.Contains(b, `"client":"127.0.0.1:`) {
				t.Fatalf("refusal %d close=%v %s", last.StatusCode, last.Close, b)
			}
			for _, p := range ts.paths() {
				if p == "/smuggled" || p == tc.wantPath {
					t.Fatalf("the handler served %s", p)
				}
			}
		})
	}
}

func TestConnLimit(t *testing.T) {
	t.Parallel()
	ts := startServer(t, 2)
	var held []net.Conn
	for i := 0; i < 2; i++ {
		c, err := net.Dial("tcp", ts.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.WriteString(c, get); err != nil {
			t.Fatal(err)
		}
		if _, err := http.ReadResponse(bufio.NewReader(c), nil); err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
	}
	if resps := exchange(t, ts.addr, get, 0); len(resps) != 0 {
		t.Fatalf("a third connection was served")
	}
	held[0].Close()
	for ts.l.open.Load() > 1 { // the server notices the close when it reads
		time.Sleep(time.Millisecond)
	}
	if resps := exchange(t, ts.addr, "GET /a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 0); len(resps) != 1 || resps[0].StatusCode != 200 {
		t.Fatalf("a connection within the limit again was not served: %d responses", len(resps))
	}
}

// BenchmarkKeepAliveGET measures a keep-alive GET through the scanning
// listener (wrapped) against the bare TCP listener.
func BenchmarkKeepAliveGET(b *testing.B) {
	for _, wrapped := range []bool{false, true} {
		b.Run(fmt.Sprintf("wrapped=%v", wrapped), func(b *testing.B) {
			tcp, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			var l net.Listener = tcp
			srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})}
			if wrapped {
				ll, err := New(tcp, Options{MaxConnections: 10, MaxHeaderBytes: 64 << 10, Refused: http.NotFoundHandler()})
				if err != nil {
					b.Fatal(err)
				}
				srv.ConnState, srv.ConnContext, l = ll.ConnState, ll.ConnContext, ll
			}
			go func() { _ = srv.Serve(l) }()
			defer srv.Close()
			c, err := net.Dial("tcp", tcp.Addr().String())
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			req := "GET /api/v1/users/42?limit=5 HTTP/1.1\r\nHost: api.example\r\nUser-Agent: bench/1.0\r\nAccept: application/json\r\nAuthorization: Bearer " + strings.Repeat("t", 400) + "\r\n\r\n"
			br := bufio.NewReader(c)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := io.WriteString(c, req); err != nil {
					b.Fatal(err)
				}
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
	}
}

func BenchmarkScanHead(b *testing.B) {
	req := []byte("GET /api/v1/users/42?limit=5 HTTP/1.1\r\nHost: api.example\r\nUser-Agent: bench/1.0\r\nAccept: application/json\r\nAuthorization: Bearer " + strings.Repeat("t", 400) + "\r\n\r\n")
	s := newScanner(64 << 10)
	b.SetBytes(int64(len(req)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, _, ok := s.feed(req); !ok {
			b.Fatal("refused")
		}
	}
}
