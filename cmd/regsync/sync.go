package main

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/regsync/regsync/registrar/factory"
	"github.com/regsync/regsync/store"
	"github.com/regsync/regsync/worker"
)

func runSync(ctx context.Context, c *cli, args []string) error {
	fs := c.flagSet("sync", "DOMAIN_ID", "Sync one domain now through the same state machine as the workers, record the outcome, and print it as the Hostup API's JSON; exit 0 when syncSuccess is true. The sync runs in this process, outside the job queue; compare-and-set keeps it safe next to running workers")
	common := c.commonFlags(fs)
	cfg := worker.DefaultConfig()
	c.workerFlags(fs, &cfg)
	names := c.registrarsFlag(fs)
	if err := c.parse(fs, args, 1); err != nil {
		return err
	}
	domainID := fs.Arg(0)
	if err := store.ValidateDomainID(domainID); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	adapters, err := c.adapters(*names)
	if err != nil {
		return err
	}
	defer func() { _ = factory.Close(adapters) }()
	pool, err := connect(ctx, common)
	if err != nil {
		return err
	}
	defer pool.Close()
	st := store.New(pool)
	metrics := worker.NewMetrics(newRegistry())
	wrapped := worker.NewAdapters(adapters, worker.NewRateLimiter(st, cfg.RateLimitWait(), metrics), metrics)
	syncer, err := worker.NewSyncer(st, wrapped, cfg.Sync, metrics)
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	outcome, syncErr := syncer.SyncNow(ctx, domainID)
	if outcome.ID == "" {
		return syncErr
	}
	enc := json.NewEncoder(c.stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(outcome); err != nil {
		return err
	}
	if !outcome.SyncSuccess {
		return errReported
	}
	return nil
}
