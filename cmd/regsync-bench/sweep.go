package main

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/regsync/regsync/migrations"
	"github.com/regsync/regsync/store"
	"github.com/regsync/regsync/worker"
)

// sweepGoal is the longest the sweep may take to enqueue a million due
// domains, scaled to the number measured.
const sweepGoalPerMillion = 10 * time.Second

func sweepSuite(ctx context.Context, opts options) error {
	pool, _, err := newDatabase(ctx, opts, "bench_sweep", 8)
	if err != nil {
		return err
	}
	defer pool.Close()
	if _, err := migrations.Up(ctx, pool, nil); err != nil {
		return err
	}
	if err := addDueDomains(ctx, pool, opts.domains); err != nil {
		return err
	}
	took, err := timeSweep(ctx, pool, opts.domains)
	if err != nil {
		return err
	}
	goal := time.Duration(float64(sweepGoalPerMillion) * float64(opts.domains) / 1e6)
	figure(fmt.Sprintf("sweep enqueue of %d due domains", opts.domains),
		fmt.Sprintf("%.1fs (%.0f/s)", took.Seconds(), perSecond(opts.domains, took)), fmt.Sprintf("at most %s", goal), took <= goal)
	return nil
}

// addDueDomains adds n domains of the sim registrar, all due, in one
// statement, and analyzes the table as autovacuum would.
func addDueDomains(ctx context.Context, pool *pgxpool.Pool, n int) error {
	_, err := pool.Exec(ctx, `
		INSERT INTO regsync.domains (id, name, registrar, status)
		SELECT 'dom_' || i, 'domain-' || i || '.example', 'sim', 'active' FROM generate_series(1, $1) AS i`, n)
	if err != nil {
		return fmt.Errorf("add %d domains: %w", n, err)
	}
	if _, err := pool.Exec(ctx, `VACUUM ANALYZE regsync.domains`); err != nil {
		return err
	}
	return nil
}

// timeSweep runs the sweep over n due domains and checks that it claimed
// each once.
func timeSweep(ctx context.Context, pool *pgxpool.Pool, n int) (time.Duration, error) {
	start := time.Now()
	claimed, err := worker.SweepDueDomains(ctx, store.New(pool), worker.DefaultSweepConfig(), worker.NewMetrics(prometheus.NewRegistry()))
	if err != nil {
		return 0, err
	}
	took := time.Since(start)
	var jobs int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM regsync.river_job WHERE kind = 'status_sync'`).Scan(&jobs); err != nil {
		return 0, err
	}
	if claimed != n || jobs != n {
		return 0, fmt.Errorf("the sweep claimed %d domains and enqueued %d jobs, want %d", claimed, jobs, n)
	}
	return took, nil
}
