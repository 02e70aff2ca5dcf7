package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"strconv"
	"time"

	"github.com/portcullis/portcullis/gateway/proxy"
	"github.com/portcullis/portcullis/internal/gctune"
)

// upstreamBody is what the upstream answers to every request: a small JSON
// document, written without any per-request encoding work so the upstream
// costs the same, and as little as possible, for every target.
var upstreamBody = []byte(`{"id":"5f0c1e2a-9b3d-4c1e-8f00-000000000001","name":"Bench User","email":"bench@example.com","role":"user"}` + "\n")

// upstreamLength is upstreamBody's Content-Length.
var upstreamLength = []string{strconv.Itoa(len(upstreamBody))}

// serveUpstream answers every request with upstreamBody after draining the
// request body (bounded), but an OTLP export, which gets an empty 200.
func serveUpstream(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, 1<<20))
	if r.URL.Path == "/v1/traces" { // configuration (g)'s spans: an empty OTLP success
		return
	}
	h := w.Header()
	h["Content-Type"] = []string{"application/json"}
	h["Content-Length"] = upstreamLength
	_, _ = w.Write(upstreamBody)
}

// newBareProxy returns the floor every gateway configuration is compared
// with: an httputil.ReverseProxy with Rewrite and X-Forwarded headers, and a
// transport and copy buffers pooled like the gateway's (gateway/proxy),
// doing nothing else. Its process runs with the gateway's collector
// settings (see runRole).
func newBareProxy(upstream *url.URL) http.Handler {
	dialer := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(upstream)
			pr.SetXForwarded()
		},
		Transport: &http.Transport{
			Proxy:                 nil,
			DialContext:           dialer.DialContext,
			MaxIdleConns:          1024,
			MaxIdleConnsPerHost:   256,
			IdleConnTimeout:       90 * time.Second,
			ExpectContinueTimeout: time.Second,
			ResponseHeaderTimeout: 30 * time.Second,
			DisableCompression:    true,
		},
		BufferPool: proxy.BufferPool{},
	}
}

// runRole serves role ("upstream" or "bareproxy") on listen, prints the bound
// address as one line on stdout, and returns when the parent closes stdin
// (so an orphaned child never outlives the benchmark) or ctx ends.
func runRole(ctx context.Context, role, listen, upstream string) error {
	var h http.Handler
	switch role {
	case "upstream":
		h = http.HandlerFunc(serveUpstream)
	case "bareproxy":
		u, err := url.Parse(upstream)
		if err != nil || u.Host == "" {
			return fmt.Errorf("-upstream %q: want an absolute URL", upstream)
		}
		h = newBareProxy(u)
		gctune.Apply(os.Getenv, gctune.CgroupMemoryFiles) // as portcullis run does
	default:
		return fmt.Errorf("-role %q (want upstream or bareproxy)", role)
	}
	l, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	fmt.Printf("%s\n", l.Addr())
	stdinClosed := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		close(stdinClosed)
	}()
	select {
	case err := <-errc:
		return err
	case <-stdinClosed:
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}
