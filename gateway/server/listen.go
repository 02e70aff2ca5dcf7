package server

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"

	"github.com/portcullis/portcullis/gateway/generation"
	"github.com/portcullis/portcullis/gateway/listener"
)

// proxyListener wraps the proxy's TCP listener: at most
// listen.max_connections connections, TLS termination, and HTTP/1.x heads
// refused by the gateway's own parser before Go's server serves them (issue
// 12, classes 13 and 14). The refusals are answered by s, so they are logged
// and counted like every other request. srv gets the hooks the listener needs.
func (s *Server) proxyListener(tcp net.Listener, tlsCfg *tls.Config, srv *http.Server) (net.Listener, error) {
	l := s.boot.Listen
	pl, err := listener.New(tcp, listener.Options{
		MaxConnections:   l.MaxConnections,
		MaxHeaderBytes:   int(l.MaxHeaderBytes),
		TLS:              tlsCfg,
		HandshakeTimeout: l.ReadHeaderTimeout,
		Refused:          s,
		Registerer:       s.reg,
		ErrorLog:         srv.ErrorLog,
	})
	if err != nil {
		tcp.Close()
		return nil, fmt.Errorf("listen.proxy: %w", err)
	}
	srv.ConnState, srv.ConnContext = pl.ConnState, pl.ConnContext
	return pl, nil
}

// clientAuthConfig is the GetConfigForClient hook of base: each handshake
// asks for a client certificate as the running generation says
// (listen.tls_client_ca_file, listen.client_auth), so a rotated CA file,
// and client authentication turned on or off, is live for new connections.
// The config is derived once per generation, not per handshake.
func clientAuthConfig(base *tls.Config, running func() *generation.Generation) func(*tls.ClientHelloInfo) (*tls.Config, error) {
	type derived struct {
		g   *generation.Generation
		cfg *tls.Config
	}
	var last atomic.Pointer[derived]
	return func(*tls.ClientHelloInfo) (*tls.Config, error) {
		g := running()
		if g.ClientCAs == nil {
			return nil, nil // base: no certificate asked for
		}
		if d := last.Load(); d != nil && d.g == g {
			return d.cfg, nil
		}
		c := base.Clone()
		c.GetConfigForClient = nil
		c.ClientCAs, c.ClientAuth = g.ClientCAs, g.ClientAuth
		last.Store(&derived{g, c})
		return c, nil
	}
}
