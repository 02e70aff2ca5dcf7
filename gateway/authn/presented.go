package authn

import (
	"net/http"
	"slices"
	"strings"

	"github.com/portcullis/portcullis/gateway/header"
	"github.com/portcullis/portcullis/gateway/pipeline"
)

// kindOther is an Authorization header of a scheme other than Bearer.
const kindOther = "other"

// presented lists the kinds and places of the credentials r carries, each
// pair once, in the places x looks: what a failed authentication records
// in the decision log. It reads names and schemes only, never keeps a
// value, and does not judge: a malformed or repeated credential is listed
// like a good one (the reason code says what was wrong). Cookie names are
// compared without surrounding space and case, so a spelling the
// extractor refuses as ambiguous is still listed.
func (x *extractor) presented(r *http.Request) []pipeline.Presented {
	var out []pipeline.Presented
	add := func(kind, source string) {
		p := pipeline.Presented{Kind: kind, Source: source}
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	for _, v := range header.Values(r.Header, "Authorization") {
		scheme, _, _ := strings.Cut(strings.TrimSpace(v), " ")
		if strings.EqualFold(scheme, "Bearer") {
			add(kindBearer, sourceHeader)
		} else {
			add(kindOther, sourceHeader)
		}
	}
	if len(header.Values(r.Header, x.apiKeyHeader)) > 0 {
		add(kindAPIKey, sourceHeader)
	}
	if (x.bearerQuery != "" || x.apiKeyQuery != "") && r.URL.RawQuery != "" {
		for pair := range strings.SplitSeq(r.URL.RawQuery, "&") {
			k, _, _ := strings.Cut(pair, "=")
			switch key, _ := queryKey(k); {
			case key == "":
			case key == x.bearerQuery:
				add(kindBearer, sourceQuery)
			case key == x.apiKeyQuery:
				add(kindAPIKey, sourceQuery)
			}
		}
	}
	if x.clientCert && hasVerifiedCert(r) {
		add(kindClientCert, sourceTLS)
	}
	if x.bearerCookie != "" {
		for _, line := range r.Header.Values("Cookie") {
			for part := range strings.SplitSeq(line, ";") {
				name, _, _ := strings.Cut(part, "=")
				if strings.EqualFold(strings.TrimSpace(name), x.bearerCookie) {
					add(kindBearer, sourceCookie)
				}
			}
		}
	}
	return out
}
