package hostway_test

import (
	"context"
	"fmt"
	"net/http/httptest"

	"github.com/regsync/regsync/registrar"
	"github.com/regsync/regsync/registrar/hostway"
	"github.com/regsync/regsync/registrar/sim"
)

// This example reads a blocked transfer's status and resets it with a new
// authInfo, against the simulator served in Hostway's wire format.
func Example() {
	backend, err := sim.New(sim.DefaultConfig())
	if err != nil {
		panic(err)
	}
	t := registrar.Transfer{Account: "acct12345", DomainName: "example.com"}
	if err := backend.ScriptTransfer(t, "", []string{"202"}, []string{"blocked:resettable"}); err != nil {
		panic(err)
	}
	srv := httptest.NewServer(sim.Handler(backend, "api-token"))
	defer srv.Close()

	cfg := hostway.DefaultConfig()
	cfg.BaseURL = srv.URL
	cfg.Token = "api-token"
	client, err := hostway.New(cfg)
	if err != nil {
		panic(err)
	}
	st, err := client.ReadTransferStatus(context.Background(), t)
	if err != nil {
		panic(err)
	}
	fmt.Println(st.Code, st.State, st.CanBeReset)
	if st.CanBeReset {
		r, err := client.ResetTransfer(context.Background(), t, "n3wSecret")
		if err != nil {
			panic(err)
		}
		fmt.Println(r.Status, r.RequestID)
	}
	// Output:
	// 4 blocked true
	// 202 sim_2
}
