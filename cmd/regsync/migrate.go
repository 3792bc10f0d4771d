package main

import (
	"context"
	"fmt"
	"log/slog"

	"go.uber.org/zap/exp/zapslog"

	"github.com/regsync/regsync/migrations"
)

func runMigrate(ctx context.Context, c *cli, args []string) error {
	fs := c.flagSet("migrate", "", "Apply River's and regsync's migrations to the database; running it again, or from two processes at once, is safe")
	common := c.commonFlags(fs)
	if err := c.parse(fs, args, 0); err != nil {
		return err
	}
	logger := c.logger(common)
	pool, err := connect(ctx, common)
	if err != nil {
		return err
	}
	defer pool.Close()
	applied, err := migrations.Up(ctx, pool, slog.New(zapslog.NewHandler(logger.Core(), zapslog.WithName("migrate"))))
	if err != nil {
		return err
	}
	for _, a := range applied {
		fmt.Fprintf(c.stdout, "applied %s\n", a.Line)
	}
	fmt.Fprintf(c.stdout, "database is up to date (%d migrations applied now)\n", len(applied))
	return nil
}
