package epp_test

import (
	"testing"

	"github.com/regsync/regsync/registrar"
	"github.com/regsync/regsync/registrar/registrartest"
	"github.com/regsync/regsync/registrar/sim"
)

// conformanceRaw is the raw status the adapter reports for a status the
// suite scripts, as epptest translates it; terminated and cancelled
// domains no longer exist at an EPP registry.
func conformanceRaw(scripted string) (string, bool) {
	switch scripted {
	case "active":
		return "ok", true
	case "suspended":
		return "clientHold", true
	case "pending":
		return "pendingCreate", true
	case "expired":
		return "pendingDelete,redemptionPeriod", true
	case "terminated", "cancelled":
		return "", false
	default:
		return scripted, true
	}
}

func TestConformance(t *testing.T) {
	t.Parallel()

	registrartest.RunWith(t, func(t *testing.T, backend *sim.Sim) registrar.Registrar {
		// The server caps sessions at the pool size: the suite's faults
		// must not make the client open more than it may.
		srv := startServer(t, backend, func(c *epptestConfig) { c.MaxSessions = 2 })
		return newClient(t, srv, nil)
	}, registrartest.Options{Raw: conformanceRaw, NotHTTP: true, Info: true})
}
