package registrar_test

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/regsync/regsync/registrar"
)

// TestNewHTTPClientKeepsItsConnections checks that the adapters' client
// keeps a connection per concurrent request for reuse, and that other code
// closing the default transport's idle connections, as
// httptest.Server.Close does, leaves them alone: with the default client a
// request picking an idle connection could fail with "CloseIdleConnections
// called".
func TestNewHTTPClientKeepsItsConnections(t *testing.T) {
	t.Parallel()

	const concurrent = 50
	var opened atomic.Int64
	var arrived sync.WaitGroup
	release := make(chan struct{})
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		arrived.Done()
		<-release
		_, _ = io.WriteString(w, "ok")
	}))
	srv.Config.ConnState = func(_ net.Conn, state http.ConnState) {
		if state == http.StateNew {
			opened.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)

	client := registrar.NewHTTPClient()
	wave := func() {
		arrived.Add(concurrent)
		var done sync.WaitGroup
		for range concurrent {
			done.Go(func() {
				resp, err := client.Get(srv.URL)
				if !assert.NoError(t, err) {
					return
				}
				_, err = io.Copy(io.Discard, resp.Body)
				assert.NoError(t, err)
				assert.NoError(t, resp.Body.Close())
			})
		}
		arrived.Wait() // every request holds a connection at once
		for range concurrent {
			release <- struct{}{}
		}
		done.Wait()
	}

	wave()
	http.DefaultTransport.(*http.Transport).CloseIdleConnections()
	wave()
	require.EqualValues(t, concurrent, opened.Load(), "the second wave reuses the first wave's connections")
}
