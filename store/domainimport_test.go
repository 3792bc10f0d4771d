package store_test

import (
	"context"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/regsync/regsync/internal/pgtest"
	"github.com/regsync/regsync/registrar"
	"github.com/regsync/regsync/store"
)

// importDomains runs a whole import of lines, numbered from 1, and returns
// its result and its rejections as "line N: reason".
func importDomains(t *testing.T, st *store.Store, domains ...store.ImportDomain) (store.ImportResult, []string, error) {
	t.Helper()
	ctx := context.Background()
	imp, err := st.BeginDomainImport(ctx)
	require.NoError(t, err)
	defer func() { require.NoError(t, imp.Close(ctx)) }()
	i := 0
	staged, err := imp.Stage(ctx, func() (store.ImportLine, error) {
		if i == len(domains) {
			return store.ImportLine{}, io.EOF
		}
		i++
		return store.ImportLine{Number: int64(i), Domain: domains[i-1]}, nil
	})
	require.NoError(t, err)
	require.Equal(t, int64(len(domains)), staged)
	result, err := imp.Merge(ctx)
	if err != nil {
		return result, nil, err
	}
	var rejections []string
	require.NoError(t, imp.Rejections(ctx, func(line int64, reason string) error {
		rejections = append(rejections, fmt.Sprintf("line %d: %s", line, reason))
		return nil
	}))
	return result, rejections, nil
}

// syncState is every column of a domain that syncs write.
type syncState struct {
	Status, Registrar, Name string
	Version                 int64
	UnconfirmedFrom         *string
	UnconfirmedAt           *time.Time
	ConfirmFailures         int
	QueuedAt                *time.Time
	LastSyncedAt            *time.Time
	NextSyncAt              time.Time
	SyncInterval            *time.Duration
}

func readSyncState(t *testing.T, pool *pgxpool.Pool, id string) syncState {
	t.Helper()
	var s syncState
	err := pool.QueryRow(context.Background(), `
		SELECT status, registrar, name, version, unconfirmed_from_status, unconfirmed_at, confirm_failures,
			queued_at, last_synced_at, next_sync_at, sync_interval
		FROM regsync.domains WHERE id = $1`, id).Scan(&s.Status, &s.Registrar, &s.Name, &s.Version, &s.UnconfirmedFrom,
		&s.UnconfirmedAt, &s.ConfirmFailures, &s.QueuedAt, &s.LastSyncedAt, &s.NextSyncAt, &s.SyncInterval)
	require.NoError(t, err)
	return s
}

// TestDomainImportUpsertRule imports lines for domains that exist in the
// states syncs leave them in and checks the README's rule: name, registrar
// and a given sync interval are updated; the status and the sync state
// never; a change of name or registrar bumps the version, so that a sync
// in flight loses its compare-and-set, and makes the domain due at once;
// a line like its domain writes nothing.
func TestDomainImportUpsertRule(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	st := store.New(pool)
	_, err := pool.Exec(ctx, `
		INSERT INTO regsync.domains (id, name, registrar, status, sync_interval, next_sync_at, last_synced_at, version) VALUES
			('dom_same', 'same.se', 'sim', 'active', NULL, now() + interval '1 day', now() - interval '1 hour', 3),
			('dom_renamed', 'old-name.se', 'sim', 'active', interval '6 hours', now() + interval '1 day', now() - interval '1 hour', 3),
			('dom_moved', 'moved.se', 'sim', 'suspended', NULL, now() + interval '1 day', NULL, 2),
			('dom_slower', 'slower.se', 'sim', 'active', NULL, now() + interval '1 day', NULL, 1);
		-- A guarded change waiting for its double sync, with its job queued.
		UPDATE regsync.domains SET unconfirmed_from_status = 'active', unconfirmed_raw_status = 'clientHold',
			unconfirmed_at = now(), confirm_failures = 1, queued_at = now()
		WHERE id IN ('dom_renamed', 'dom_moved')`)
	require.NoError(t, err)
	before := map[string]syncState{}
	for _, id := range []string{"dom_same", "dom_renamed", "dom_moved", "dom_slower"} {
		before[id] = readSyncState(t, pool, id)
	}

	result, rejections, err := importDomains(t, st,
		store.ImportDomain{ID: "dom_same", Name: "same.se", Registrar: "sim", Status: registrar.StatusActive},
		store.ImportDomain{ID: "dom_renamed", Name: "new-name.se", Registrar: "sim", Status: registrar.StatusExpired},
		store.ImportDomain{ID: "dom_moved", Name: "moved.se", Registrar: "epp"},
		store.ImportDomain{ID: "dom_slower", Name: "slower.se", Registrar: "sim", SyncInterval: 7 * 24 * time.Hour},
		store.ImportDomain{ID: "dom_new", Name: "new.se", Registrar: "hostup", Status: registrar.StatusPending, SyncInterval: time.Hour},
		store.ImportDomain{ID: "dom_bare", Name: "bare.se", Registrar: "hostup"},
	)
	require.NoError(t, err)
	require.Empty(t, rejections)
	require.Equal(t, store.ImportResult{Lines: 6, Added: 2, Updated: 3, Unchanged: 1, StatusKept: 1}, result)

	// A line like its domain wrote nothing.
	require.Equal(t, before["dom_same"], readSyncState(t, pool, "dom_same"))

	// Renamed: the version is bumped and the domain due, its status and
	// the change waiting for its double sync kept; an empty interval keeps
	// the domain's own.
	renamed, was := readSyncState(t, pool, "dom_renamed"), before["dom_renamed"]
	require.Equal(t, "new-name.se", renamed.Name)
	require.Equal(t, was.Version+1, renamed.Version)
	require.False(t, renamed.NextSyncAt.After(time.Now()), "due at once")
	require.Equal(t, "active", renamed.Status, "the file's expired is not applied: syncs own the status")
	require.Equal(t, was.UnconfirmedFrom, renamed.UnconfirmedFrom)
	require.Equal(t, was.UnconfirmedAt, renamed.UnconfirmedAt)
	require.Equal(t, was.ConfirmFailures, renamed.ConfirmFailures)
	require.Equal(t, was.QueuedAt, renamed.QueuedAt, "the sweep never claims a queued domain twice")
	require.Equal(t, was.LastSyncedAt, renamed.LastSyncedAt)
	require.Equal(t, was.SyncInterval, renamed.SyncInterval)

	moved := readSyncState(t, pool, "dom_moved")
	require.Equal(t, "epp", moved.Registrar)
	require.Equal(t, before["dom_moved"].Version+1, moved.Version)
	require.Equal(t, "suspended", moved.Status)

	// A new interval alone changes neither the version nor the schedule.
	slower, was := readSyncState(t, pool, "dom_slower"), before["dom_slower"]
	require.Equal(t, 7*24*time.Hour, *slower.SyncInterval)
	require.Equal(t, was.Version, slower.Version)
	require.Equal(t, was.NextSyncAt, slower.NextSyncAt)

	// New domains: due at once, with their line's status, or unknown.
	added := readSyncState(t, pool, "dom_new")
	require.Equal(t, "pending", added.Status)
	require.Equal(t, time.Hour, *added.SyncInterval)
	require.False(t, added.NextSyncAt.After(time.Now()))
	require.Nil(t, added.QueuedAt)
	bare := readSyncState(t, pool, "dom_bare")
	require.Equal(t, "unknown", bare.Status)
	require.Nil(t, bare.SyncInterval)

	// A sync that read the renamed domain before the import loses its
	// compare-and-set and writes nothing.
	o := store.Outcome{ID: "dom_renamed", Name: "old-name.se", Registrar: "sim", PreviousStatus: "active", NewStatus: "active",
		SyncSuccess: true, Attempt: 1, StartedAt: time.Now(), FinishedAt: time.Now()}
	_, err = st.FinishSync(ctx, store.SyncUpdate{IfVersion: was.Version, Required: true, Synced: true, NextSyncAt: time.Now().Add(time.Hour)}, o)
	require.ErrorIs(t, err, store.ErrVersionConflict)
}

// TestDomainImportRejectsConflicts checks the lines against each other and
// against the domains: a repeated id or name, and a name another domain
// holds, are rejected and change nothing; the good lines go in.
func TestDomainImportRejectsConflicts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	st := store.New(pool)
	_, err := pool.Exec(ctx, `INSERT INTO regsync.domains (id, name, registrar, status) VALUES ('dom_held', 'held.se', 'sim', 'active')`)
	require.NoError(t, err)
	held := readSyncState(t, pool, "dom_held")

	result, rejections, err := importDomains(t, st,
		store.ImportDomain{ID: "dom_a", Name: "a.se", Registrar: "sim"},
		store.ImportDomain{ID: "dom_a", Name: "a-again.se", Registrar: "sim"},
		store.ImportDomain{ID: "dom_b", Name: "a.se", Registrar: "sim"},
		store.ImportDomain{ID: "dom_c", Name: "held.se", Registrar: "sim"},
		store.ImportDomain{ID: "dom_held", Name: "held.se", Registrar: "hostup"},
		store.ImportDomain{ID: "dom_a", Name: "a.se", Registrar: "sim"},
		// A line rejected for another domain's name does not make the
		// next line of its id a repeat.
		store.ImportDomain{ID: "dom_n", Name: "held.se", Registrar: "sim"},
		store.ImportDomain{ID: "dom_n", Name: "n.se", Registrar: "sim"},
	)
	require.NoError(t, err)
	require.Equal(t, []string{
		"line 2: domain id dom_a is on line 1 already",
		"line 3: domain name a.se is on line 1 already",
		"line 4: domain name held.se belongs to domain dom_held",
		"line 6: domain id dom_a is on line 1 already",
		"line 7: domain name held.se belongs to domain dom_held",
	}, rejections)
	require.Equal(t, store.ImportResult{Lines: 8, Added: 2, Updated: 1, Rejected: 5}, result)
	var domains []string
	rows, err := pool.Query(ctx, `SELECT id || ' ' || name || ' ' || registrar FROM regsync.domains ORDER BY id`)
	require.NoError(t, err)
	for rows.Next() {
		var d string
		require.NoError(t, rows.Scan(&d))
		domains = append(domains, d)
	}
	require.NoError(t, rows.Err())
	require.Equal(t, []string{"dom_a a.se sim", "dom_held held.se hostup", "dom_n n.se sim"}, domains)
	require.Equal(t, held.Version+1, readSyncState(t, pool, "dom_held").Version)
}

// TestDomainImportMergesAllOrNothing stages a line that the database
// refuses, as only a caller that skipped the checks could, next to good
// ones: the merge fails and adds nothing, then succeeds once the line is
// gone.
func TestDomainImportMergesAllOrNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	st := store.New(pool)
	good := []store.ImportDomain{
		{ID: "dom_good1", Name: "good1.se", Registrar: "sim"},
		{ID: "dom_good2", Name: "good2.se", Registrar: "sim"},
	}
	_, _, err := importDomains(t, st, good[0], store.ImportDomain{ID: "dom_bad", Name: "Not_A_Name.se", Registrar: "sim"}, good[1])
	var pgErr interface{ SQLState() string }
	require.ErrorAs(t, err, &pgErr)
	require.Equal(t, "23514", pgErr.SQLState(), "check_violation")
	var count int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM regsync.domains`).Scan(&count))
	require.Zero(t, count, "nothing of the import went in")

	result, _, err := importDomains(t, st, good...)
	require.NoError(t, err)
	require.Equal(t, int64(2), result.Added)
}
