package proxy

import (
	"net/http"
	"time"

	"github.com/portcullis/portcullis/gateway/body"
	"github.com/portcullis/portcullis/gateway/header"
	"github.com/portcullis/portcullis/gateway/input"
	"github.com/portcullis/portcullis/gateway/pipeline"
)

// testState binds the parts the proxy reads and writes, as the server
// does, and shows the exchange under the names of its fields before issue 13.
type testState struct {
	input.Doc
	Body     []byte
	BodyRead bool

	UpstreamStatus  int
	Forwarded       time.Time
	UpstreamLatency time.Duration
	Relayed         time.Time

	rq    pipeline.Request
	b     body.Buffered
	edits header.Edits
	x     Exchange
}

func newTestState() *testState {
	st := &testState{}
	input.Part.Bind(&st.rq, &st.Doc)
	body.Part.Bind(&st.rq, &st.b)
	header.EditsPart.Bind(&st.rq, &st.edits)
	ExchangePart.Bind(&st.rq, &st.x)
	return st
}

func (st *testState) SetHeader(name, value string) { st.edits.Set(name, value) }

func (st *testState) with(r *http.Request) *http.Request {
	st.b = body.Buffered{Bytes: st.Body, Read: st.BodyRead}
	return r.WithContext(pipeline.WithRequest(r.Context(), &st.rq))
}

func (st *testState) done() {
	st.UpstreamStatus, st.Forwarded, st.UpstreamLatency, st.Relayed = st.x.Status, st.x.Forwarded, st.x.Latency, st.x.Relayed
}
