package header

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/portcullis/portcullis/gateway/config"
	"github.com/portcullis/portcullis/gateway/header/trusted"
	"github.com/portcullis/portcullis/gateway/problem"
	"github.com/portcullis/portcullis/internal/promreg"
	"github.com/portcullis/portcullis/policy"
)

// Reason codes of the problems the cleaner returns.
const (
	ReasonNameRejected     = "header_name_rejected"
	ReasonOverrideRejected = "method_override_rejected"
	ReasonOverrideInvalid  = "method_override_invalid"
	ReasonUpgradeRefused   = "upgrade_refused"
	ReasonConnectRefused   = "connect_refused"
	ReasonHostRejected     = "host_rejected"
	ReasonHostMismatch     = "host_mismatch"
)

// RequestIDHeader is set by the cleaner to the request's id, so the policy
// sees the id the upstream gets.
const RequestIDHeader = "X-Request-Id"

// Kinds of the header names the cleaner acts on, found in one pass.
const (
	kindHop uint8 = 1 << iota
	kindForwarding
	kindOverride
	kindAlways
	kindRequestID
)

// Cleaner makes a request mean one thing: it removes or refuses what a
// backend could read differently from the gateway, before routing and
// before the policy input is built. Build it once with New.
type Cleaner struct {
	underscores string // "drop", "reject" or "allow"
	override    string // "strip", "reject" or "judge"
	trusted     []netip.Prefix
	// kinds maps a folded name to the kinds it belongs to; filter says
	// at once that most names are none.
	kinds  map[string]uint8
	filter nameFilter

	dropped, rejected prometheus.Counter
}

// New builds the cleaner of cfg (listen.headers_with_underscores,
// listen.trusted_proxies, request.*) and registers its counter with reg.
func New(cfg *config.Config, reg prometheus.Registerer) (*Cleaner, error) {
	c := &Cleaner{
		underscores: cfg.Listen.HeadersWithUnderscores,
		override:    cfg.Request.MethodOverride,
		kinds:       map[string]uint8{},
	}
	for _, s := range cfg.Listen.TrustedProxies {
		p, err := trusted.Parse(s)
		if err != nil {
			return nil, fmt.Errorf("listen.trusted_proxies: %w", err)
		}
		c.trusted = append(c.trusted, p)
	}
	add := func(kind uint8, names ...string) {
		for _, n := range names {
			c.kinds[Fold(n)] |= kind
			c.filter.add(Fold(n))
		}
	}
	add(kindHop, HopByHop...)
	add(kindForwarding, ForwardingHeaders...)
	add(kindForwarding, cfg.Request.ForwardingHeaders...)
	add(kindOverride, MethodOverrideHeaders...)
	add(kindAlways, alwaysRemoved...)
	add(kindRequestID, RequestIDHeader)
	vec := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "portcullis_headers_with_underscores_total",
		Help: "Request header fields whose name contains an underscore, by action: dropped counts fields removed, rejected counts requests refused (listen.headers_with_underscores).",
	}, []string{"action"})
	vec, err := promreg.Register(reg, vec) // every generation builds a Cleaner
	if err != nil {
		return nil, err
	}
	c.dropped, c.rejected = vec.WithLabelValues("dropped"), vec.WithLabelValues("rejected")
	return c, nil
}

// kind returns the kinds of name, in any spelling.
func (c *Cleaner) kind(name string) uint8 {
	if !c.filter.mayHold(name) {
		return 0
	}
	if len(name) > maxStackName {
		return c.kinds[Fold(name)]
	}
	var buf [maxStackName]byte
	b := buf[:len(name)]
	for i := 0; i < len(name); i++ {
		b[i] = foldByte(name[i])
	}
	return c.kinds[string(b)]
}

// Screen runs before routing. In order it: handles header names with
// underscores; refuses CONNECT; normalizes the host into req.Host and
// req.Port (and r.Host); refuses every upgrade but a WebSocket one; removes
// hop-by-hop headers and the names Connection nominates; strips, refuses
// or judges method overrides (req.Method, req.WireMethod); replaces the
// forwarding headers of an untrusted peer with the gateway's own; and sets
// X-Request-Id to req.ID. What the policy then sees in r is what the
// upstream gets.
func (c *Cleaner) Screen(r *http.Request, req *policy.Request) error {
	seen, err := c.names(r.Header)
	if err != nil {
		return err
	}
	if r.Method == http.MethodConnect {
		// Over HTTP/2 this includes extended CONNECT (RFC 8441, WebSocket
		// over HTTP/2), which Go's server does not even enable by default.
		// 405 as nginx answers, and a 4xx: a client cannot fill the error
		// log with it.
		return problem.New(http.StatusMethodNotAllowed, ReasonConnectRefused, "the gateway does not tunnel CONNECT requests")
	}
	if err := c.host(r, req); err != nil {
		return err
	}
	if seen&kindHop != 0 {
		if err := c.hopByHop(r); err != nil {
			return err
		}
	}
	if seen&kindAlways != 0 {
		for k := range r.Header {
			if c.kind(k)&kindAlways != 0 {
				delete(r.Header, k)
			}
		}
	}
	req.WireMethod = r.Method
	req.Method = r.Method
	if err := c.methodOverride(r, req, seen&kindOverride != 0); err != nil {
		return err
	}
	// The values of the four headers the gateway sets share one array (one
	// allocation, not four); each header gets a slice capped at its own
	// value, so an append to one cannot overwrite the next.
	own := make([]string, 4)
	c.forwarding(r, req, seen&kindForwarding != 0, own[:3])
	own[3] = req.ID
	switch v := r.Header[RequestIDHeader]; {
	case seen&kindRequestID == 0:
		r.Header[RequestIDHeader] = own[3:4:4]
	case len(v) != 1 || v[0] != req.ID || c.underscores == "allow":
		Replace(r.Header, RequestIDHeader, own[3:4:4])
	}
	return nil
}

// names applies listen.headers_with_underscores. Nothing has read a header
// yet, so with "drop" no later stage can meet a name with "_". In the same
// pass it collects the kinds of the names that stay.
func (c *Cleaner) names(h http.Header) (seen uint8, err error) {
	n := 0
	for k := range h {
		if c.underscores != "allow" && strings.IndexByte(k, '_') >= 0 {
			if c.underscores == "reject" {
				c.rejected.Inc()
				return 0, problem.New(http.StatusBadRequest, ReasonNameRejected, "header names with underscores are not accepted")
			}
			delete(h, k)
			n++
			continue
		}
		seen |= c.kind(k)
	}
	if n > 0 {
		c.dropped.Add(float64(n))
	}
	return seen, nil
}

// Prepare runs once the route is known: an upgrade request that survived
// Screen (a WebSocket one) is refused unless the route opts in.
func (c *Cleaner) Prepare(r *http.Request, rt *config.Route) error {
	if _, ok := r.Header["Upgrade"]; ok && !slices.Contains(rt.Upgrade, "websocket") {
		return upgradeRefused("this route does not accept connection upgrades")
	}
	return nil
}

// upgradeRefused is 403, as Envoy answers an upgrade its route does not
// configure: the request is well formed, the gateway will not serve it.
func upgradeRefused(detail string) *problem.Problem {
	return problem.New(http.StatusForbidden, ReasonUpgradeRefused, detail)
}

// hopByHop removes the hop-by-hop headers and every name Connection
// nominates, in any spelling, and refuses any upgrade but WebSocket. A
// WebSocket upgrade keeps "Connection: Upgrade" and its Upgrade header,
// which ReverseProxy forwards; "TE: trailers" is kept, as ReverseProxy
// forwards it too.
func (c *Cleaner) hopByHop(r *http.Request) error {
	h := r.Header
	conn := Values(h, "Connection")
	upgrade := Values(h, "Upgrade")
	websocket := false
	if len(upgrade) > 0 {
		var err error
		if websocket, err = checkUpgrade(r, conn, upgrade); err != nil {
			return err
		}
	}
	trailers := false
	for _, v := range Values(h, "Te") {
		trailers = trailers || hasToken(v, "trailers")
	}
	for _, line := range conn {
		for tok := range strings.SplitSeq(line, ",") {
			if tok = strings.TrimSpace(tok); tok != "" {
				Del(h, tok)
			}
		}
	}
	for k := range h {
		if c.kind(k)&kindHop != 0 {
			delete(h, k)
		}
	}
	if websocket {
		h["Connection"] = []string{"Upgrade"}
		h["Upgrade"] = []string{strings.TrimSpace(upgrade[0])}
	}
	if trailers {
		h["Te"] = []string{"trailers"}
	}
	return nil
}

// checkUpgrade accepts exactly one WebSocket upgrade of a GET over
// HTTP/1.1 that Connection names; any other Upgrade header, h2c above
// all (it would turn the connection into an unmediated HTTP/2 tunnel), is
// refused.
func checkUpgrade(r *http.Request, conn, upgrade []string) (bool, error) {
	for _, v := range upgrade {
		for tok := range strings.SplitSeq(v, ",") {
			if p, _, _ := strings.Cut(strings.TrimSpace(tok), "/"); strings.EqualFold(p, "h2c") {
				return false, upgradeRefused("h2c upgrades are never accepted")
			}
		}
	}
	named := false
	for _, v := range conn {
		named = named || hasToken(v, "upgrade")
	}
	if len(upgrade) != 1 || !strings.EqualFold(strings.TrimSpace(upgrade[0]), "websocket") || !named ||
		r.Method != http.MethodGet || r.ProtoMajor != 1 || r.ProtoMinor != 1 {
		return false, upgradeRefused("only a WebSocket upgrade of a GET over HTTP/1.1 can be accepted")
	}
	return true, nil
}

// hasToken reports whether the comma-separated list v holds tok, case-insensitively.
func hasToken(v, tok string) bool {
	for t := range strings.SplitSeq(v, ",") {
		if strings.EqualFold(strings.TrimSpace(t), tok) {
			return true
		}
	}
	return false
}

// forwarding removes the forwarding headers of an untrusted peer, in every
// spelling, and sets X-Forwarded-For, -Host and -Proto once; the proxy
// forwards these values. A trusted peer's headers are kept; its
// X-Forwarded-For is appended to, its X-Forwarded-Host and an http or
// https X-Forwarded-Proto are kept. Forwarded is never sent on. It sets
// req.ClientIP from the chain it keeps. vals holds the three values set.
func (c *Cleaner) forwarding(r *http.Request, req *policy.Request, present bool, vals []string) {
	h := r.Header
	ip, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		ip = ""
	}
	peer, _ := parseAddr(ip) // SplitHostPort took the port
	trustedPeer := peer.IsValid() && c.trustedAddr(peer)
	host := r.Host
	proto := "http"
	if r.TLS != nil {
		proto = "https"
	}
	var xff []string
	if present && trustedPeer {
		xff = Values(h, xForwardedFor)
		if client := c.clientIP(peer, xff, Values(h, "Forwarded")); client.IsValid() {
			req.ClientIP = client.String()
		}
		if v := Values(h, xForwardedHost); len(v) > 0 {
			host = v[0]
		}
		if v := Values(h, xForwardedProto); len(v) > 0 && (v[0] == "http" || v[0] == "https") {
			proto = v[0]
		}
		Del(h, "Forwarded")
	} else if present {
		for k := range h {
			if c.kind(k)&kindForwarding != 0 {
				delete(h, k)
			}
		}
	}
	if req.ClientIP == "" && peer.IsValid() {
		req.ClientIP = addrString(peer, ip)
	}
	set := func(i int, k, v string) {
		vals[i] = v
		if present { // other spellings may be left (a trusted peer's)
			Replace(h, k, vals[i:i+1:i+1])
		} else {
			h[k] = vals[i : i+1 : i+1]
		}
	}
	if ip != "" {
		if len(xff) > 0 {
			ip = strings.Join(xff, ", ") + ", " + ip
		}
		set(0, xForwardedFor, ip)
	} else {
		Del(h, xForwardedFor)
	}
	set(1, xForwardedHost, host)
	set(2, xForwardedProto, proto)
}

// CopyForwarding copies the forwarding headers Screen set on in to out
// (ReverseProxy removes them from its outgoing request before Rewrite).
func CopyForwarding(in, out http.Header) {
	for _, k := range SetForwarding {
		if v, ok := in[k]; ok {
			out[k] = v
		}
	}
}
