package header

// HopByHop are the connection-specific headers of RFC 9110 §7.6.1 and the
// older ones proxies still honour (Go's httputil list). They are removed
// from the request, with every name its Connection header nominates,
// before the policy input is built, so the policy judges the header set
// the upstream receives.
var HopByHop = []string{
	"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
	"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade",
}

// ForwardingHeaders are the headers that tell a backend who the client is,
// how it connected, or which URL it asked for. Only a peer in
// listen.trusted_proxies may send them; from anyone else they are removed,
// in every spelling, and the gateway sets X-Forwarded-For, -Host and
// -Proto itself. request.forwarding_headers adds names to this list.
var ForwardingHeaders = []string{
	"Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto",
	"X-Forwarded-Port", "X-Forwarded-Prefix", "X-Forwarded-Ssl", "X-Forwarded-Scheme",
	"X-Forwarded-Server", "X-Forwarded-Uri", "X-Forwarded-Path", "X-Forwarded-Protocol",
	"X-Original-Forwarded-For", "X-Real-Ip", "X-Client-Ip", "True-Client-Ip",
	"Cf-Connecting-Ip", "Fastly-Client-Ip", "X-Cluster-Client-Ip", "X-Proxyuser-Ip",
	"Client-Ip", "X-Original-Url", "X-Rewrite-Url", "X-Original-Uri", "X-Original-Host",
	"X-Host", "X-Http-Host-Override", "X-Forwarded-By", "Front-End-Https", "X-Url-Scheme",
	"X-Envoy-External-Address", "X-Envoy-Original-Path",
}

// MethodOverrideHeaders are the headers with which Rails, Express,
// Symfony, Laravel and Flask recipes let a client replace the method.
var MethodOverrideHeaders = []string{"X-Http-Method-Override", "X-Method-Override", "X-Http-Method"}

// MethodOverrideParam is the query (and form) parameter with the same job.
const MethodOverrideParam = "_method"

// alwaysRemoved are headers no client may send whatever the peer: Proxy
// becomes HTTP_PROXY in CGI and redirects the backend's own outgoing
// requests (httpoxy, CVE-2016-5385).
var alwaysRemoved = []string{"Proxy"}

// The gateway's own X-Forwarded-* headers.
const (
	xForwardedFor   = "X-Forwarded-For"
	xForwardedHost  = "X-Forwarded-Host"
	xForwardedProto = "X-Forwarded-Proto"
)

// SetForwarding are the forwarding headers the gateway sends; the proxy
// copies them from the cleaned request (ReverseProxy removes them from its
// outgoing request before Rewrite).
var SetForwarding = []string{xForwardedFor, xForwardedHost, xForwardedProto}
