package migrations_test

import (
	"context"
	"os"
	"slices"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/regsync/regsync/internal/pgtest"
	"github.com/regsync/regsync/migrations"
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
