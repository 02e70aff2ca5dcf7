package server

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/http"

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
	})
	if err != nil {
		tcp.Close()
		return nil, fmt.Errorf("listen.proxy: %w", err)
	}
	srv.ConnState, srv.ConnContext = pl.ConnState, pl.ConnContext
	return pl, nil
}
