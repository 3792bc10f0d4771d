package hostway_test

import (
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/regsync/regsync/registrar"
	"github.com/regsync/regsync/registrar/registrartest"
	"github.com/regsync/regsync/registrar/sim"
)

func TestConformance(t *testing.T) {
	t.Parallel()

	registrartest.RunTransfers(t, func(t *testing.T, backend *sim.Sim) registrar.TransferResetter {
		srv := httptest.NewServer(sim.Handler(backend, testToken))
		t.Cleanup(srv.Close)
		return newClient(t, srv.URL, nil)
	})
}

// TestWrongTokenIsUnauthorized checks end to end that the token is sent and
// that a refused one reads as ErrUnauthorized without appearing in the error.
func TestWrongTokenIsUnauthorized(t *testing.T) {
	t.Parallel()

	backend, err := sim.New(sim.DefaultConfig())
	require.NoError(t, err)
	require.NoError(t, backend.ScriptTransfer(testTransfer, "", []string{"202"}, nil))
	srv := httptest.NewServer(sim.Handler(backend, "another-token"))
	t.Cleanup(srv.Close)

	_, err = newClient(t, srv.URL, nil).ResetTransfer(t.Context(), testTransfer, testAuthInfo)
	checkErr(t, err)
	require.ErrorIs(t, err, registrar.ErrUnauthorized)
	require.Zero(t, backend.TransferResets(testTransfer))
}
