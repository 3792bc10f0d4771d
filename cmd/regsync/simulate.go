package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/regsync/regsync/internal/envconfig"
	"github.com/regsync/regsync/registrar/sim"
)

func runSimulate(ctx context.Context, c *cli, args []string) error {
	fs := c.flagSet("simulate", "", "Serve the registrar simulator over HTTP in the Hostup API v2 wire format (bearer token from REGSYNC_SIM_TOKEN or REGSYNC_SIM_TOKEN_FILE), with PUT /sim/domains/{id} to script a domain's successive reads (see the README)")
	addr := fs.String("addr", envOr(c.getenv, "REGSYNC_SIM_ADDR", "127.0.0.1:8480"), "listen address (env REGSYNC_SIM_ADDR)")
	latency := fs.Duration("latency", 0, "added to every read")
	faultRate := fs.Float64("fault-rate", 0, "probability from 0 to 1 that a read fails with a random 5xx or 429")
	seed := fs.Int64("seed", 1, "seed of the random faults")
	if err := c.parse(fs, args, 0); err != nil {
		return err
	}
	// The token clients must send comes from the environment, never a
	// flag, so it does not show in the process list.
	token, err := envconfig.Secret(c.getenv, "REGSYNC_SIM_TOKEN")
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	s, err := sim.New(sim.Config{Name: "sim", Latency: *latency, FaultRate: *faultRate, Seed: *seed})
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	listener, err := new(net.ListenConfig).Listen(ctx, "tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", *addr, err)
	}
	server := &http.Server{Handler: sim.Handler(s, token), ReadHeaderTimeout: 5 * time.Second}
	fmt.Fprintf(c.stderr, "regsync simulate: serving the Hostup wire format on http://%s\n", listener.Addr())
	go func() {
		<-ctx.Done()
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = server.Shutdown(shutdownCtx)
	}()
	if err := server.Serve(listener); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
