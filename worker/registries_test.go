package worker

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/regsync/regsync/registrar"
	"github.com/regsync/regsync/store"
)

// readingsRegistrar answers successive reads with whole readings or
// errors, the last one repeating: a registry's RDAP server, say, with
// sponsors and expiry dates.
type readingsRegistrar struct {
	name  string
	mu    sync.Mutex
	next  []answer
	reads int
}

type answer struct {
	reading registrar.StatusReading
	err     error
}

func (r *readingsRegistrar) Name() string { return r.name }

func (r *readingsRegistrar) ReadStatus(context.Context, registrar.Domain) (registrar.StatusReading, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	a := r.next[min(r.reads, len(r.next)-1)]
	r.reads++
	return a.reading, a.err
}

func reading(s registrar.Status) answer {
	return answer{reading: registrar.StatusReading{Raw: string(s), Status: s}}
}

var errNotCovered = fmt.Errorf("registry: read status of example.zz: %w: %w", registrar.ErrInvalidRequest, registrar.ErrNotCovered)

func TestDecideSecondOpinion(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	expiring := func(s registrar.Status, expires time.Time) registrar.StatusReading {
		return registrar.StatusReading{Raw: string(s), Status: s, ExpiresAt: expires}
	}
	tests := []struct {
		name    string
		applied registrar.Status
		second  registrar.StatusReading
		err     error
		want    confirmation
	}{
		{"the same status confirms", registrar.StatusSuspended, reading(registrar.StatusSuspended).reading, nil, confirmConfirmed},
		{"a hold not yet at the registry", registrar.StatusSuspended, reading(registrar.StatusActive).reading, nil, confirmNotYet},
		{"a registry's redemption confirms a suspension", registrar.StatusSuspended, reading(registrar.StatusExpired).reading, nil, confirmConfirmed},
		{"pending contradicts a suspension", registrar.StatusSuspended, reading(registrar.StatusPending).reading, nil, confirmContradicted},
		{"a registry's hold confirms an expiry", registrar.StatusExpired, reading(registrar.StatusSuspended).reading, nil, confirmConfirmed},
		{"auto-renew grace: active past the registry's expiry date", registrar.StatusExpired, expiring(registrar.StatusActive, now.Add(-time.Hour)), nil, confirmConfirmed},
		{"renewed: active with a future expiry date", registrar.StatusExpired, expiring(registrar.StatusActive, now.AddDate(1, 0, 0)), nil, confirmContradicted},
		{"active without an expiry date: not yet", registrar.StatusExpired, reading(registrar.StatusActive).reading, nil, confirmNotYet},
		{"a deletion under way confirms a termination", registrar.StatusTerminated, reading(registrar.StatusExpired).reading, nil, confirmConfirmed},
		{"a deleted domain confirms a cancellation", registrar.StatusCancelled, registrar.StatusReading{}, errNotFound, confirmConfirmed},
		{"a live registration cannot tell a cancellation", registrar.StatusCancelled, reading(registrar.StatusActive).reading, nil, confirmCannotTell},
		{"a held registration cannot tell a termination", registrar.StatusTerminated, reading(registrar.StatusSuspended).reading, nil, confirmCannotTell},
		{"an unrecognised registry status cannot tell", registrar.StatusSuspended, registrar.StatusReading{Raw: "frozen", Status: registrar.StatusUnknown}, nil, confirmCannotTell},
		{"no server for the domain cannot tell", registrar.StatusSuspended, registrar.StatusReading{}, errNotCovered, confirmCannotTell},
		{"a 404 for a suspension is a failed read", registrar.StatusSuspended, registrar.StatusReading{}, errNotFound, confirmFailed},
		{"a 5xx is a failed read", registrar.StatusExpired, registrar.StatusReading{}, errUnavailable, confirmFailed},
		{"a 429 defers", registrar.StatusExpired, registrar.StatusReading{}, errRateLimited, confirmDeferred},
		{"pending leaving active is contradicted by active", registrar.StatusPending, reading(registrar.StatusActive).reading, nil, confirmContradicted},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, decideSecondOpinion(tt.applied, tt.second, tt.err, 0, 3, now), tt.name)
	}
	require.Equal(t, confirmGaveUp, decideSecondOpinion(registrar.StatusExpired, registrar.StatusReading{}, errUnavailable, 2, 3, now),
		"failures of the second opinion count like the registrar's")
}

func TestDecideExpiry(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	known := time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC)
	later := known.AddDate(1, 0, 0)
	earlier := known.AddDate(-1, 0, 0)
	tests := []struct {
		name          string
		current       *time.Time
		reported      time.Time
		statusChanged bool
		want          *time.Time
		problem       string
	}{
		{"none reported", &known, time.Time{}, false, nil, ""},
		{"first date", nil, known, false, &known, ""},
		{"renewed", &known, later, false, &later, ""},
		{"unchanged", &known, known, false, nil, ""},
		{"placeholder 1969-12-31", &known, time.Date(1969, 12, 31, 23, 59, 59, 0, time.UTC), false, nil, "placeholder or before 1985"},
		{"placeholder 0001-01-01", nil, time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC), false, nil, "placeholder or before 1985"},
		{"before 1985", nil, time.Date(1984, 12, 31, 0, 0, 0, 0, time.UTC), false, nil, "before 1985"},
		{"more than 11 years ahead", nil, now.AddDate(11, 1, 0), false, nil, "more than 11 years ahead"},
		{"ten years ahead", nil, now.AddDate(10, 0, 0), false, ptr(now.AddDate(10, 0, 0)), ""},
		{"backwards without a status change", &known, earlier, false, nil, "before the known 2027-03-01 without a status change"},
		{"backwards with a status change", &known, earlier, true, &earlier, ""},
	}
	for _, tt := range tests {
		got, problem := decideExpiry(tt.current, tt.reported, tt.statusChanged, now)
		require.Equal(t, tt.want, got, tt.name)
		if tt.problem == "" {
			require.Empty(t, problem, tt.name)
		} else {
			require.Contains(t, problem, tt.problem, tt.name)
		}
	}
}

func ptr[T any](v T) *T { return &v }

// newRegistrySyncer returns a syncer over st whose "registrar" adapter is
// confirmed by "registry", with no double-sync delay and a controllable
// clock.
func newRegistrySyncer(t *testing.T, st *memoryStore, reg, registry registrar.Named, now *time.Time, tune func(*SyncConfig)) (*Syncer, *Metrics) {
	t.Helper()
	metrics := NewMetrics(prometheus.NewRegistry())
	cfg := DefaultSyncConfig()
	cfg.DoubleSyncDelay = 0
	cfg.ConfirmVia = map[string]string{"registrar": "registry"}
	if tune != nil {
		tune(&cfg)
	}
	adapters := []registrar.Named{reg}
	if registry != nil {
		adapters = append(adapters, registry)
	}
	syncer, err := NewSyncer(st, NewAdapters(adapters, nil, metrics), cfg, metrics)
	require.NoError(t, err)
	syncer.now = func() time.Time { return *now }
	st.now = syncer.now
	return syncer, metrics
}

func activeDomain() store.Domain {
	return store.Domain{ID: "dom_1", Name: "example.se", Registrar: "registrar", Status: registrar.StatusActive, Version: 1}
}

func TestNewSyncerNeedsTheSecondOpinionsAdapter(t *testing.T) {
	t.Parallel()
	metrics := NewMetrics(prometheus.NewRegistry())
	cfg := DefaultSyncConfig()
	cfg.ConfirmVia = map[string]string{"registrar": "registry"}
	_, err := NewSyncer(&memoryStore{}, NewAdapters([]registrar.Named{&readingsRegistrar{name: "registrar"}}, nil, metrics), cfg, metrics)
	require.ErrorIs(t, err, ErrNoAdapter)
	require.ErrorContains(t, err, `second opinion of "registrar"`)
	cfg.ConfirmVia = map[string]string{"registrar": "registrar"}
	require.ErrorContains(t, cfg.Validate(), "its own second opinion")
}

// TestASecondOpinionThatLagsIsAskedAgainThenDecides plays a registrar
// that suspends a domain while the registry shows it active for a while:
// the change waits (without a worker) and is confirmed once the registry
// shows the hold; a registry that never does contradicts it after the lag.
func TestASecondOpinionThatLagsIsAskedAgainThenDecides(t *testing.T) {
	t.Parallel()
	for _, catchesUp := range []bool{true, false} {
		now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
		st := &memoryStore{domain: activeDomain()}
		reg := &readingsRegistrar{name: "registrar", next: []answer{reading(registrar.StatusSuspended)}}
		registryAnswers := []answer{reading(registrar.StatusActive), reading(registrar.StatusActive)}
		if catchesUp {
			registryAnswers = append(registryAnswers, reading(registrar.StatusSuspended))
		}
		registry := &readingsRegistrar{name: "registry", next: registryAnswers}
		syncer, metrics := newRegistrySyncer(t, st, reg, registry, &now, nil)

		var waits []time.Duration
		var got store.Outcome
		var err error
		for range 20 {
			got, err = syncer.Sync(context.Background(), "dom_1", Run{JobID: 1})
			var later *ConfirmLaterError
			if !errors.As(err, &later) {
				break
			}
			waits = append(waits, later.Wait)
			now = now.Add(later.Wait)
		}
		require.NoError(t, err)
		require.Equal(t, 1, reg.reads, "the registrar is read once; the registry confirms")
		require.Equal(t, "registry", *got.ConfirmSource)
		require.Nil(t, got.ConfirmFallback)
		if catchesUp {
			require.Equal(t, []time.Duration{0, 90 * time.Second, 90 * time.Second}, waits)
			require.True(t, got.DoubleSyncSucceeded)
			require.Equal(t, registrar.StatusSuspended, st.domain.Status)
			require.Equal(t, 2.0, testutil.ToFloat64(metrics.doubleSyncs.WithLabelValues(doubleSyncNotYet)))
			continue
		}
		require.Len(t, waits, 11, "asked every 90 s for 15 minutes")
		require.True(t, got.RevertAttempted && got.RevertSucceeded)
		require.Equal(t, `registrar reported "suspended"; registry still reported "active" 15m0s later`, *got.DoubleSyncError)
		require.Equal(t, registrar.StatusActive, st.domain.Status)
	}
}

// TestASecondOpinionThatCannotTellFallsBackToTheRegistrar checks that a
// change the registry has no word for (a cancellation while the
// registration lives on), or a domain it has no server for, is confirmed
// by the registrar itself, and that the outcome says why.
func TestASecondOpinionThatCannotTellFallsBackToTheRegistrar(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		registry     answer
		wantFallback string
	}{
		{reading(registrar.StatusActive), `registry cannot confirm cancelled: it reported "active"`},
		{answer{err: errNotCovered}, "registry cannot confirm cancelled: registry: read status of example.zz"},
	} {
		now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
		st := &memoryStore{domain: activeDomain()}
		reg := &readingsRegistrar{name: "registrar", next: []answer{reading(registrar.StatusCancelled)}}
		registry := &readingsRegistrar{name: "registry", next: []answer{tt.registry}}
		syncer, metrics := newRegistrySyncer(t, st, reg, registry, &now, nil)

		got, err := runJob(context.Background(), syncer, "dom_1", Run{JobID: 1})
		require.NoError(t, err)
		require.Equal(t, 2, reg.reads, "the registrar read again in the registry's place")
		require.Equal(t, "registrar", *got.ConfirmSource)
		require.Contains(t, *got.ConfirmFallback, tt.wantFallback)
		require.True(t, got.DoubleSyncSucceeded)
		require.Equal(t, registrar.StatusCancelled, st.domain.Status)
		require.Equal(t, 1.0, testutil.ToFloat64(metrics.doubleSyncFallbacks.WithLabelValues("registrar", "registry")))
	}
}

// TestAContradictingSecondOpinionReverts checks that a registry reporting
// a renewed registration reverts the registrar's "expired", and that the
// outcome names both sources.
func TestAContradictingSecondOpinionReverts(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	st := &memoryStore{domain: activeDomain()}
	reg := &readingsRegistrar{name: "registrar", next: []answer{reading(registrar.StatusExpired)}}
	renewed := answer{reading: registrar.StatusReading{Raw: "active, auto renew period", Status: registrar.StatusActive, ExpiresAt: now.AddDate(1, 0, 0)}}
	registry := &readingsRegistrar{name: "registry", next: []answer{renewed}}
	syncer, _ := newRegistrySyncer(t, st, reg, registry, &now, nil)

	got, err := runJob(context.Background(), syncer, "dom_1", Run{JobID: 1})
	require.NoError(t, err)
	require.True(t, got.RevertSucceeded)
	require.Equal(t, `registrar reported "expired", then registry reported "active, auto renew period"`, *got.DoubleSyncError)
	require.Equal(t, "active, auto renew period", *got.RawStatusSecond)
	require.Equal(t, registrar.StatusActive, st.domain.Status)
}

// TestExpiryDatesAreSyncedWithinSanityRules runs syncs reporting expiry
// dates and checks what reaches the domain and the outcome.
func TestExpiryDatesAreSyncedWithinSanityRules(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	first := time.Date(2027, 5, 1, 0, 0, 0, 0, time.UTC)
	renewed := first.AddDate(1, 0, 0)
	withExpiry := func(expires time.Time) answer {
		return answer{reading: registrar.StatusReading{Raw: "active", Status: registrar.StatusActive, ExpiresAt: expires}}
	}
	st := &memoryStore{domain: activeDomain()}
	reg := &readingsRegistrar{name: "registrar", next: []answer{
		withExpiry(first), withExpiry(renewed), withExpiry(time.Date(1969, 12, 31, 0, 0, 0, 0, time.UTC)), withExpiry(first),
	}}
	syncer, metrics := newRegistrySyncer(t, st, reg, nil, &now, func(c *SyncConfig) { c.ConfirmVia = nil })

	var outcomes []store.Outcome
	for range 4 {
		o, err := syncer.Sync(context.Background(), "dom_1", Run{})
		require.NoError(t, err)
		outcomes = append(outcomes, o)
	}
	require.Nil(t, outcomes[0].ExpiresAtBefore)
	require.Equal(t, first, *outcomes[0].ExpiresAtAfter)
	require.Equal(t, renewed, *outcomes[1].ExpiresAtAfter)
	require.Contains(t, *outcomes[2].ExpiryError, "1969-12-31 is a placeholder")
	require.Equal(t, renewed, *outcomes[2].ExpiresAtAfter, "a placeholder is not applied")
	require.Contains(t, *outcomes[3].ExpiryError, "without a status change")
	require.Equal(t, renewed, *st.domain.ExpiresAt, "billing never sees the date go back")
	require.Equal(t, 2.0, testutil.ToFloat64(metrics.expiryChanges.WithLabelValues("registrar", expiryApplied)))
	require.Equal(t, 2.0, testutil.ToFloat64(metrics.expiryChanges.WithLabelValues("registrar", expiryRejected)))
	for _, o := range outcomes {
		require.True(t, o.SyncSuccess, "an unbelievable date is recorded, not a failed sync")
	}
}

// TestATransferredAwayDomainIsCancelledOnlyWhenItPersists plays a domain
// whose registry names another sponsor, or that its registrar no longer
// knows: the first sighting is recorded without a change, a sighting
// before the wait is over changes nothing either, and one after it sets
// the domain to cancelled. A domain back with its own sponsor in between
// loses the mark.
func TestATransferredAwayDomainIsCancelledOnlyWhenItPersists(t *testing.T) {
	t.Parallel()
	sponsored := func(sponsor string) answer {
		return answer{reading: registrar.StatusReading{Raw: "active", Status: registrar.StatusActive, Sponsor: sponsor}}
	}
	for _, away := range []answer{sponsored("OtherRegistrar"), {err: errNotFound}} {
		now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
		d := activeDomain()
		synced := now.Add(-24 * time.Hour)
		d.LastSyncedAt = &synced
		st := &memoryStore{domain: d}
		reg := &readingsRegistrar{name: "registrar", next: []answer{away, sponsored("Us"), away, away, away}}
		syncer, _ := newRegistrySyncer(t, st, reg, nil, &now, func(c *SyncConfig) {
			c.ConfirmVia = nil
			c.OwnSponsors = map[string][]string{"registrar": {"Us", "UsToo"}}
		})
		sync := func() store.Outcome {
			t.Helper()
			o, err := syncer.Sync(context.Background(), "dom_1", Run{})
			require.NoError(t, err)
			return o
		}

		o := sync()
		require.True(t, o.TransferredAway)
		require.True(t, o.SyncSuccess)
		require.False(t, o.StatusChanged)
		require.Contains(t, *o.Info, "is set to cancelled if a sync from 2026-11-27T12:00:00Z on finds the same")
		require.Equal(t, now, *st.domain.TransferredAwayAt)

		now = now.Add(time.Hour)
		o = sync() // back with its own sponsor
		require.False(t, o.TransferredAway)
		require.Nil(t, st.domain.TransferredAwayAt, "the mark goes when the domain is back")

		now = now.Add(time.Hour)
		firstSeen := now
		require.False(t, sync().StatusChanged)
		now = firstSeen.Add(23 * time.Hour)
		require.False(t, sync().StatusChanged, "not yet a day since the first sighting")
		require.Equal(t, registrar.StatusActive, st.domain.Status)

		now = firstSeen.Add(24 * time.Hour)
		o = sync()
		require.True(t, o.TransferredAway)
		require.True(t, o.StatusChanged)
		require.Equal(t, registrar.StatusCancelled, o.NewStatus)
		require.Equal(t, registrar.StatusCancelled, st.domain.Status)
		require.Nil(t, st.domain.TransferredAwayAt)
	}
}

// TestANotFoundDomainNeverSyncedIsNotTransferredAway checks that a 404 for
// a domain no sync ever read stays an error that cancels the job: the
// registrar never held it, as far as regsync knows.
func TestANotFoundDomainNeverSyncedIsNotTransferredAway(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	st := &memoryStore{domain: activeDomain()}
	reg := &readingsRegistrar{name: "registrar", next: []answer{{err: errNotFound}}}
	syncer, _ := newRegistrySyncer(t, st, reg, nil, &now, func(c *SyncConfig) { c.ConfirmVia = nil })
	o, err := syncer.Sync(context.Background(), "dom_1", Run{})
	require.ErrorIs(t, err, registrar.ErrNotFound)
	require.False(t, o.TransferredAway)
	require.False(t, o.SyncSuccess)
}

// TestADryRunRecordsWhatItWouldDoAndChangesNothing runs dry-run syncs of
// every kind and checks that each records what a live sync would have
// done, flagged as a dry run, while the domain keeps its status, version
// and expiry date; and that a registrar not in dry-run mode syncs live.
func TestADryRunRecordsWhatItWouldDoAndChangesNothing(t *testing.T) {
	t.Parallel()
	expiry := time.Date(2027, 5, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name      string
		status    registrar.Status
		reads     []answer
		check     func(t *testing.T, o store.Outcome)
		wantReads int
	}{
		{"would change", registrar.StatusPending, []answer{{reading: registrar.StatusReading{Raw: "active", Status: registrar.StatusActive, ExpiresAt: expiry}}},
			func(t *testing.T, o store.Outcome) {
				require.True(t, o.StatusChanged)
				require.Equal(t, registrar.StatusActive, o.NewStatus)
				require.Equal(t, expiry, *o.ExpiresAtAfter, "the date it would apply")
				require.Equal(t, "Dry run: the status would be updated from pending to active.", *o.Info)
			}, 1},
		{"would confirm a guarded change", registrar.StatusActive, []answer{reading(registrar.StatusSuspended)},
			func(t *testing.T, o store.Outcome) {
				require.True(t, o.DoubleSyncAttempted && o.DoubleSyncSucceeded)
				require.Equal(t, registrar.StatusSuspended, o.NewStatus)
				require.Equal(t, "registrar", *o.ConfirmSource)
			}, 2},
		{"would revert a contradicted change", registrar.StatusActive, []answer{reading(registrar.StatusExpired), reading(registrar.StatusActive)},
			func(t *testing.T, o store.Outcome) {
				require.True(t, o.RevertAttempted && o.RevertSucceeded)
				require.False(t, o.StatusChanged)
				require.Equal(t, `registrar reported "expired", then registrar reported "active"`, *o.DoubleSyncError)
			}, 2},
		{"would keep", registrar.StatusActive, []answer{reading(registrar.StatusActive)},
			func(t *testing.T, o store.Outcome) {
				require.False(t, o.StatusChanged)
				require.Equal(t, `Dry run: the status active would be kept; the registrar reported "active".`, *o.Info)
			}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
			d := activeDomain()
			d.Status = tt.status
			st := &memoryStore{domain: d}
			reg := &readingsRegistrar{name: "registrar", next: tt.reads}
			syncer, metrics := newRegistrySyncer(t, st, reg, nil, &now, func(c *SyncConfig) {
				c.ConfirmVia = nil
				c.DryRun = []string{"registrar"}
			})

			o, err := syncer.Sync(context.Background(), "dom_1", Run{JobID: 1})
			require.NoError(t, err, "a dry run never gives its job back for a double sync")
			require.True(t, o.DryRun)
			require.True(t, o.SyncSuccess)
			tt.check(t, o)
			require.Equal(t, tt.wantReads, reg.reads)
			require.Equal(t, tt.status, st.domain.Status, "the domain keeps its status")
			require.Equal(t, int64(1), st.domain.Version)
			require.Nil(t, st.domain.Unconfirmed)
			require.Nil(t, st.domain.ExpiresAt, "no expiry date is applied")
			require.NotNil(t, st.domain.LastSyncedAt, "the sync times are kept, so that the sweep moves on")
			require.Equal(t, 1.0, testutil.ToFloat64(metrics.statusSyncs.WithLabelValues("registrar", Result(o), "true")))
			require.Zero(t, testutil.CollectAndCount(metrics.statusTransitions), "a dry run changes no status")
		})
	}

	// Another registrar syncs live.
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	d := activeDomain()
	d.Status = registrar.StatusPending
	st := &memoryStore{domain: d}
	syncer, _ := newRegistrySyncer(t, st, &readingsRegistrar{name: "registrar", next: []answer{reading(registrar.StatusActive)}}, nil, &now,
		func(c *SyncConfig) { c.ConfirmVia, c.DryRun = nil, []string{"hostup"} })
	o, err := syncer.Sync(context.Background(), "dom_1", Run{JobID: 1})
	require.NoError(t, err)
	require.False(t, o.DryRun)
	require.Equal(t, registrar.StatusActive, st.domain.Status)
}
