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
	printRoles := fs.Bool("print-roles", false, "print, without connecting, the SQL an administrator runs once per cluster when the user running migrate may not create roles (CREATEROLE): regsync's group roles, and membership of MIGRATING_USER, to replace with that user, in regsync_migrator")
	if err := c.parse(fs, args, 0); err != nil {
		return err
	}
	if *printRoles {
		fmt.Fprint(c.stdout, migrations.RoleStatements(""))
		return nil
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
