package store

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/regsync/regsync/internal/pgtest"
)

// TestHistoryReadsStayIndexedAcrossPartitions gives the history tables
// two years of monthly partitions and checks the plans of the queries that
// read history: a job run's outcome or attempt, looked up by the run's key,
// reads one partition; a transfer's attempts are read by index from every
// partition, never by scanning one. Sequential scans are disabled so that
// the plans show which indexes exist, whatever the tables' sizes.
func TestHistoryReadsStayIndexedAcrossPartitions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	st := New(pool)
	_, err := st.EnsureHistoryPartitions(ctx, 24)
	require.NoError(t, err)
	var partitions int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM regsync.history_partitions WHERE history = 'transfer_attempts'`).Scan(&partitions))
	require.GreaterOrEqual(t, partitions, 25)

	at := time.Now()
	runOutcome := explain(t, pool, runOutcomeSQL, at, int64(1), "dom_1")
	require.Equal(t, 1, strings.Count(runOutcome, " on status_sync_outcomes_"), "one partition read:\n%s", runOutcome)
	require.NotContains(t, runOutcome, "Seq Scan")

	runAttempt := explain(t, pool, runAttemptSQL, at, int64(1))
	require.Equal(t, 1, strings.Count(runAttempt, " on transfer_attempts_"), "one partition read:\n%s", runAttempt)
	require.NotContains(t, runAttempt, "Seq Scan")

	attempts := explain(t, pool, transferAttemptsSQL, "trf_1")
	require.NotContains(t, attempts, "Seq Scan", attempts)
	require.Equal(t, partitions, strings.Count(attempts, "Index Scan using"), "each partition read by index, in id order:\n%s", attempts)
}

// explain returns the plan of sql with args, sequential scans disabled.
func explain(t *testing.T, pool *pgxpool.Pool, sql string, args ...any) string {
	t.Helper()
	tx, err := pool.Begin(context.Background())
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(context.Background()) }()
	_, err = tx.Exec(context.Background(), `SET LOCAL enable_seqscan = off`)
	require.NoError(t, err)
	rows, err := tx.Query(context.Background(), "EXPLAIN "+sql, args...)
	require.NoError(t, err)
	defer rows.Close()
	var plan strings.Builder
	for rows.Next() {
		var line string
		require.NoError(t, rows.Scan(&line))
		plan.WriteString(line + "\n")
	}
	require.NoError(t, rows.Err())
	return plan.String()
}
