package rdap_test

import (
	"context"
	"fmt"
	"time"

	"github.com/regsync/regsync/registrar"
	"github.com/regsync/regsync/registrar/rdap"
	"github.com/regsync/regsync/registrar/rdap/rdaptest"
	"github.com/regsync/regsync/registrar/sim"
)

// This example reads a status from the simulator served as an RDAP
// server. In production the default configuration finds the server through
// the embedded IANA snapshot; the example overrides it for .example.
func Example() {
	backend, err := sim.New(sim.DefaultConfig())
	if err != nil {
		panic(err)
	}
	if err := backend.Script("dom_1", "example.example", []string{"suspended"}, false); err != nil {
		panic(err)
	}
	backend.SetInfo("dom_1", sim.DomainInfo{ExpiresAt: time.Date(2027, 6, 30, 0, 0, 0, 0, time.UTC), Sponsor: "292"})
	srv := rdaptest.Start(backend)
	defer srv.Close()

	cfg := rdap.DefaultConfig()
	cfg.HTTPClient = srv.Client()
	cfg.Overrides = map[string]string{"example": srv.BaseURL()}
	client, err := rdap.New(cfg)
	if err != nil {
		panic(err)
	}
	r, err := client.ReadStatus(context.Background(), registrar.Domain{ID: "dom_1", Name: "example.example"})
	if err != nil {
		panic(err)
	}
	fmt.Println(r.Raw, "|", r.Status, "|", r.ExpiresAt.Format(time.DateOnly), "|", r.Sponsor)
	// Output: client hold | suspended | 2027-06-30 | 292
}
