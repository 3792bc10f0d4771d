package rdap_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/regsync/regsync/registrar"
	"github.com/regsync/regsync/registrar/rdap"
	"github.com/regsync/regsync/registrar/rdap/rdaptest"
	"github.com/regsync/regsync/registrar/registrartest"
	"github.com/regsync/regsync/registrar/sim"
)

// TestConformance runs the registrar suite over the RDAP test server, found
// through a bootstrap file, as in production. The adapter's errors are HTTP
// answers, so NotHTTP is false; terminated and cancelled domains are gone
// from a registry, which RDAP says with a 404, so Raw skips them.
func TestConformance(t *testing.T) {
	t.Parallel()

	registrartest.RunWith(t, func(t *testing.T, backend *sim.Sim) registrar.Registrar {
		srv := rdaptest.NewServer(t, backend)
		cfg := rdap.DefaultConfig()
		cfg.Bootstrap = srv.WriteBootstrap(t, "example")
		cfg.HTTPClient = srv.Client()
		c, err := rdap.New(cfg)
		require.NoError(t, err)
		return c
	}, registrartest.Options{Raw: rdaptest.Raw, Info: true})
}
