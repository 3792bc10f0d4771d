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
