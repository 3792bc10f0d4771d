package epp_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/regsync/regsync/registrar"
	"github.com/regsync/regsync/registrar/epp"
	"github.com/regsync/regsync/registrar/epp/epptest"
	"github.com/regsync/regsync/registrar/sim"
)

type epptestConfig = epptest.Config

// newBackend returns a simulator with the default configuration.
func newBackend(t *testing.T) *sim.Sim {
	t.Helper()
	backend, err := sim.New(sim.DefaultConfig())
	require.NoError(t, err)
	return backend
}

// startServer starts an EPP test server over backend, closed when the test
// ends; mods adjust its configuration.
func startServer(t *testing.T, backend *sim.Sim, mods ...func(*epptest.Config)) *epptest.Server {
	t.Helper()
	cfg := epptest.Config{Backend: backend, ClientID: testClientID, Password: testPassword}
	for _, mod := range mods {
		mod(&cfg)
	}
	srv, err := epptest.NewServer(cfg)
	require.NoError(t, err)
	t.Cleanup(srv.Close)
	return srv
}

// Credentials of the tests, distinctive so that tests can tell they never
// leak.
const (
	testClientID    = "regsync-test"
	testPassword    = "pw-S3cret-1"
	testNewPassword = "pw-N3wer-2"
	testAuthInfo    = "aI-s3cr3t#9"
)

// clientConfig returns a configuration for srv.
func clientConfig(srv *epptest.Server) epp.Config {
	cfg := epp.DefaultConfig()
	cfg.Addr = srv.Addr()
	cfg.ClientID = testClientID
	cfg.Password = testPassword
	cfg.TLS = srv.ClientTLS()
	cfg.Timeout = 10 * time.Second
	return cfg
}

// newClient returns a client of srv, closed (logging out) when the test
// ends, before the server closes; mod, when not nil, adjusts its
// configuration.
func newClient(t *testing.T, srv *epptest.Server, mod func(*epp.Config)) *epp.Client {
	t.Helper()
	cfg := clientConfig(srv)
	if mod != nil {
		mod(&cfg)
	}
	c, err := epp.New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, c.Close()) })
	return c
}

// script scripts a domain named after its id.
func script(t *testing.T, backend *sim.Sim, id string, entries ...string) registrar.Domain {
	t.Helper()
	d := registrar.Domain{ID: id, Name: id + ".example"}
	require.NoError(t, backend.Script(d.ID, d.Name, entries, false))
	return d
}
