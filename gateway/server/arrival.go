package server

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/portcullis/portcullis/gateway/pipeline"
)

// arrival records the facts of r in st as the request arrives (see arrive).
func arrival(st *pipeline.State, r *http.Request) {
	target := r.RequestURI
	if target == "" { // a client-side request, as in tests
		target = r.URL.RequestURI()
	}
	arrive(st, r.Method, target, r.Host, r.RemoteAddr, r.TLS != nil)
}

// arrive records what is known of a request the moment it arrives, before
// a limit, the path check or the route lookup can end it, so that every
// decision-log event, a 404 or a 431 as much as an allow, says who asked
// for what: method, host, client address, scheme, and the path of target
// as received (pipeline.State.RawPath). The canonical path is set once
// normalization made it; until then input.request.path stays empty, never
// a path the gateway did not accept. It takes strings, not a request, so a
// refusal made before net/http built a request (see refuse) records the
// same facts.
func arrive(st *pipeline.State, method, target, host, remoteAddr string, tls bool) {
	req := &st.Input.Request
	req.Method = method
	req.Host = host
	req.RemoteAddr = remoteAddr
	req.Scheme = "http"
	if tls {
		req.Scheme = "https"
	}
	st.RawPath = targetPath(target)
}

// targetPath is the path of a request target, still escaped: the query
// (which may carry a credential) and, in absolute form, the scheme and
// authority (which may carry user:password@) are left out. Bytes that
// cannot appear in a valid target (controls, space, non-ASCII) are
// percent-encoded so the log shows them rather than a replacement
// character. An authority-form or asterisk-form target, which has no
// path, is kept without any userinfo.
func targetPath(target string) string {
	if i := strings.IndexAny(target, "?#"); i >= 0 {
		target = target[:i]
	}
	if !strings.HasPrefix(target, "/") {
		if _, rest, ok := strings.Cut(target, "://"); ok {
			target = "/"
			if i := strings.IndexByte(rest, '/'); i >= 0 {
				target = rest[i:]
			}
		} else if i := strings.LastIndexByte(target, '@'); i >= 0 {
			target = target[i+1:]
		}
	}
	return escapeUnsafe(target)
}

// escapeUnsafe percent-encodes the bytes of s outside visible ASCII; s
// itself is returned when there are none, as for any valid target.
func escapeUnsafe(s string) string {
	i := 0
	for i < len(s) && s[i] > ' ' && s[i] < 0x7f {
		i++
	}
	if i == len(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	b.WriteString(s[:i])
	for ; i < len(s); i++ {
		if c := s[i]; c > ' ' && c < 0x7f {
			b.WriteByte(c)
		} else {
			b.WriteByte('%')
			b.WriteByte(upperHex[c>>4])
			b.WriteByte(upperHex[c&0xf])
		}
	}
	return b.String()
}

const upperHex = "0123456789ABCDEF"

// refusal is a request the gateway answered before its handler could take
// it (an oversized header block, malformed framing): only the request
// line, the host and the peer may be known. Header, when not nil, holds
// the header fields that could be read, for decision_log.headers.
type refusal struct {
	Method, Target, Host, RemoteAddr string
	TLS                              bool
	Header                           http.Header
	Status                           int
	Reason                           string
}

// refuse records the metrics and the one decision-log event of rf, as
// finish does for a request that reached the handler, and returns its
// state: the response should carry st.Input.Request.ID and st.DecisionID
// as X-Request-Id and X-Decision-Id.
func (s *Server) refuse(ctx context.Context, rf refusal) *pipeline.State {
	st := &pipeline.State{Start: time.Now(), DecisionID: uuid.NewString(), Status: rf.Status, Reason: rf.Reason}
	st.Input.Request.ID = s.requestID("")
	arrive(st, rf.Method, rf.Target, rf.Host, rf.RemoteAddr, rf.TLS)
	s.metrics.requests.WithLabelValues("", methodLabel(rf.Method), statusLabel(rf.Status)).Inc()
	s.comp.logDecision(ctx, rf.Header, st, s.logHeaders)
	s.metrics.observe("", st, time.Now())
	return st
}
