package registrar

import (
	"net/http"
)

// maxIdleConnsPerHost keeps enough idle connections to one registrar for a
// process's status-sync workers (50 by default) to reuse them instead of
// opening a connection per request; net/http's default keeps two.
const maxIdleConnsPerHost = 64

// NewHTTPClient returns the client an HTTP adapter uses when its caller
// supplies none. It has a transport of its own, cloned from
// [http.DefaultTransport], so that its connection pool is sized for the
// worker and nothing else in the process that closes the default transport's
// idle connections can break a request in flight.
func NewHTTPClient() *http.Client {
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = maxIdleConnsPerHost
	return &http.Client{Transport: transport}
}
