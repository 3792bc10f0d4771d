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
