package header

import (
	"net/http"

	"github.com/portcullis/portcullis/gateway/pipeline"
)

// Edits are the changes the stages ask for on the upstream request:
// headers to set (identity headers, the policy's headers) and to remove.
// The proxy applies them after hop-by-hop headers are gone, so a client's
// Connection header can never remove what is set.
type Edits struct {
	set http.Header
	del []string
}

// EditsPart is the request's Edits.
var EditsPart = pipeline.NewPart[Edits]()

// Set queues a header for the upstream request.
func (e *Edits) Set(name, value string) {
	if e.set == nil {
		e.set = make(http.Header, 4)
	}
	e.set.Set(name, value)
}

// Delete queues headers to remove from the upstream request.
func (e *Edits) Delete(names ...string) { e.del = append(e.del, names...) }

// Apply makes the edits on h, every spelling of a name included, so no
// second value sits beside the gateway's.
func (e *Edits) Apply(h http.Header) {
	for _, name := range e.del {
		Del(h, name)
	}
	for k, v := range e.set {
		Replace(h, k, v)
	}
}
