package server

import (
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/portcullis/portcullis/gateway/authn"
	"github.com/portcullis/portcullis/gateway/authz"
	"github.com/portcullis/portcullis/gateway/body"
	"github.com/portcullis/portcullis/gateway/header"
	"github.com/portcullis/portcullis/gateway/input"
	"github.com/portcullis/portcullis/gateway/pipeline"
	"github.com/portcullis/portcullis/gateway/proxy"
	"github.com/portcullis/portcullis/gateway/validate"
	"github.com/portcullis/portcullis/policy"
)

// exchange is one request's handling: when it began, its decision id and
// the parts the stages keep, each owned by its package, allocated
// together. The outcome is not here: the chain returns it (see finish).
type exchange struct {
	rq         pipeline.Request
	start      time.Time
	decisionID string

	in      input.Doc
	id      policy.Identity
	body    body.Buffered
	verdict validate.Verdict
	authz   authz.Result
	edits   header.Edits
	up      proxy.Exchange
	// ids back the X-Request-Id and X-Decision-Id response headers.
	ids [2]string
	// reasons backs the decision-log event's reasons: the outcome's and
	// usually a few of the policy's. The exchange is never reused, so an
	// event kept beyond the request (the shadow's) may point into it.
	reasons [4]string
	// span is the request's server span; nil when tracing is off.
	span trace.Span
	// rec wraps the client's ResponseWriter (allocated with the rest).
	rec recorder
}

func newExchange(start time.Time) *exchange {
	x := &exchange{start: start}
	input.Part.Bind(&x.rq, &x.in)
	authn.IdentityPart.Bind(&x.rq, &x.id)
	body.Part.Bind(&x.rq, &x.body)
	validate.VerdictPart.Bind(&x.rq, &x.verdict)
	authz.ResultPart.Bind(&x.rq, &x.authz)
	header.EditsPart.Bind(&x.rq, &x.edits)
	proxy.ExchangePart.Bind(&x.rq, &x.up)
	return x
}
