package listener

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/portcullis/portcullis/gateway/problem"
)

type refusalKey struct{}

// Refusal returns the problem of a request the connection refused before
// Go's server read it (see Options.Refused), or nil for any other request.
func Refusal(r *http.Request) error {
	if p, ok := r.Context().Value(refusalKey{}).(*problem.Problem); ok {
		return p
	}
	return nil
}

// answer has Options.Refused answer ref and sends the answer on c.
func (l *Listener) answer(c *Conn, ref *refusal) {
	u, err := url.ParseRequestURI(ref.target)
	if err != nil {
		u = &url.URL{Path: ref.target}
	}
	p := problem.New(ref.status, problem.Reason(ref.reason), ref.detail)
	r := (&http.Request{
		Method: ref.method, URL: u, RequestURI: ref.target,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{}, Body: http.NoBody, Host: ref.host,
		RemoteAddr: c.RemoteAddr().String(), TLS: c.tls,
	}).WithContext(context.WithValue(context.Background(), refusalKey{}, p))
	w := &response{header: http.Header{}}
	l.o.Refused.ServeHTTP(w, r)
	if w.status == 0 {
		w.status = ref.status
	}
	resp := &http.Response{
		StatusCode: w.status, Status: strconv.Itoa(w.status) + " " + http.StatusText(w.status),
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: w.header, ContentLength: int64(w.body.Len()), Body: io.NopCloser(&w.body),
		Close: true,
	}
	_ = c.Conn.SetWriteDeadline(time.Now().Add(answerTimeout))
	if err := resp.Write(c.Conn); err == nil {
		finish(c.Conn)
	}
}

// response collects what Options.Refused writes.
type response struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (w *response) Header() http.Header { return w.header }

func (w *response) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}

func (w *response) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return w.body.Write(b)
}
