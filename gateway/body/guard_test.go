package body

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/gateway/config"
	"github.com/portcullis/portcullis/gateway/pipeline"
)

func ptr[T any](v T) *T { return &v }

func gzipped(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// unsized hides the length of a reader, so the request is sent chunked.
type unsized struct{ io.Reader }

func TestGuardAndRead(t *testing.T) {
	t.Parallel()
	small := []byte(`{"name":"a","email":"a@example.com"}`)
	bomb := gzipped(t, make([]byte, 4<<20)) // 4 MiB of zeros, ~4 KiB on the wire
	deep := []byte(strings.Repeat("[", 40) + strings.Repeat("]", 40))
	many := []byte("[" + strings.Repeat("1,", 20000) + "1]")
	tests := []struct {
		name     string
		limits   config.Limits
		body     io.Reader
		header   map[string]string
		want     int
		reason   string
		wantBody []byte // PlainBody seen by next
	}{
		{name: "small body with content length passes", body: bytes.NewReader(small), want: 204, wantBody: small},
		{name: "request without body passes", want: 204, wantBody: []byte{}},
		{name: "2 MiB body with content length gets 413", body: bytes.NewReader(make([]byte, 2<<20)), want: 413, reason: ReasonBodyTooLarge},
		{name: "body exactly at the limit passes", limits: limitsWith(func(l *config.Limits) { l.MaxBodyBytes = 64 }), body: bytes.NewReader(make([]byte, 64)), want: 204, wantBody: make([]byte, 64)},
		{name: "chunked body over the limit gets 413", limits: limitsWith(func(l *config.Limits) { l.MaxBodyBytes = 1 << 10 }), body: unsized{bytes.NewReader(make([]byte, 4<<10))}, want: 413, reason: ReasonBodyTooLarge},
		{name: "chunked body within the limit passes", body: unsized{bytes.NewReader(small)}, want: 204, wantBody: small},
		{name: "chunked body where content length is required gets 411", limits: limitsWith(func(l *config.Limits) { l.RequireContentLength = ptr(true) }), body: unsized{bytes.NewReader(small)}, want: 411, reason: ReasonLengthRequired},
		{name: "gzip body within the limit is decompressed", limits: limitsWith(func(l *config.Limits) { l.AllowEncodedBody = ptr(true) }), body: bytes.NewReader(gzipped(t, small)), header: map[string]string{"Content-Encoding": "gzip"}, want: 204, wantBody: small},
		{name: "gzip bomb gets 413 after decompression", limits: limitsWith(func(l *config.Limits) { l.AllowEncodedBody = ptr(true) }), body: bytes.NewReader(bomb), header: map[string]string{"Content-Encoding": "gzip"}, want: 413, reason: ReasonBodyTooLarge},
		{name: "gzip where encoded bodies are not allowed gets 415", body: bytes.NewReader(gzipped(t, small)), header: map[string]string{"Content-Encoding": "gzip"}, want: 415, reason: ReasonEncodingNotAllowed},
		{name: "brotli gets 415 even where gzip is allowed", limits: limitsWith(func(l *config.Limits) { l.AllowEncodedBody = ptr(true) }), body: bytes.NewReader(small), header: map[string]string{"Content-Encoding": "br"}, want: 415, reason: ReasonEncodingNotAllowed},
		{name: "stacked gzip layers get 415", limits: limitsWith(func(l *config.Limits) { l.AllowEncodedBody = ptr(true) }), body: bytes.NewReader(gzipped(t, gzipped(t, small))), header: map[string]string{"Content-Encoding": "gzip, gzip"}, want: 415, reason: ReasonEncodingNotAllowed},
		{name: "corrupt gzip gets 400", limits: limitsWith(func(l *config.Limits) { l.AllowEncodedBody = ptr(true) }), body: strings.NewReader("not gzip"), header: map[string]string{"Content-Encoding": "gzip"}, want: 400, reason: ReasonEncodingInvalid},
		{name: "identity encoding passes", body: bytes.NewReader(small), header: map[string]string{"Content-Encoding": "identity"}, want: 204, wantBody: small},
		{name: "deeply nested JSON gets 400", body: bytes.NewReader(deep), want: 400, reason: ReasonJSONTooDeep},
		{name: "JSON with too many items gets 400", body: bytes.NewReader(many), want: 400, reason: ReasonJSONTooManyKeys},
		{name: "deep nesting in a non-JSON body is not checked", body: bytes.NewReader(deep), header: map[string]string{"Content-Type": "text/plain"}, want: 204, wantBody: deep},
		{name: "deep nesting in a +json body gets 400", body: bytes.NewReader(deep), header: map[string]string{"Content-Type": "application/merge-patch+json; charset=utf-8"}, want: 400, reason: ReasonJSONTooDeep},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if tc.limits == (config.Limits{}) {
				tc.limits = limitsWith(nil)
			}
			next := &recorder{}
			h := serve(pipeline.Chain(next, Guard(tc.limits), Read(tc.limits, true)))
			r := httptest.NewRequest(http.MethodPost, "/api/v1/users", tc.body)
			r.Header.Set("Content-Type", "application/json")
			for k, v := range tc.header {
				r.Header.Set(k, v)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tc.want {
				t.Fatalf("status = %d, want %d; body %s", w.Code, tc.want, w.Body)
			}
			if tc.want >= 400 {
				if next.ran {
					t.Fatal("next ran for a rejected request")
				}
				if !strings.Contains(w.Body.String(), `"reason":"`+tc.reason+`"`) {
					t.Fatalf("body %s lacks reason %q", w.Body, tc.reason)
				}
				return
			}
			if !next.ran || !next.state.BodyRead {
				t.Fatalf("next ran = %v, BodyRead = %v", next.ran, next.state.BodyRead)
			}
			if !bytes.Equal(next.state.PlainBody, tc.wantBody) {
				t.Fatalf("PlainBody = %.40q, want %.40q", next.state.PlainBody, tc.wantBody)
			}
		})
	}
}

func TestGuardLeavesSizedBodiesUnreadAndBounded(t *testing.T) {
	t.Parallel()
	l := limitsWith(func(l *config.Limits) { l.MaxBodyBytes = 16 })
	var got []byte
	var readErr error
	next := pipeline.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		if Part.From(r.Context()).Read {
			t.Error("Guard buffered a body that has a Content-Length")
		}
		got, readErr = io.ReadAll(r.Body)
		return nil
	})
	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader("0123456789abcdefXYZ"))
	r.ContentLength = 10 // a lying Content-Length must not let more than the limit through
	serve(pipeline.Chain(next, Guard(l))).ServeHTTP(httptest.NewRecorder(), r)
	if len(got) > 16 || readErr == nil {
		t.Fatalf("read %d bytes, err %v; want at most 16 and an error", len(got), readErr)
	}
}

// TestGuardOverRealConnections runs Guard behind a real server, where the
// Go server sends "100 Continue" only when the handler reads the body.
func TestGuardOverRealConnections(t *testing.T) {
	t.Parallel()
	ran := make(chan struct{}, 10)
	next := pipeline.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		ran <- struct{}{}
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
	l := limitsWith(func(l *config.Limits) { l.MaxBodyBytes = 1 << 10 })
	srv := httptest.NewServer(serve(pipeline.Chain(next, Guard(l), (*Budget)(nil).Buffer(l))))
	defer srv.Close()

	t.Run("Expect 100-continue with a too-large Content-Length gets 413 and no 100", func(t *testing.T) {
		conn, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(10 * time.Second)) // guards against a hang, not a timing assertion
		_, err = io.WriteString(conn, "POST /upload HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"+
			"Content-Type: application/octet-stream\r\nContent-Length: 2097152\r\n\r\n")
		if err != nil {
			t.Fatal(err)
		}
		status, err := bufio.NewReader(conn).ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(status, "HTTP/1.1 413") {
			t.Fatalf("first response line %q, want 413 (and never 100 Continue)", status)
		}
	})
	t.Run("chunked body over the limit gets 413 and next never runs", func(t *testing.T) {
		resp, err := http.Post(srv.URL+"/upload", "application/octet-stream", unsized{bytes.NewReader(make([]byte, 4<<10))})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Fatalf("status = %d, want 413", resp.StatusCode)
		}
	})
	select {
	case <-ran:
		t.Fatal("next ran for a rejected request")
	default:
	}
}
