package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
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
			o, err := st.FinishSync(ctx, store.SyncUpdate{IfVersion: 1, Required: true, SetStatus: registrar.StatusExpired, Synced: true, NextSyncAt: next},
				outcome(id, registrar.StatusActive, registrar.StatusExpired))
			if err == nil && o.NewStatus != registrar.StatusExpired {
				return fmt.Errorf("%s: recorded %+v", id, o)
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
		o, err := st.FinishEither(ctx, store.SyncUpdate{IfVersion: 1, SetStatus: registrar.StatusSuspended, NextSyncAt: next},
			outcome("dom_reverted", registrar.StatusActive, registrar.StatusSuspended), outcome("dom_reverted", registrar.StatusActive, registrar.StatusActive))
		if err == nil && o.NewStatus != registrar.StatusSuspended {
			return fmt.Errorf("dom_reverted recorded %s", o.NewStatus)
		}
		return err
	})
	run("dom_kept", func() error {
		o, err := st.FinishEither(ctx, store.SyncUpdate{IfVersion: 5, SetStatus: registrar.StatusSuspended, NextSyncAt: next},
			outcome("dom_kept", registrar.StatusActive, registrar.StatusSuspended), outcome("dom_kept", registrar.StatusActive, registrar.StatusActive))
		if err == nil && o.NewStatus != registrar.StatusActive {
			return fmt.Errorf("dom_kept recorded %s", o.NewStatus)
		}
		return err
	})
	run("dom_unguarded", func() error {
		// Without Required, a lost compare-and-set still records the outcome.
		_, err := st.FinishSync(ctx, store.SyncUpdate{IfVersion: 9, SetStatus: registrar.StatusExpired, NextSyncAt: next},
			outcome("dom_unguarded", registrar.StatusActive, registrar.StatusActive))
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

// TestALockedRowDelaysOnlyItsOwnWrite holds one domain's row lock, as an
// outside writer might, for longer than the lock timeout, and checks that
// the writes of other domains go through meanwhile, while the held
// domain's write gives up with ErrRowLocked, writing nothing, and goes
// through once the row is free.
func TestALockedRowDelaysOnlyItsOwnWrite(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	st := store.New(pool)
	var domains []store.NewDomain
	for i := range 50 {
		domains = append(domains, store.NewDomain{ID: fmt.Sprintf("dom_free%d", i), Name: fmt.Sprintf("free%d.example", i), Registrar: "sim", Status: registrar.StatusPending})
	}
	domains = append(domains, store.NewDomain{ID: "dom_held", Name: "held.example", Registrar: "sim", Status: registrar.StatusPending})
	require.NoError(t, st.AddDomains(ctx, domains))

	outside, err := pool.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = outside.Rollback(ctx) }()
	_, err = outside.Exec(ctx, `SELECT 1 FROM regsync.domains WHERE id = 'dom_held' FOR UPDATE`)
	require.NoError(t, err)

	next := time.Now().Add(time.Hour)
	change := store.SyncUpdate{IfVersion: 1, Required: true, SetStatus: registrar.StatusActive, Synced: true, NextSyncAt: next}
	held := make(chan error, 1)
	go func() {
		_, err := st.FinishSync(ctx, change, outcome("dom_held", registrar.StatusPending, registrar.StatusActive))
		held <- err
	}()
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			id := fmt.Sprintf("dom_free%d", i)
			_, err := st.FinishSync(ctx, change, outcome(id, registrar.StatusPending, registrar.StatusActive))
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait() // while dom_held is still locked
	for i := range 50 {
		id := fmt.Sprintf("dom_free%d", i)
		require.Equal(t, domainRow{Status: "active", Version: 2, Outcomes: []string{"active"}}, readDomainRow(t, pool, id), id)
	}

	err = <-held // gives up after the lock timeout, the row still held
	require.ErrorIs(t, err, store.ErrRowLocked)
	require.NoError(t, outside.Rollback(ctx))
	require.Equal(t, domainRow{Status: "pending", Version: 1, Outcomes: []string{}}, readDomainRow(t, pool, "dom_held"))

	_, err = st.FinishSync(ctx, change, outcome("dom_held", registrar.StatusPending, registrar.StatusActive))
	require.NoError(t, err)
	require.Equal(t, domainRow{Status: "active", Version: 2, Outcomes: []string{"active"}}, readDomainRow(t, pool, "dom_held"))
}

// TestAWriteRunTwiceRecordsItsRunOnce runs the last write of each kind of
// sync twice for the same job run, as a rerun after a commit its caller
// could not see would, and checks that the run is recorded once and the
// second call returns what the first recorded.
func TestAWriteRunTwiceRecordsItsRunOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	st := store.New(pool)
	require.NoError(t, st.AddDomains(ctx, []store.NewDomain{
		{ID: "dom_unchanged", Name: "unchanged.example", Registrar: "sim", Status: registrar.StatusActive},
		{ID: "dom_changed", Name: "changed.example", Registrar: "sim", Status: registrar.StatusPending},
		{ID: "dom_reverted", Name: "reverted.example", Registrar: "sim", Status: registrar.StatusExpired},
	}))
	jobID := int64(40)
	run := func(o store.Outcome) store.Outcome {
		jobID++ // a job syncs one domain
		o.JobID, o.JobAttemptedAt = jobID, time.Now().Truncate(time.Microsecond)
		return o
	}
	next := time.Now().Add(time.Hour)

	unchanged := run(outcome("dom_unchanged", registrar.StatusActive, registrar.StatusActive))
	changed := run(outcome("dom_changed", registrar.StatusPending, registrar.StatusActive))
	reverted := run(outcome("dom_reverted", registrar.StatusActive, registrar.StatusActive))
	reverted.RevertAttempted, reverted.RevertSucceeded = true, true
	kept := reverted
	kept.RevertSucceeded, kept.NewStatus = false, registrar.StatusExpired
	for range 2 {
		got, err := st.FinishSync(ctx, store.SyncUpdate{IfVersion: 1, Required: true, Synced: true, NextSyncAt: next}, unchanged)
		require.NoError(t, err)
		require.Equal(t, unchanged.NewStatus, got.NewStatus)
		got, err = st.FinishSync(ctx, store.SyncUpdate{IfVersion: 1, Required: true, SetStatus: registrar.StatusActive, NextSyncAt: next}, changed)
		require.NoError(t, err, "the second run finds its own outcome, not a lost compare-and-set")
		require.Equal(t, registrar.StatusActive, got.NewStatus)
		got, err = st.FinishEither(ctx, store.SyncUpdate{IfVersion: 1, SetStatus: registrar.StatusActive, NextSyncAt: next}, reverted, kept)
		require.NoError(t, err)
		require.True(t, got.RevertSucceeded, "the second run returns the revert the first recorded")
	}
	require.Equal(t, domainRow{Status: "active", Version: 1, Outcomes: []string{"active"}}, readDomainRow(t, pool, "dom_unchanged"))
	require.Equal(t, domainRow{Status: "active", Version: 2, Outcomes: []string{"active"}}, readDomainRow(t, pool, "dom_changed"))
	require.Equal(t, domainRow{Status: "active", Version: 2, Outcomes: []string{"active"}}, readDomainRow(t, pool, "dom_reverted"))

	_, err := pool.Exec(ctx, `INSERT INTO regsync.status_sync_outcomes (domain_id, domain_name, registrar, previous_status, new_status,
		status_changed, status_changed_to_active, sync_success, revert_attempted, revert_succeeded, double_sync_attempted, double_sync_succeeded,
		job_id, attempt, job_attempted_at, started_at, finished_at)
		SELECT domain_id, domain_name, registrar, previous_status, new_status, status_changed, status_changed_to_active, sync_success,
			revert_attempted, revert_succeeded, double_sync_attempted, double_sync_succeeded, job_id, attempt, job_attempted_at, started_at, finished_at
		FROM regsync.status_sync_outcomes WHERE domain_id = 'dom_unchanged'`)
	var pgErr *pgconn.PgError
	require.ErrorAs(t, err, &pgErr)
	require.Equal(t, "23505", pgErr.Code)
	var parentIndex string
	require.NoError(t, pool.QueryRow(ctx, `SELECT inhparent::regclass::text FROM pg_inherits WHERE inhrelid = to_regclass('regsync.' || $1)`,
		pgErr.ConstraintName).Scan(&parentIndex))
	require.Equal(t, "regsync.status_sync_outcomes_run_idx", parentIndex, "a unique index holds one outcome per job run, in every partition")
}

// TestALostWriteMakesTheDomainDueAtOnce checks that a last write that
// loses its compare-and-set without that being an error (a revert, say)
// records the outcome for a lost write and makes the domain due for a
// sync at once, since what happened needs a fresh look.
func TestALostWriteMakesTheDomainDueAtOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	st := store.New(pool)
	require.NoError(t, st.AddDomains(ctx, []store.NewDomain{{ID: "dom_lost", Name: "lost.example", Registrar: "sim", Status: registrar.StatusExpired}}))
	_, err := pool.Exec(ctx, `UPDATE regsync.domains SET next_sync_at = now() + interval '1 day'`)
	require.NoError(t, err)

	reverted := outcome("dom_lost", registrar.StatusActive, registrar.StatusActive)
	kept := outcome("dom_lost", registrar.StatusActive, registrar.StatusExpired)
	got, err := st.FinishEither(ctx, store.SyncUpdate{IfVersion: 7, SetStatus: registrar.StatusActive, NextSyncAt: time.Now().Add(time.Hour)}, reverted, kept)
	require.NoError(t, err)
	require.Equal(t, registrar.StatusExpired, got.NewStatus)
	var due bool
	require.NoError(t, pool.QueryRow(ctx, `SELECT next_sync_at <= now() FROM regsync.domains WHERE id = 'dom_lost'`).Scan(&due))
	require.True(t, due)
	require.Equal(t, domainRow{Status: "expired", Version: 1, Outcomes: []string{"expired"}}, readDomainRow(t, pool, "dom_lost"))
}

// TestUnconfirmedChangeLifecycle checks what the domain row keeps of a
// guarded change: set by MarkUnconfirmed, its failed confirming reads
// counted, dropped when settled, and dropped by another writer's change.
func TestUnconfirmedChangeLifecycle(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	st := store.New(pool)
	require.NoError(t, st.AddDomains(ctx, []store.NewDomain{
		{ID: "dom_guarded", Name: "guarded.example", Registrar: "sim", Status: registrar.StatusActive},
		{ID: "dom_other", Name: "other.example", Registrar: "sim", Status: registrar.StatusActive},
	}))
	before := time.Now()
	require.NoError(t, st.MarkUnconfirmed(ctx, "dom_guarded", 1, registrar.StatusSuspended, store.Unconfirmed{From: registrar.StatusActive, Raw: "suspended"}))
	require.ErrorIs(t, st.MarkUnconfirmed(ctx, "dom_guarded", 1, registrar.StatusExpired, store.Unconfirmed{From: registrar.StatusActive}), store.ErrVersionConflict)

	d, err := st.Domain(ctx, "dom_guarded")
	require.NoError(t, err)
	require.Equal(t, registrar.StatusSuspended, d.Status)
	require.Equal(t, int64(2), d.Version)
	require.NotNil(t, d.Unconfirmed)
	require.Equal(t, registrar.StatusActive, d.Unconfirmed.From)
	require.Equal(t, "suspended", d.Unconfirmed.Raw)
	require.WithinDuration(t, before, d.Unconfirmed.At, time.Minute)

	failed := outcome("dom_guarded", registrar.StatusActive, registrar.StatusSuspended)
	failed.SyncSuccess = false
	for range 2 {
		_, err = st.FinishSync(ctx, store.SyncUpdate{IfVersion: 2, Required: true, CountConfirmFailure: true, NextSyncAt: time.Now()}, failed)
		require.NoError(t, err)
	}
	d, err = st.Domain(ctx, "dom_guarded")
	require.NoError(t, err)
	require.Equal(t, 2, d.Unconfirmed.Failures)

	_, err = st.FinishSync(ctx, store.SyncUpdate{IfVersion: 2, Required: true, Settle: true, Synced: true, NextSyncAt: time.Now()},
		outcome("dom_guarded", registrar.StatusActive, registrar.StatusSuspended))
	require.NoError(t, err)
	d, err = st.Domain(ctx, "dom_guarded")
	require.NoError(t, err)
	require.Nil(t, d.Unconfirmed)
	require.Equal(t, registrar.StatusSuspended, d.Status)

	require.NoError(t, st.MarkUnconfirmed(ctx, "dom_other", 1, registrar.StatusExpired, store.Unconfirmed{From: registrar.StatusActive, Raw: "expired"}))
	_, err = pool.Exec(ctx, `UPDATE regsync.domains SET status = 'fraud' WHERE id = 'dom_other'`)
	require.NoError(t, err)
	d, err = st.Domain(ctx, "dom_other")
	require.NoError(t, err)
	require.Nil(t, d.Unconfirmed, "another writer's change drops the unconfirmed one")
	require.Equal(t, int64(3), d.Version)
}

// TestRegistrationFactsRoundTrip writes what a sync learned about a
// registration (expiry date, sponsor, a transferred-away sighting, the
// confirming source) and reads it back from the domain and its outcomes.
func TestRegistrationFactsRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	st := store.New(pool)
	require.NoError(t, st.AddDomains(ctx, []store.NewDomain{{ID: "dom_reg", Name: "reg.example", Registrar: "sim", Status: registrar.StatusActive}}))

	expires := time.Date(2027, 6, 30, 12, 0, 0, 0, time.UTC)
	first := outcome("dom_reg", registrar.StatusActive, registrar.StatusActive)
	first.ExpiresAtAfter = &expires
	first.Sponsor = ptr("Other\x00Registrar")
	first.TransferredAway = true
	first.ConfirmSource, first.ConfirmFallback = ptr("rdap"), ptr("rdap cannot confirm cancelled")
	first.ExpiryError = ptr("not applied")
	first.DryRun = true
	_, err := st.FinishSync(ctx, store.SyncUpdate{
		IfVersion: 1, Required: true, Synced: true, SetExpiresAt: &expires, TransferredAway: store.SeenTransferredAway, NextSyncAt: time.Now(),
	}, first)
	require.NoError(t, err)

	d, err := st.Domain(ctx, "dom_reg")
	require.NoError(t, err)
	require.True(t, expires.Equal(*d.ExpiresAt))
	require.NotNil(t, d.TransferredAwayAt)
	require.NotNil(t, d.LastSyncedAt)
	seen := *d.TransferredAwayAt

	// A second sighting keeps the first one's time; a clear drops it.
	_, err = st.FinishSync(ctx, store.SyncUpdate{IfVersion: 1, Required: true, TransferredAway: store.SeenTransferredAway, NextSyncAt: time.Now()},
		outcome("dom_reg", registrar.StatusActive, registrar.StatusActive))
	require.NoError(t, err)
	d, err = st.Domain(ctx, "dom_reg")
	require.NoError(t, err)
	require.Equal(t, seen, *d.TransferredAwayAt)
	require.True(t, expires.Equal(*d.ExpiresAt), "a write without a date keeps the known one")
	_, err = st.FinishSync(ctx, store.SyncUpdate{IfVersion: 1, Required: true, TransferredAway: store.ClearTransferredAway, NextSyncAt: time.Now()},
		outcome("dom_reg", registrar.StatusActive, registrar.StatusActive))
	require.NoError(t, err)
	d, err = st.Domain(ctx, "dom_reg")
	require.NoError(t, err)
	require.Nil(t, d.TransferredAwayAt)

	var (
		source, fallback, sponsor, expiryError string
		after                                  time.Time
		away, dryRun                           bool
	)
	require.NoError(t, pool.QueryRow(ctx, `SELECT confirm_source, confirm_fallback, sponsor, expires_at_after, expiry_error, transferred_away, dry_run
		FROM regsync.status_sync_outcomes WHERE domain_id = 'dom_reg' ORDER BY id LIMIT 1`).Scan(&source, &fallback, &sponsor, &after, &expiryError, &away, &dryRun))
	require.Equal(t, []any{"rdap", "rdap cannot confirm cancelled", "Other\uFFFDRegistrar", "not applied", true, true},
		[]any{source, fallback, sponsor, expiryError, away, dryRun}, "registrar text is cleaned on its way in")
	require.True(t, expires.Equal(after))
}

func ptr[T any](v T) *T { return &v }

// TestStatusChangesAreNotifiedOnCommit listens on regsync.status_changes
// and checks that each write that changes a domain's status, and only
// those, publishes one notification saying what happened: a change, a
// guarded change applied and then confirmed, or applied and then
// reverted.
func TestStatusChangesAreNotifiedOnCommit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	st := store.New(pool)
	require.NoError(t, st.AddDomains(ctx, []store.NewDomain{
		{ID: "dom_a", Name: "a.example", Registrar: "sim", Status: registrar.StatusPending},
		{ID: "dom_b", Name: "b.example", Registrar: "sim", Status: registrar.StatusActive},
	}))
	conn, err := pool.Acquire(ctx)
	require.NoError(t, err)
	defer conn.Release()
	_, err = conn.Exec(ctx, `LISTEN "regsync.status_changes"`)
	require.NoError(t, err)
	next := func() map[string]any {
		t.Helper()
		waitCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		n, err := conn.Conn().WaitForNotification(waitCtx)
		require.NoError(t, err)
		var payload map[string]any
		require.NoError(t, json.Unmarshal([]byte(n.Payload), &payload))
		return payload
	}
	later := time.Now().Add(time.Hour)

	// Unchanged: nothing. Changed: one, naming its outcome.
	_, err = st.FinishSync(ctx, store.SyncUpdate{IfVersion: 1, Required: true, Synced: true, NextSyncAt: later},
		outcome("dom_a", registrar.StatusPending, registrar.StatusPending))
	require.NoError(t, err)
	_, err = st.FinishSync(ctx, store.SyncUpdate{IfVersion: 1, Required: true, SetStatus: registrar.StatusActive, Synced: true, NextSyncAt: later},
		outcome("dom_a", registrar.StatusPending, registrar.StatusActive))
	require.NoError(t, err)
	var outcomeID float64
	require.NoError(t, pool.QueryRow(ctx, `SELECT max(id) FROM regsync.status_sync_outcomes WHERE domain_id = 'dom_a'`).Scan(&outcomeID))
	require.Equal(t, map[string]any{"event": "changed", "domain_id": "dom_a", "from": "pending", "to": "active", "outcome_id": outcomeID}, next(),
		"the unchanged sync published nothing")

	// A guarded change: applied unconfirmed, then confirmed.
	require.NoError(t, st.MarkUnconfirmed(ctx, "dom_b", 1, registrar.StatusSuspended, store.Unconfirmed{From: registrar.StatusActive, Raw: "suspended"}))
	require.Equal(t, map[string]any{"event": "unconfirmed", "domain_id": "dom_b", "from": "active", "to": "suspended", "outcome_id": nil}, next())
	_, err = st.FinishSync(ctx, store.SyncUpdate{IfVersion: 2, Required: true, Settle: true, Synced: true, NextSyncAt: later},
		outcome("dom_b", registrar.StatusActive, registrar.StatusSuspended))
	require.NoError(t, err)
	confirmed := next()
	require.Equal(t, "confirmed", confirmed["event"])
	require.Equal(t, []any{"active", "suspended"}, []any{confirmed["from"], confirmed["to"]})
	require.NotNil(t, confirmed["outcome_id"])

	// Applied again, then reverted.
	require.NoError(t, st.MarkUnconfirmed(ctx, "dom_b", 2, registrar.StatusExpired, store.Unconfirmed{From: registrar.StatusSuspended, Raw: "expired"}))
	require.Equal(t, "unconfirmed", next()["event"])
	reverted := outcome("dom_b", registrar.StatusSuspended, registrar.StatusSuspended)
	reverted.RevertAttempted, reverted.RevertSucceeded = true, true
	_, err = st.FinishEither(ctx, store.SyncUpdate{IfVersion: 3, SetStatus: registrar.StatusSuspended, NextSyncAt: later}, reverted, reverted)
	require.NoError(t, err)
	got := next()
	require.Equal(t, []any{"reverted", "expired", "suspended"}, []any{got["event"], got["from"], got["to"]})
}
