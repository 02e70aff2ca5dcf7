package authn

import (
	"errors"
	"net/http"

	"github.com/portcullis/portcullis/gateway/header"
	"github.com/portcullis/portcullis/gateway/input"
	"github.com/portcullis/portcullis/gateway/pipeline"
	"github.com/portcullis/portcullis/gateway/problem"
)

// testState binds the parts the stage writes, as the server does.
type testState struct {
	input.Doc
	// After done: the queued headers and the failure's reason.
	SetHeaders http.Header
	Reason     problem.Reason
	Presented  []pipeline.Presented

	rq    pipeline.Request
	edits header.Edits
}

func newTestState() *testState {
	st := &testState{}
	input.Part.Bind(&st.rq, &st.Doc)
	header.EditsPart.Bind(&st.rq, &st.edits)
	return st
}

func (st *testState) with(r *http.Request) *http.Request {
	return r.WithContext(pipeline.WithRequest(r.Context(), &st.rq))
}

func (st *testState) done(err error) {
	st.SetHeaders = http.Header{}
	st.edits.Apply(st.SetHeaders)
	if f, ok := errors.AsType[*Failure](err); ok {
		st.Presented = f.Presented
	}
	if p := problem.As(err); p != nil {
		st.Reason = p.Reason
	}
}
