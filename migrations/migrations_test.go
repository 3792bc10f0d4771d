package migrations_test

import (
	"context"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/regsync/regsync/internal/pgtest"
	"github.com/regsync/regsync/migrations"
	"github.com/regsync/regsync/store"
)

func TestMain(m *testing.M) { pgtest.RunMain(m) }

func TestUpIsIdempotentAndSafeConcurrently(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	// The pgtest database is already migrated: running Up again on it from
	// several pools at once applies nothing and fails nowhere.
	url := pgtest.NewDatabase(t)
	var wg sync.WaitGroup
	results := make([][]migrations.Applied, 3)
	errs := make([]error, 3)
	for i := range 3 {
		wg.Go(func() {
			pool, err := pgxpool.New(ctx, url)
			if err != nil {
				errs[i] = err
				return
			}
			defer pool.Close()
			results[i], errs[i] = migrations.Up(ctx, pool, nil)
		})
	}
	wg.Wait()
	for i := range 3 {
		require.NoError(t, errs[i])
		require.Empty(t, results[i])
	}
}

func TestUpOnEmptyDatabaseAppliesRiverAndRegsync(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	_, err := pool.Exec(ctx, "DROP SCHEMA regsync CASCADE")
	require.NoError(t, err)

	var wg sync.WaitGroup
	applied := make([][]migrations.Applied, 2)
	errs := make([]error, 2)
	for i := range 2 {
		wg.Go(func() { applied[i], errs[i] = migrations.Up(ctx, pool, nil) })
	}
	wg.Wait()
	require.NoError(t, errs[0])
	require.NoError(t, errs[1])
	// Exactly one of the two runs did the work.
	total := slices.Concat(applied[0], applied[1])
	var lines = map[string]int{}
	for _, a := range total {
		lines[a.Line]++
	}
	require.Positive(t, lines["river"])
	files, err := os.ReadDir("sql")
	require.NoError(t, err)
	require.Equal(t, len(files), lines["regsync"], "each of the project's migrations applied once")

	for _, table := range []string{"regsync.river_job", "regsync.domains", "regsync.status_sync_outcomes", "regsync.transfers", "regsync.transfer_attempts"} {
		var n int
		require.NoError(t, pool.QueryRow(ctx, "SELECT count(*) FROM "+table).Scan(&n), table)
	}
}

// TestUpgradeKeepsHistory migrates a database as the previous release
// left it (regsync migration 4), holding history that the new unique run
// keys forbid: a command-line outcome without a run start and a job run
// recorded twice. Nothing is lost: the first gets its start, the second
// row is moved aside, and the rest of the schema applies.
func TestUpgradeKeepsHistory(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	_, err := pool.Exec(ctx, "DROP SCHEMA regsync CASCADE")
	require.NoError(t, err)
	_, err = migrations.UpTo(ctx, pool, nil, 4)
	require.NoError(t, err)

	_, err = pool.Exec(ctx, `
		INSERT INTO regsync.domains (id, name, registrar, status) VALUES ('dom_old', 'old.example', 'sim', 'active');
		INSERT INTO regsync.status_sync_outcomes (domain_id, domain_name, registrar, previous_status, new_status,
			status_changed, status_changed_to_active, sync_success, revert_attempted, revert_succeeded,
			double_sync_attempted, double_sync_succeeded, job_id, attempt, job_attempted_at, started_at, finished_at)
		VALUES
			('dom_old', 'old.example', 'sim', 'active', 'active', false, false, true, false, false, false, false, NULL, 0, NULL, '2026-01-01T00:00:00Z', '2026-01-01T00:00:01Z'),
			('dom_old', 'old.example', 'sim', 'active', 'active', false, false, true, false, false, false, false, 7, 1, '2026-01-02T00:00:00Z', '2026-01-02T00:00:00Z', '2026-01-02T00:00:01Z'),
			('dom_old', 'old.example', 'sim', 'active', 'active', false, false, true, false, false, false, false, 7, 1, '2026-01-02T00:00:00Z', '2026-01-02T00:00:00Z', '2026-01-02T00:00:02Z')`)
	require.NoError(t, err)

	applied, err := migrations.Up(ctx, pool, nil)
	require.NoError(t, err)
	require.NotEmpty(t, applied)
	var kept, movedAside int
	var cliStart string
	require.NoError(t, pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM regsync.status_sync_outcomes),
			(SELECT count(*) FROM regsync.duplicate_status_sync_outcomes),
			(SELECT job_attempted_at::text FROM regsync.status_sync_outcomes WHERE job_id IS NULL)`).Scan(&kept, &movedAside, &cliStart))
	require.Equal(t, 2, kept)
	require.Equal(t, 1, movedAside)
	require.Equal(t, "2026-01-01 00:00:00+00", cliStart, "a command-line run is named by its start")
}

// TestPartitioningKeepsHistory migrates a database holding history in the
// unpartitioned tables of release 7 and checks that every row is still
// there, with its id, in the first partition; that new rows continue the
// ids in the monthly partitions; that the run key and the append-only rule
// hold across partitions; and that retention drops only whole partitions
// older than its cutoff.
func TestPartitioningKeepsHistory(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	_, err := pool.Exec(ctx, "DROP SCHEMA regsync CASCADE")
	require.NoError(t, err)
	_, err = migrations.UpTo(ctx, pool, nil, 7)
	require.NoError(t, err)

	const insertOutcome = `INSERT INTO regsync.status_sync_outcomes (domain_id, domain_name, registrar, previous_status, new_status,
		status_changed, status_changed_to_active, sync_success, revert_attempted, revert_succeeded,
		double_sync_attempted, double_sync_succeeded, job_id, attempt, job_attempted_at, started_at, finished_at)
		VALUES ('dom_old', 'old.example', 'sim', 'active', 'active', false, false, true, false, false, false, false, $1, 1, $2, $2, $2)`
	_, err = pool.Exec(ctx, `INSERT INTO regsync.domains (id, name, registrar, status) VALUES ('dom_old', 'old.example', 'sim', 'active')`)
	require.NoError(t, err)
	old := []time.Time{time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC), time.Date(2026, 1, 31, 23, 59, 0, 0, time.UTC), time.Now().Add(-time.Minute)}
	for i, at := range old {
		_, err = pool.Exec(ctx, insertOutcome, i+1, at)
		require.NoError(t, err)
	}
	_, err = pool.Exec(ctx, `
		INSERT INTO regsync.transfers (id, account_number, domain_name, registrar, block_reason, blocked_since, deadline)
		VALUES ('trf_old', 'acct1', 'old.example', 'sim', 'no_response', now(), now() + interval '60 days');
		INSERT INTO regsync.transfer_attempts (transfer_id, registrar, result, sent_new_auth_info, state_before, state_after,
			job_id, attempt, job_attempted_at, started_at, finished_at)
		VALUES ('trf_old', 'sim', 'waiting', false, 'blocked', 'blocked', 1, 1, '2025-06-01', '2025-06-01', '2025-06-01')`)
	require.NoError(t, err)
	var before []int64
	require.NoError(t, pool.QueryRow(ctx, `SELECT array_agg(id ORDER BY id) FROM regsync.status_sync_outcomes`).Scan(&before))

	_, err = migrations.Up(ctx, pool, nil)
	require.NoError(t, err)

	var after []int64
	var partitioned bool
	require.NoError(t, pool.QueryRow(ctx, `SELECT array_agg(id ORDER BY id),
			(SELECT relkind = 'p' FROM pg_class WHERE oid = 'regsync.status_sync_outcomes'::regclass)
		FROM regsync.status_sync_outcomes`).Scan(&after, &partitioned))
	require.True(t, partitioned)
	require.Equal(t, before, after, "every row kept, with its id")
	firstMonth := time.Date(time.Now().UTC().Year(), time.Now().UTC().Month(), 1, 0, 0, 0, 0, time.UTC).AddDate(0, 1, 0)
	partitions := historyPartitions(t, pool, "status_sync_outcomes")
	require.Equal(t, map[string]time.Time{
		"status_sync_outcomes_before_" + firstMonth.Format("2006_01"):           firstMonth,
		"status_sync_outcomes_" + firstMonth.Format("2006_01"):                  firstMonth.AddDate(0, 1, 0),
		"status_sync_outcomes_" + firstMonth.AddDate(0, 1, 0).Format("2006_01"): firstMonth.AddDate(0, 2, 0),
		"status_sync_outcomes_" + firstMonth.AddDate(0, 2, 0).Format("2006_01"): firstMonth.AddDate(0, 3, 0),
	}, partitions, "the old rows are the first partition; the next three months are made ahead")
	require.Len(t, historyPartitions(t, pool, "transfer_attempts"), 4)

	// New rows continue the ids, in their month's partition.
	var id int64
	var partition string
	require.NoError(t, pool.QueryRow(ctx, insertOutcome+` RETURNING id, tableoid::regclass::text`, 10, firstMonth.Add(time.Hour)).Scan(&id, &partition))
	require.Greater(t, id, before[len(before)-1])
	require.Equal(t, "regsync.status_sync_outcomes_"+firstMonth.Format("2006_01"), partition)
	_, err = pool.Exec(ctx, insertOutcome, 2, old[1])
	require.ErrorContains(t, err, "duplicate key value", "one outcome per run, across the old rows too")
	_, err = pool.Exec(ctx, `DELETE FROM regsync.status_sync_outcomes WHERE domain_id = 'dom_old'`)
	require.ErrorContains(t, err, "append-only")
	_, err = pool.Exec(ctx, `UPDATE regsync.`+strings.TrimPrefix(partition, "regsync.")+` SET info = 'x'`)
	require.ErrorContains(t, err, "append-only", "partitions are append-only too")

	// Running the upkeep again makes nothing new; a longer horizon adds
	// months.
	st := store.New(pool)
	created, err := st.EnsureHistoryPartitions(ctx, 3)
	require.NoError(t, err)
	require.Zero(t, created)
	created, err = st.EnsureHistoryPartitions(ctx, 5)
	require.NoError(t, err)
	require.Equal(t, 4, created, "two more months for each table")

	// Retention drops whole partitions whose runs all started before the
	// cutoff, and nothing else.
	dropped, err := st.DropHistoryPartitions(ctx, firstMonth.Add(-time.Hour))
	require.NoError(t, err)
	require.Empty(t, dropped, "the first partition still holds runs after the cutoff")
	dropped, err = st.DropHistoryPartitions(ctx, firstMonth)
	require.NoError(t, err)
	require.Len(t, dropped, 2)
	for _, d := range dropped {
		require.True(t, firstMonth.Equal(d.RangeEnd))
		require.Contains(t, d.Partition, "_before_")
	}
	var left int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM regsync.status_sync_outcomes`).Scan(&left))
	require.Equal(t, 1, left, "only the row of the month after the cutoff is left")
}

// historyPartitions returns the partitions of a history table with the
// end of each one's range.
func historyPartitions(t *testing.T, pool *pgxpool.Pool, table string) map[string]time.Time {
	t.Helper()
	rows, err := pool.Query(context.Background(), `SELECT partition, range_end FROM regsync.history_partitions WHERE history = $1`, table)
	require.NoError(t, err)
	out := map[string]time.Time{}
	var name string
	var end time.Time
	_, err = pgx.ForEachRow(rows, []any{&name, &end}, func() error {
		out[name] = end.UTC()
		return nil
	})
	require.NoError(t, err)
	return out
}
