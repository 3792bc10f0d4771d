package sim_test

import (
	"testing"

	"github.com/regsync/regsync/registrar"
	"github.com/regsync/regsync/registrar/registrartest"
	"github.com/regsync/regsync/registrar/sim"
)

func TestConformance(t *testing.T) {
	t.Parallel()

	registrartest.Run(t, func(t *testing.T, backend *sim.Sim) registrar.Registrar {
		return backend
	})
}

func TestTransferConformance(t *testing.T) {
	t.Parallel()

	registrartest.RunTransfers(t, func(t *testing.T, backend *sim.Sim) registrar.TransferResetter {
		return backend
	})
}
