package main

import (
	"context"
	"fmt"

	"github.com/regsync/regsync/store"
)

func runEnqueue(ctx context.Context, c *cli, args []string) error {
	fs := c.flagSet("enqueue", "status-sync DOMAIN_ID", "Enqueue a status sync of a domain through regsync.enqueue_status_sync, as other services do in SQL; prints the job id, or says a sync is already pending")
	common := c.commonFlags(fs)
	if err := c.parse(fs, args, 2); err != nil {
		return err
	}
	if fs.Arg(0) != "status-sync" {
		return fmt.Errorf("%w: unknown job %q: want status-sync", errUsage, fs.Arg(0))
	}
	domainID := fs.Arg(1)
	if err := store.ValidateDomainID(domainID); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	pool, err := connect(ctx, common)
	if err != nil {
		return err
	}
	defer pool.Close()
	jobID, inserted, err := store.New(pool).EnqueueStatusSync(ctx, domainID)
	if err != nil {
		return err
	}
	if !inserted {
		fmt.Fprintf(c.stdout, "a status sync of %s is already pending\n", domainID)
		return nil
	}
	fmt.Fprintf(c.stdout, "enqueued job %d\n", jobID)
	return nil
}
