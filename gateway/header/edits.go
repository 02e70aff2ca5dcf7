package header

import (
	"net/http"
	"net/url"

	"github.com/portcullis/portcullis/gateway/pipeline"
)

// Edits are the changes the stages ask for on the upstream request:
// headers to set (identity headers, the policy's headers) and to remove.
// The proxy applies them after hop-by-hop headers are gone, so a client's
// Connection header can never remove what is set.
type Edits struct {
	set http.Header
	del []string

	stampName string
	stamper   Stamper
}

// Stamper makes the value of a header that depends on where the request
// goes, so it is made only when the proxy builds the upstream request: the
// identity assertion names the upstream picked and the path forwarded.
type Stamper interface {
	// Stamp returns the value for in (the client's request, with its
	// pipeline parts) sent to upstream at path; "" sends no header.
	Stamp(in *http.Request, upstream *url.URL, path string) string
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

// Stamp queues a header whose value s makes when the upstream request is
// built (see ApplyStamp).
func (e *Edits) Stamp(name string, s Stamper) { e.stampName, e.stamper = name, s }

// ApplyStamp sets the stamped header on h, replacing every spelling of
// its name; when the stamper gives no value every spelling is removed, so
// a client's value never passes.
func (e *Edits) ApplyStamp(in *http.Request, h http.Header, upstream *url.URL, path string) {
	if e.stamper == nil {
		return
	}
	if v := e.stamper.Stamp(in, upstream, path); v != "" {
		Replace(h, e.stampName, []string{v})
		return
	}
	Del(h, e.stampName)
}
