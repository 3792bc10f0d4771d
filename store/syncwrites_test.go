package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/regsync/regsync/internal/pgtest"
	"github.com/regsync/regsync/registrar"
	"github.com/regsync/regsync/store"
)

func TestMain(m *testing.M) { pgtest.RunMain(m) }

func outcome(id string, previous, next registrar.Status) store.Outcome {
	now := time.Now()
	return store.Outcome{
		ID: id, Name: id[len("dom_"):] + ".example", Registrar: "sim",
		PreviousStatus: previous, NewStatus: next, StatusChanged: previous != next, SyncSuccess: true,
		Attempt: 1, StartedAt: now, FinishedAt: now,
	}
}

// domainRow is what a test checks of a domain after its sync's last write.
type domainRow struct {
	Status   string
	Version  int64
	Outcomes []string // new_status of each outcome row, in insert order
}

func readDomainRow(t *testing.T, pool *pgxpool.Pool, id string) domainRow {
	t.Helper()
	var r domainRow
	err := pool.QueryRow(context.Background(), `
		SELECT status, version,
			coalesce((SELECT array_agg(new_status ORDER BY o.id) FROM regsync.status_sync_outcomes o WHERE o.domain_id = d.id), '{}')
		FROM regsync.domains d WHERE id = $1`, id).Scan(&r.Status, &r.Version, &r.Outcomes)
	require.NoError(t, err)
	return r
}

// TestConcurrentSyncWrites runs the last writes of many syncs at once, as
// a worker's concurrent jobs do, so that they share statements, and checks
// that each write did exactly what it alone would have done: matched
// compare-and-sets applied with their outcome, a lost one written nothing,
// a revert recorded as reverted or kept, and a failing write failing alone.
func TestConcurrentSyncWrites(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	st := store.New(pool)

	const changed = 200
	var domains []store.NewDomain
	for i := range changed {
		domains = append(domains, store.NewDomain{ID: fmt.Sprintf("dom_c%d", i), Name: fmt.Sprintf("c%d.example", i), Registrar: "sim", Status: registrar.StatusActive})
	}
	for _, id := range []string{"dom_lost", "dom_invalid", "dom_reverted", "dom_kept", "dom_unguarded"} {
		domains = append(domains, store.NewDomain{ID: id, Name: id[len("dom_"):] + ".example", Registrar: "sim", Status: registrar.StatusActive})
	}
	require.NoError(t, st.AddDomains(ctx, domains))

	next := time.Now().Add(24 * time.Hour)
	var wg sync.WaitGroup
	errs := make(map[string]error)
	var mu sync.Mutex
	run := func(id string, f func() error) {
		wg.Go(func() {
			err := f()
			mu.Lock()
			errs[id] = err
			mu.Unlock()
		})
	}
	for i := range changed {
		id := fmt.Sprintf("dom_c%d", i)
		run(id, func() error {
			matched, err := st.FinishSync(ctx, store.SyncUpdate{IfVersion: 1, Required: true, SetStatus: registrar.StatusExpired, Synced: true, NextSyncAt: next},
				outcome(id, registrar.StatusActive, registrar.StatusExpired))
			if err == nil && !matched {
				return fmt.Errorf("%s: compare-and-set did not match", id)
			}
			return err
		})
	}
	run("dom_lost", func() error {
		_, err := st.FinishSync(ctx, store.SyncUpdate{IfVersion: 7, Required: true, SetStatus: registrar.StatusExpired, NextSyncAt: next},
			outcome("dom_lost", registrar.StatusActive, registrar.StatusExpired))
		return err
	})
	run("dom_invalid", func() error {
		_, err := st.FinishSync(ctx, store.SyncUpdate{SetStatus: "bogus", NextSyncAt: next},
			outcome("dom_invalid", registrar.StatusActive, "bogus"))
		return err
	})
	run("dom_reverted", func() error {
		o, err := st.FinishRevert(ctx, store.SyncUpdate{IfVersion: 1, SetStatus: registrar.StatusSuspended, NextSyncAt: next},
			outcome("dom_reverted", registrar.StatusActive, registrar.StatusSuspended), outcome("dom_reverted", registrar.StatusActive, registrar.StatusActive))
		if err == nil && o.NewStatus != registrar.StatusSuspended {
			return fmt.Errorf("dom_reverted recorded %s", o.NewStatus)
		}
		return err
	})
	run("dom_kept", func() error {
		o, err := st.FinishRevert(ctx, store.SyncUpdate{IfVersion: 5, SetStatus: registrar.StatusSuspended, NextSyncAt: next},
			outcome("dom_kept", registrar.StatusActive, registrar.StatusSuspended), outcome("dom_kept", registrar.StatusActive, registrar.StatusActive))
		if err == nil && o.NewStatus != registrar.StatusActive {
			return fmt.Errorf("dom_kept recorded %s", o.NewStatus)
		}
		return err
	})
	run("dom_unguarded", func() error {
		// Without Required, a lost compare-and-set still records the outcome.
		matched, err := st.FinishSync(ctx, store.SyncUpdate{IfVersion: 9, SetStatus: registrar.StatusExpired, NextSyncAt: next},
			outcome("dom_unguarded", registrar.StatusActive, registrar.StatusActive))
		if err == nil && matched {
			return fmt.Errorf("dom_unguarded matched at the wrong version")
		}
		return err
	})
	wg.Wait()

	for i := range changed {
		id := fmt.Sprintf("dom_c%d", i)
		require.NoError(t, errs[id])
		require.Equal(t, domainRow{Status: "expired", Version: 2, Outcomes: []string{"expired"}}, readDomainRow(t, pool, id), id)
	}
	require.ErrorIs(t, errs["dom_lost"], store.ErrVersionConflict)
	require.Equal(t, domainRow{Status: "active", Version: 1, Outcomes: []string{}}, readDomainRow(t, pool, "dom_lost"))
	require.ErrorContains(t, errs["dom_invalid"], "finish sync of domain dom_invalid")
	require.ErrorContains(t, errs["dom_invalid"], "domains_status_check")
	require.Equal(t, domainRow{Status: "active", Version: 1, Outcomes: []string{}}, readDomainRow(t, pool, "dom_invalid"))
	require.NoError(t, errs["dom_reverted"])
	require.Equal(t, domainRow{Status: "suspended", Version: 2, Outcomes: []string{"suspended"}}, readDomainRow(t, pool, "dom_reverted"))
	require.NoError(t, errs["dom_kept"])
	require.Equal(t, domainRow{Status: "active", Version: 1, Outcomes: []string{"active"}}, readDomainRow(t, pool, "dom_kept"))
	require.NoError(t, errs["dom_unguarded"])
	require.Equal(t, domainRow{Status: "active", Version: 1, Outcomes: []string{"active"}}, readDomainRow(t, pool, "dom_unguarded"))
}

// TestConcurrentDomainReads reads many domains at once, as concurrent jobs
// do, and checks that each read returns its own domain, or not found.
func TestConcurrentDomainReads(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := store.New(pgtest.NewPool(t))

	var domains []store.NewDomain
	for i := range 300 {
		domains = append(domains, store.NewDomain{ID: fmt.Sprintf("dom_r%d", i), Name: fmt.Sprintf("r%d.example", i), Registrar: "sim", Status: registrar.StatusActive})
	}
	require.NoError(t, st.AddDomains(ctx, domains))

	var wg sync.WaitGroup
	for i := range 300 {
		wg.Go(func() {
			id := fmt.Sprintf("dom_r%d", i)
			d, err := st.Domain(ctx, id)
			if err != nil {
				t.Error(err)
				return
			}
			if d.ID != id || d.Name != fmt.Sprintf("r%d.example", i) {
				t.Errorf("read %s, got %+v", id, d)
			}
		})
		wg.Go(func() {
			_, err := st.Domain(ctx, fmt.Sprintf("dom_missing%d", i))
			if !errors.Is(err, store.ErrDomainNotFound) {
				t.Errorf("missing domain: %v", err)
			}
		})
	}
	wg.Wait()
}
