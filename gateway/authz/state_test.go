package authz

import (
	"net/http"

	"github.com/portcullis/portcullis/gateway/body"
	"github.com/portcullis/portcullis/gateway/header"
	"github.com/portcullis/portcullis/gateway/input"
	"github.com/portcullis/portcullis/gateway/pipeline"
	"github.com/portcullis/portcullis/gateway/problem"
	"github.com/portcullis/portcullis/policy"
)

// ReasonAllow is the outcome of a request the stage let through.
const ReasonAllow = problem.ReasonAllow

// testState binds the parts the stage reads and writes, as the server does.
type testState struct {
	input.Doc
	Body     []byte
	BodyRead bool
	// After done: the result, the edits and the settled reason.
	Decision   *policy.Decision
	SetHeaders http.Header
	DelHeaders []string
	Reason     problem.Reason

	rq    pipeline.Request
	b     body.Buffered
	res   Result
	edits header.Edits
}

func newTestState(in policy.Input) *testState {
	st := &testState{}
	st.Input = in
	input.Part.Bind(&st.rq, &st.Doc)
	body.Part.Bind(&st.rq, &st.b)
	ResultPart.Bind(&st.rq, &st.res)
	header.EditsPart.Bind(&st.rq, &st.edits)
	return st
}

func (st *testState) with(r *http.Request) *http.Request {
	st.b = body.Buffered{Bytes: st.Body, Read: st.BodyRead}
	return r.WithContext(pipeline.WithRequest(r.Context(), &st.rq))
}

// done records what the stage left, for the assertions.
func (st *testState) done(err error) {
	st.Decision = st.res.Decision
	st.SetHeaders = http.Header{}
	st.edits.Apply(st.SetHeaders)
	probe := http.Header{"X-Internal": {"x"}}
	st.edits.Apply(probe)
	if probe.Get("X-Internal") == "" {
		st.DelHeaders = append(st.DelHeaders, "X-Internal")
	}
	st.Reason = pipeline.Settle(pipeline.End{Err: err}).Reason
}
