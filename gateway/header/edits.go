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
	// The headers to set, canonical names in the order first set: the
	// first maxInline in the arrays (no allocation for the usual few
	// identity and policy headers), any others in more.
	n     int
	names [maxInline]string
	vals  [maxInline]string
	more  []field
	del   []string

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

// maxInline is how many headers to set Edits holds without allocating.
const maxInline = 4

// field is a header to set beyond the first maxInline.
type field struct{ name, value string }

// Set queues a header for the upstream request, replacing a value queued
// before under the same canonical name.
func (e *Edits) Set(name, value string) {
	name = http.CanonicalHeaderKey(name)
	for i := range e.n {
		if e.names[i] == name {
			e.vals[i] = value
			return
		}
	}
	for i := range e.more {
		if e.more[i].name == name {
			e.more[i].value = value
			return
		}
	}
	if e.n < maxInline {
		e.names[e.n], e.vals[e.n] = name, value
		e.n++
		return
	}
	e.more = append(e.more, field{name, value})
}

// Delete queues headers to remove from the upstream request.
func (e *Edits) Delete(names ...string) { e.del = append(e.del, names...) }

// Apply makes the edits on h, every spelling of a name included, so no
// second value sits beside the gateway's; the headers are set in the order
// first queued. The first values h gets are slices of e's own array, each
// capped at its value (an append elsewhere reallocates): e must not be
// changed once applied.
func (e *Edits) Apply(h http.Header) {
	for _, name := range e.del {
		Del(h, name)
	}
	for i := range e.n {
		Replace(h, e.names[i], e.vals[i:i+1:i+1])
	}
	for _, f := range e.more {
		Replace(h, f.name, []string{f.value})
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
