package main

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/regsync/regsync/migrations"
	"github.com/regsync/regsync/store"
)

// historyRowsPerStatement is how many outcome rows one insert statement of
// the history suite writes.
const historyRowsPerStatement = 10_000

// historySuite measures the partitioned outcome table: the insert rate
// into it against an unpartitioned twin with the same columns and indexes,
// in the same run, and the time retention takes to drop a partition of
// --domains outcomes, with the disk a million domains' daily syncs take a
// year.
func historySuite(ctx context.Context, opts options) error {
	pool, _, err := newDatabase(ctx, opts, "bench_history", 8)
	if err != nil {
		return err
	}
	defer pool.Close()
	if _, err := migrations.Up(ctx, pool, nil); err != nil {
		return err
	}
	if _, err := pool.Exec(ctx, `CREATE TABLE regsync.bench_unpartitioned_outcomes (LIKE regsync.status_sync_outcomes INCLUDING ALL)`); err != nil {
		return fmt.Errorf("create the unpartitioned twin: %w", err)
	}

	// Alternate the two tables statement by statement, so that both see
	// the same state of the machine.
	var partitioned, unpartitioned time.Duration
	for first := 0; first < opts.domains; first += historyRowsPerStatement {
		for _, target := range []struct {
			table string
			took  *time.Duration
		}{{"status_sync_outcomes", &partitioned}, {"bench_unpartitioned_outcomes", &unpartitioned}} {
			start := time.Now()
			if err := insertOutcomes(ctx, pool, target.table, first, "now()"); err != nil {
				return err
			}
			*target.took += time.Since(start)
		}
	}
	note("outcome inserts, unpartitioned table (the baseline)", fmt.Sprintf("%.0f rows/s", perSecond(opts.domains, unpartitioned)))
	note("outcome inserts, partitioned by month", fmt.Sprintf("%.0f rows/s (%.2f of the baseline)",
		perSecond(opts.domains, partitioned), unpartitioned.Seconds()/partitioned.Seconds()))

	// Retention: the rows of an earlier month, dropped whole.
	var bound time.Time
	if err := pool.QueryRow(ctx, `SELECT min(range_end) FROM regsync.history_partitions WHERE history = 'status_sync_outcomes'`).Scan(&bound); err != nil {
		return err
	}
	for first := 0; first < opts.domains; first += historyRowsPerStatement {
		if err := insertOutcomes(ctx, pool, "status_sync_outcomes", opts.domains+first, "'"+bound.AddDate(0, -1, 0).Format(time.RFC3339)+"'::timestamptz"); err != nil {
			return err
		}
	}
	var bytes int64
	if err := pool.QueryRow(ctx, `SELECT sum(pg_total_relation_size(('regsync.' || partition)::regclass))
		FROM regsync.history_partitions WHERE history = 'status_sync_outcomes' AND range_end = $1`, bound).Scan(&bytes); err != nil {
		return err
	}
	start := time.Now()
	dropped, err := store.New(pool).DropHistoryPartitions(ctx, bound)
	if err != nil {
		return err
	}
	took := time.Since(start)
	note(fmt.Sprintf("retention: drop a partition of %d outcomes (%d MB)", 2*opts.domains, bytes>>20),
		fmt.Sprintf("%.0f ms for %d partitions", float64(took.Microseconds())/1000, len(dropped)))
	perRow := float64(bytes) / float64(2*opts.domains)
	note("disk for a million domains synced daily, a year", fmt.Sprintf("%.0f GB (%.0f bytes per outcome, indexes included)", perRow*365e6/1e9, perRow))
	return nil
}

// insertOutcomes inserts historyRowsPerStatement outcome rows into table,
// numbered from first, their runs started at startedAt (an SQL expression).
func insertOutcomes(ctx context.Context, pool *pgxpool.Pool, table string, first int, startedAt string) error {
	_, err := pool.Exec(ctx, `INSERT INTO regsync.`+table+` (domain_id, domain_name, registrar, previous_status, new_status,
		status_changed, status_changed_to_active, sync_success, info, revert_attempted, revert_succeeded,
		double_sync_attempted, double_sync_succeeded, raw_status_first, registrar_request_id, job_id, attempt,
		job_attempted_at, started_at, finished_at)
		SELECT 'dom_' || i % 1000000, 'domain-' || i % 1000000 || '.example', 'hostup', 'active', 'active',
			false, false, true, 'Domain status unchanged.', false, false, false, false, 'active', 'req_' || i, i, 1,
			`+startedAt+` - (i % 86400) * interval '1 second', `+startedAt+`, `+startedAt+`
		FROM generate_series($1::bigint, $1::bigint + $2 - 1) AS i`, first, historyRowsPerStatement)
	if err != nil {
		return fmt.Errorf("insert outcomes into %s: %w", table, err)
	}
	return nil
}
