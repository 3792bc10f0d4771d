package epp_test

import (
	"context"
	"fmt"
	"time"

	"github.com/regsync/regsync/registrar"
	"github.com/regsync/regsync/registrar/epp"
	"github.com/regsync/regsync/registrar/epp/epptest"
	"github.com/regsync/regsync/registrar/sim"
)

// This example reads a domain in its redemption period and a rejected
// transfer from the simulator served over EPP, and requests the transfer
// again with a new authInfo.
func Example() {
	backend, err := sim.New(sim.DefaultConfig())
	if err != nil {
		panic(err)
	}
	d := registrar.Domain{ID: "dom_1", Name: "example.com"}
	if err := backend.Script(d.ID, d.Name, []string{"expired"}, false); err != nil {
		panic(err)
	}
	backend.SetInfo(d.ID, sim.DomainInfo{ExpiresAt: time.Date(2027, 6, 30, 0, 0, 0, 0, time.UTC), Sponsor: "ClientX"})
	t := registrar.Transfer{Account: "ClientX", DomainName: "moving.example"}
	if err := backend.ScriptTransfer(t, "", []string{"202"}, []string{"blocked:resettable"}); err != nil {
		panic(err)
	}
	srv, err := epptest.NewServer(epptest.Config{Backend: backend, ClientID: "ClientX", Password: "foo-BAR2"})
	if err != nil {
		panic(err)
	}
	defer srv.Close()

	cfg := epp.DefaultConfig()
	cfg.Addr = srv.Addr()
	cfg.ClientID = "ClientX"
	cfg.Password = "foo-BAR2"
	cfg.TLS = srv.ClientTLS()
	client, err := epp.New(cfg)
	if err != nil {
		panic(err)
	}
	defer client.Close()

	r, err := client.ReadStatus(context.Background(), d)
	if err != nil {
		panic(err)
	}
	fmt.Println(r.Raw, r.Status, r.Sponsor, r.ExpiresAt.Format(time.DateOnly), r.RequestID)

	st, err := client.ReadTransferStatus(context.Background(), t)
	if err != nil {
		panic(err)
	}
	fmt.Println(st.Description, st.State, st.CanBeReset)
	if st.CanBeReset {
		res, err := client.ResetTransfer(context.Background(), t, "n3wSecret")
		if err != nil {
			panic(err)
		}
		fmt.Println(res.Status, res.RequestID)
	}
	// Output:
	// pendingDelete,redemptionPeriod expired ClientX 2027-06-30 sim_1
	// clientRejected blocked true
	// 202 sim_3
}
