package registrar

import (
	"net"
	"net/http"
	"time"
)

// maxIdleConnsPerHost keeps enough idle connections to one registrar for a
// process's status-sync workers (50 by default) to reuse them instead of
// opening a connection per request; net/http's default keeps two.
const maxIdleConnsPerHost = 64

// NewHTTPClient returns the client an HTTP adapter uses when its caller
// supplies none. Its transport has net/http's default settings except for
// a connection pool sized for the worker, and is its own, so that nothing
// else in the process that closes the default transport's idle
// connections can break a request in flight.
func NewHTTPClient() *http.Client {
	return &http.Client{Transport: &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   maxIdleConnsPerHost,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: 1 * time.Second,
	}}
}
