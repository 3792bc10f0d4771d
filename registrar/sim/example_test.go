package sim_test

import (
	"context"
	"fmt"

	"github.com/regsync/regsync/registrar"
	"github.com/regsync/regsync/registrar/sim"
)

func ExampleSim_Script() {
	s, err := sim.New(sim.DefaultConfig())
	if err != nil {
		panic(err)
	}
	if err := s.Script("dom_1", "example.com", []string{"pending", "!503", "active"}, false); err != nil {
		panic(err)
	}
	for range 4 {
		r, err := s.ReadStatus(context.Background(), registrar.Domain{ID: "dom_1", Name: "example.com"})
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Println(r.Status, r.RequestID)
	}
	// Output:
	// pending sim_1
	// sim: HTTP 503 service_unavailable: The service is temporarily unavailable. (request sim_2)
	// active sim_3
	// active sim_4
}

func ExampleSim_ScriptTransfer() {
	s, err := sim.New(sim.DefaultConfig())
	if err != nil {
		panic(err)
	}
	t := registrar.Transfer{Account: "acct12345", DomainName: "example.com"}
	if err := s.ScriptTransfer(t, "", []string{"409", "202"}, []string{"blocked:resettable", "pending"}); err != nil {
		panic(err)
	}
	st, err := s.ReadTransferStatus(context.Background(), t)
	if err != nil {
		panic(err)
	}
	fmt.Println(st.State, st.CanBeReset)
	for range 2 {
		r, err := s.ResetTransfer(context.Background(), t, "n3wSecret")
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Println(r.Status, r.RequestID)
	}
	authInfo, _ := s.TransferAuthInfo(t)
	fmt.Println(authInfo == "n3wSecret", s.TransferResets(t))
	// Output:
	// blocked true
	// sim: HTTP 409 conflict (request sim_2)
	// 202 sim_3
	// true 2
}
