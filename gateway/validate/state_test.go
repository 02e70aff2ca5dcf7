package validate

import (
	"net/http"

	"github.com/portcullis/portcullis/gateway/body"
	"github.com/portcullis/portcullis/gateway/input"
	"github.com/portcullis/portcullis/gateway/pipeline"
)

// testState binds the parts the stage reads and writes, as the server
// does; Rejection is the verdict's, under its name before issue 13.
type testState struct {
	input.Doc
	Rejection error

	rq pipeline.Request
	b  body.Buffered
	vd Verdict
}

func newTestState() *testState {
	st := &testState{}
	input.Part.Bind(&st.rq, &st.Doc)
	body.Part.Bind(&st.rq, &st.b)
	VerdictPart.Bind(&st.rq, &st.vd)
	return st
}

func (st *testState) with(r *http.Request) *http.Request {
	return r.WithContext(pipeline.WithRequest(r.Context(), &st.rq))
}
