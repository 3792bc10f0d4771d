package hostup_test

import (
	"context"
	"fmt"
	"net/http/httptest"

	"github.com/regsync/regsync/registrar"
	"github.com/regsync/regsync/registrar/hostup"
	"github.com/regsync/regsync/registrar/sim"
)

// This example reads a status from the simulator served in Hostup's wire
// format; against Hostup itself BaseURL is "https://cloud.hostup.se".
func Example() {
	backend, err := sim.New(sim.DefaultConfig())
	if err != nil {
		panic(err)
	}
	if err := backend.Script("dom_1", "example.com", []string{"active"}, false); err != nil {
		panic(err)
	}
	srv := httptest.NewServer(sim.Handler(backend, "api-token"))
	defer srv.Close()

	cfg := hostup.DefaultConfig()
	cfg.BaseURL = srv.URL
	cfg.Token = "api-token"
	client, err := hostup.New(cfg)
	if err != nil {
		panic(err)
	}
	r, err := client.ReadStatus(context.Background(), registrar.Domain{ID: "dom_1", Name: "example.com"})
	if err != nil {
		panic(err)
	}
	fmt.Println(r.Raw, r.Status, r.RequestID)
	// Output: active active sim_1
}
