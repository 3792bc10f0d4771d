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
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"

	"github.com/regsync/regsync/registrar"
	"github.com/regsync/regsync/store"
)

// memoryStore keeps one domain in memory with the store's compare-and-set
// semantics, so the state machine can be table-tested without a database.
// Postgres-backed tests of the same paths live in worker_db_test.go.
type memoryStore struct {
	mu       sync.Mutex
	domain   store.Domain
	outcomes []store.Outcome
	// beforeWrite runs before each compare-and-set write, to play another
	// writer changing the domain meanwhile.
	beforeWrite func(d *store.Domain)
	// now is the store's clock, for when a change was applied.
	now func() time.Time
	// writeErr, when set, fails every last write, as a row held by
	// another writer would.
	writeErr error
}

func (m *memoryStore) Domain(_ context.Context, id string) (store.Domain, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if id != m.domain.ID {
		return store.Domain{}, fmt.Errorf("domain %s: %w", id, store.ErrDomainNotFound)
	}
	d := m.domain
	if d.Unconfirmed != nil {
		u := *d.Unconfirmed
		d.Unconfirmed = &u
	}
	return d, nil
}

func (m *memoryStore) otherWriter() {
	if m.beforeWrite != nil {
		m.beforeWrite(&m.domain)
	}
}

func (m *memoryStore) MarkUnconfirmed(_ context.Context, _ string, version int64, status registrar.Status, change store.Unconfirmed) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.otherWriter()
	if m.domain.Version != version {
		return store.ErrVersionConflict
	}
	change.At = m.clock()
	m.domain.Status, m.domain.Unconfirmed = status, &change
	m.domain.Version++
	return nil
}

// update applies u to the domain as the store's SQL does and reports
// whether it matched.
func (m *memoryStore) update(u store.SyncUpdate) bool {
	if u.IfVersion != 0 && u.IfVersion != m.domain.Version {
		return false
	}
	if u.SetStatus != "" && u.SetStatus != m.domain.Status {
		m.domain.Status = u.SetStatus
		m.domain.Version++
	}
	if u.Settle || u.SetStatus != "" {
		m.domain.Unconfirmed = nil
	}
	if u.CountConfirmFailure {
		m.domain.Unconfirmed.Failures++
	}
	if u.SetExpiresAt != nil {
		m.domain.ExpiresAt = u.SetExpiresAt
	}
	switch u.TransferredAway {
	case store.SeenTransferredAway:
		if m.domain.TransferredAwayAt == nil {
			now := m.clock()
			m.domain.TransferredAwayAt = &now
		}
	case store.ClearTransferredAway:
		m.domain.TransferredAwayAt = nil
	}
	if u.Synced {
		now := m.clock()
		m.domain.LastSyncedAt = &now
	}
	return true
}

func (m *memoryStore) clock() time.Time {
	if m.now != nil {
		return m.now()
	}
	return time.Now()
}

func (m *memoryStore) FinishSync(_ context.Context, u store.SyncUpdate, o store.Outcome) (store.Outcome, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.otherWriter()
	if m.writeErr != nil {
		return store.Outcome{}, m.writeErr
	}
	matched := m.update(u)
	if !matched && u.Required {
		return store.Outcome{}, store.ErrVersionConflict
	}
	m.outcomes = append(m.outcomes, o)
	return o, nil
}

func (m *memoryStore) FinishEither(_ context.Context, u store.SyncUpdate, ifMatched, ifLost store.Outcome) (store.Outcome, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.otherWriter()
	o := ifLost
	if m.update(u) {
		o = ifMatched
	}
	m.outcomes = append(m.outcomes, o)
	return o, nil
}

// scriptedRegistrar answers successive reads from a script; the last entry
// repeats.
type scriptedRegistrar struct {
	mu     sync.Mutex
	script []read
	reads  int
}

type read struct {
	raw string
	err error
	// block makes the read wait until its context ends, as a registrar
	// that does not answer in time.
	block bool
}

func (r *scriptedRegistrar) Name() string { return "scripted" }

func (r *scriptedRegistrar) ReadStatus(ctx context.Context, _ registrar.Domain) (registrar.StatusReading, error) {
	r.mu.Lock()
	next := r.script[min(r.reads, len(r.script)-1)]
	r.reads++
	r.mu.Unlock()
	if next.block {
		<-ctx.Done()
		return registrar.StatusReading{}, fmt.Errorf("scripted: %w: %w", registrar.ErrUnavailable, ctx.Err())
	}
	if next.err != nil {
		return registrar.StatusReading{}, next.err
	}
	return registrar.StatusReading{Raw: next.raw, Status: registrar.MapHostup(next.raw), RequestID: fmt.Sprintf("req_%d", r.reads)}, nil
}

func statusReads(raws ...string) []read {
	reads := make([]read, len(raws))
	for i, raw := range raws {
		reads[i] = read{raw: raw}
	}
	return reads
}

var (
	errUnavailable  = &registrar.APIError{Registrar: "scripted", Status: 503, Code: "unavailable"}
	errNotFound     = &registrar.APIError{Registrar: "scripted", Status: 404, Code: "not_found"}
	errRateLimited  = &registrar.APIError{Registrar: "scripted", Status: 429, RetryAfter: 7 * time.Second}
	errUnauthorized = &registrar.APIError{Registrar: "scripted", Status: 401, Code: "unauthorized"}
)

// testPolicy maps errors to River's results as the workers do.
var testPolicy = errorPolicy{maxRetryDelay: time.Hour}

// newTestSyncer returns a syncer over st reading reg, with no double-sync
// delay, and its metrics.
func newTestSyncer(t *testing.T, st *memoryStore, reg registrar.Named) (*Syncer, *Metrics) {
	t.Helper()
	metrics := NewMetrics(prometheus.NewRegistry())
	cfg := DefaultSyncConfig()
	cfg.DoubleSyncDelay = 0
	syncer, err := NewSyncer(st, NewAdapters([]registrar.Named{reg}, nil, metrics), cfg, metrics)
	require.NoError(t, err)
	return syncer, metrics
}

// runJob runs the sync as its job would: run after run while a run gives
// the job back for a double sync, and returns the last run's result.
func runJob(ctx context.Context, syncer *Syncer, domainID string, run Run) (store.Outcome, error) {
	for {
		o, err := syncer.Sync(ctx, domainID, run)
		var later *ConfirmLaterError
		if !errors.As(err, &later) {
			return o, err
		}
	}
}

func TestSync(t *testing.T) {
	t.Parallel()

	// changeStatus plays another writer setting the status, as the
	// database trigger does: version bumped, unconfirmed change dropped.
	changeStatus := func(to registrar.Status) func(d *store.Domain) {
		done := false
		return func(d *store.Domain) {
			if !done {
				done = true
				d.Status, d.Unconfirmed = to, nil
				d.Version++
			}
		}
	}
	// onWrite plays another writer acting just before the nth write.
	onWrite := func(n int, other func(d *store.Domain)) func(d *store.Domain) {
		writes := 0
		return func(d *store.Domain) {
			if writes++; writes == n {
				other(d)
			}
		}
	}

	tests := []struct {
		name        string
		status      registrar.Status
		unconfirmed *store.Unconfirmed
		reads       []read
		beforeWrite func(d *store.Domain)
		wantErr     error
		wantJobErr  error
		wantStatus  registrar.Status
		// wantUnconfirmed is the failures counted on the change left
		// unconfirmed, or -1 when none is left.
		wantUnconfirmed int
		want            store.Outcome
		wantResult      string
	}{
		{
			name: "pending to active is applied without a double sync", status: "pending",
			reads:      statusReads("active"),
			wantStatus: "active", wantResult: "changed", wantUnconfirmed: -1,
			want: store.Outcome{
				PreviousStatus: "pending", NewStatus: "active", StatusChanged: true, StatusChangedToActive: true,
				SyncSuccess: true, Info: text("Domain status was updated."),
			},
		},
		{
			name: "unchanged status", status: "active",
			reads:      statusReads("active"),
			wantStatus: "active", wantResult: "unchanged", wantUnconfirmed: -1,
			want: store.Outcome{
				PreviousStatus: "active", NewStatus: "active", SyncSuccess: true, Info: text("Domain status unchanged."),
			},
		},
		{
			name: "transient registrar error keeps the status and retries", status: "active",
			reads:   []read{{err: errUnavailable}},
			wantErr: registrar.ErrUnavailable, wantStatus: "active", wantResult: "error", wantUnconfirmed: -1,
			want: store.Outcome{
				PreviousStatus: "active", NewStatus: "active", Error: text(errUnavailable.Error()),
			},
		},
		{
			name: "domain unknown at the registrar is permanent", status: "active",
			reads:   []read{{err: errNotFound}},
			wantErr: registrar.ErrNotFound, wantJobErr: &rivertype.JobCancelError{}, wantStatus: "active", wantResult: "error", wantUnconfirmed: -1,
			want: store.Outcome{
				PreviousStatus: "active", NewStatus: "active", Error: text(errNotFound.Error()),
			},
		},
		{
			name: "refused credentials are recorded and the job snoozes, never cancelled", status: "active",
			reads:   []read{{err: errUnauthorized}},
			wantErr: registrar.ErrUnauthorized, wantJobErr: &rivertype.JobSnoozeError{}, wantStatus: "active", wantResult: "error", wantUnconfirmed: -1,
			want: store.Outcome{
				PreviousStatus: "active", NewStatus: "active", Error: text(errUnauthorized.Error()),
			},
		},
		{
			name: "rate limit snoozes", status: "active",
			reads:   []read{{err: errRateLimited}},
			wantErr: registrar.ErrRateLimited, wantJobErr: &rivertype.JobSnoozeError{}, wantStatus: "active", wantResult: "error", wantUnconfirmed: -1,
			want: store.Outcome{
				PreviousStatus: "active", NewStatus: "active", Error: text(errRateLimited.Error()),
			},
		},
		{
			name: "unknown registrar status never overwrites a known one", status: "active",
			reads:      statusReads("parked"),
			wantStatus: "active", wantResult: "error", wantUnconfirmed: -1,
			want: store.Outcome{
				PreviousStatus: "active", NewStatus: "active", Error: text(`unrecognised registrar status "parked"`),
			},
		},
		{
			name: "sticky fraud is kept", status: "fraud",
			reads:      statusReads("active"),
			wantStatus: "fraud", wantResult: "unchanged", wantUnconfirmed: -1,
			want: store.Outcome{
				PreviousStatus: "fraud", NewStatus: "fraud", SyncSuccess: true,
				Info: text(`Status fraud is a local decision and was kept; the registrar reported "active".`),
			},
		},
		{
			name: "guarded change confirmed by the double sync", status: "active",
			reads:      statusReads("expired", "expired"),
			wantStatus: "expired", wantResult: "changed", wantUnconfirmed: -1,
			want: store.Outcome{
				PreviousStatus: "active", NewStatus: "expired", StatusChanged: true, SyncSuccess: true,
				Info:                text("Domain status was updated after a confirming double sync."),
				DoubleSyncAttempted: true, DoubleSyncSucceeded: true,
			},
		},
		{
			name: "change into terminated is guarded too", status: "suspended",
			reads:      statusReads("terminated", "terminated"),
			wantStatus: "terminated", wantResult: "changed", wantUnconfirmed: -1,
			want: store.Outcome{
				PreviousStatus: "suspended", NewStatus: "terminated", StatusChanged: true, SyncSuccess: true,
				Info:                text("Domain status was updated after a confirming double sync."),
				DoubleSyncAttempted: true, DoubleSyncSucceeded: true,
			},
		},
		{
			name: "contradicting double sync reverts", status: "active",
			reads:      statusReads("expired", "active"),
			wantStatus: "active", wantResult: "reverted", wantUnconfirmed: -1,
			want: store.Outcome{
				PreviousStatus: "active", NewStatus: "active", SyncSuccess: true,
				Info:                text("Status change reverted after a contradicting double sync."),
				DoubleSyncAttempted: true, DoubleSyncError: text(`registrar reported "expired" then "active"`),
				RevertAttempted: true, RevertSucceeded: true,
			},
		},
		{
			name: "a failed second read does not revert: it is recorded and retried", status: "active",
			reads:   []read{{raw: "suspended"}, {err: errUnavailable}},
			wantErr: errConfirmFailed, wantStatus: "suspended", wantResult: "error", wantUnconfirmed: 1,
			want: store.Outcome{
				PreviousStatus: "active", NewStatus: "suspended", StatusChanged: true, Error: text(errUnavailable.Error()),
				Info:                text("Status change applied and not yet confirmed; the confirming read failed and will be retried."),
				DoubleSyncAttempted: true, DoubleSyncError: text("confirming read 1 of 3 failed: " + errUnavailable.Error()),
			},
		},
		{
			name: "the last allowed failure of the second read reverts the unconfirmed change", status: "suspended",
			unconfirmed: &store.Unconfirmed{From: "active", Raw: "suspended", Failures: 2},
			reads:       []read{{err: errUnavailable}},
			wantStatus:  "active", wantResult: "reverted", wantUnconfirmed: -1,
			want: store.Outcome{
				PreviousStatus: "active", NewStatus: "active", SyncSuccess: true,
				Info:                text("Status change reverted: the registrar did not confirm it."),
				DoubleSyncAttempted: true,
				DoubleSyncError:     text("the registrar did not confirm the change: 3 confirming reads failed, the last with: " + errUnavailable.Error()),
				RevertAttempted:     true, RevertSucceeded: true,
			},
		},
		{
			name: "revert never overwrites another writer's change", status: "active",
			reads: statusReads("expired", "active"),
			// The first write is the guarded apply; the other writer acts
			// between it and the revert.
			beforeWrite: onWrite(2, changeStatus("suspended")),
			wantStatus:  "suspended", wantResult: "revert_failed", wantUnconfirmed: -1,
			want: store.Outcome{
				PreviousStatus: "active", NewStatus: "expired", StatusChanged: true, SyncSuccess: true,
				Info:                text("The domain was changed by another writer during the double sync and was left as it is; it will be synced again soon."),
				DoubleSyncAttempted: true, DoubleSyncError: text(`registrar reported "expired" then "active"`),
				RevertAttempted: true, RevertError: text(`domain was changed by another writer after the sync applied "expired"; left as it is`),
			},
		},
		{
			name: "a confirmation that loses its compare-and-set says so", status: "active",
			reads:       statusReads("expired", "expired"),
			beforeWrite: onWrite(2, changeStatus("suspended")),
			wantStatus:  "suspended", wantResult: "changed", wantUnconfirmed: -1,
			want: store.Outcome{
				PreviousStatus: "active", NewStatus: "expired", StatusChanged: true, SyncSuccess: true,
				Info:                text("The domain was changed by another writer during the double sync and was left as it is; it will be synced again soon."),
				DoubleSyncAttempted: true, DoubleSyncSucceeded: true,
			},
		},
		{
			name: "lost compare-and-set starts over", status: "pending",
			reads:       statusReads("active"),
			beforeWrite: changeStatus("suspended"),
			wantStatus:  "active", wantResult: "changed", wantUnconfirmed: -1,
			want: store.Outcome{
				PreviousStatus: "suspended", NewStatus: "active", StatusChanged: true, StatusChangedToActive: true,
				SyncSuccess: true, Info: text("Domain status was updated."),
			},
		},
		{
			name: "interrupted guarded change resumes at the double sync", status: "expired",
			unconfirmed: &store.Unconfirmed{From: "active", Raw: "expired"},
			reads:       statusReads("active"),
			wantStatus:  "active", wantResult: "reverted", wantUnconfirmed: -1,
			want: store.Outcome{
				PreviousStatus: "active", NewStatus: "active", SyncSuccess: true,
				Info:                text("Status change reverted after a contradicting double sync."),
				DoubleSyncAttempted: true, DoubleSyncError: text(`registrar reported "expired" then "active"`),
				RevertAttempted: true, RevertSucceeded: true,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			st := &memoryStore{
				domain:      store.Domain{ID: "dom_1", Name: "example.com", Registrar: "scripted", Status: tt.status, Version: 1, Unconfirmed: tt.unconfirmed},
				beforeWrite: tt.beforeWrite,
			}
			syncer, metrics := newTestSyncer(t, st, &scriptedRegistrar{script: tt.reads})

			got, err := runJob(context.Background(), syncer, "dom_1", Run{JobID: 42, Attempt: 1})
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
			} else {
				require.NoError(t, err)
			}
			if tt.wantJobErr != nil {
				require.ErrorIs(t, testPolicy.jobError(err, 0), tt.wantJobErr)
			}

			require.Len(t, st.outcomes, 1, "exactly one outcome is recorded")
			require.Equal(t, st.outcomes[0], got)
			require.Equal(t, "dom_1", got.ID)
			require.Equal(t, "example.com", got.Name)
			require.Equal(t, int64(42), got.JobID)
			require.False(t, got.FinishedAt.Before(got.StartedAt))
			tt.want.ID, tt.want.Name = got.ID, got.Name
			tt.want.Registrar, tt.want.JobID, tt.want.Attempt = "scripted", 42, 1
			tt.want.JobAttemptedAt, tt.want.StartedAt, tt.want.FinishedAt = got.JobAttemptedAt, got.StartedAt, got.FinishedAt
			tt.want.RawStatusFirst, tt.want.RawStatusSecond, tt.want.RegistrarRequestID = got.RawStatusFirst, got.RawStatusSecond, got.RegistrarRequestID
			if got.DoubleSyncAttempted {
				require.Equal(t, "scripted", *got.ConfirmSource, "the registrar itself confirms without a second opinion")
				tt.want.ConfirmSource = got.ConfirmSource
			}
			require.Equal(t, tt.want, got)

			require.Equal(t, tt.wantStatus, st.domain.Status)
			if tt.wantUnconfirmed < 0 {
				require.Nil(t, st.domain.Unconfirmed, "no change is left unconfirmed")
			} else {
				require.NotNil(t, st.domain.Unconfirmed, "the change stays unconfirmed for the next run")
				require.Equal(t, tt.wantUnconfirmed, st.domain.Unconfirmed.Failures)
			}
			require.Equal(t, 1.0, testutil.ToFloat64(metrics.statusSyncs.WithLabelValues("scripted", tt.wantResult, "false")))
			require.Equal(t, tt.wantResult, Result(got))
		})
	}
}

// TestFailedConfirmationsRevertOnlyAfterTheBound runs a guarded change
// whose confirming reads keep failing, run after run as the job's retries
// would, and checks that it is reverted only at the third failure, each
// failure recorded.
func TestFailedConfirmationsRevertOnlyAfterTheBound(t *testing.T) {
	t.Parallel()
	st := &memoryStore{domain: store.Domain{ID: "dom_1", Name: "example.com", Registrar: "scripted", Status: "active", Version: 1}}
	syncer, metrics := newTestSyncer(t, st, &scriptedRegistrar{script: []read{{raw: "suspended"}, {err: errUnavailable}}})

	for run := 1; run <= 3; run++ {
		got, err := runJob(context.Background(), syncer, "dom_1", Run{JobID: 7, Attempt: run, AttemptedAt: time.Now()})
		if run < 3 {
			require.ErrorIs(t, err, errConfirmFailed)
			require.Equal(t, registrar.StatusSuspended, st.domain.Status, "run %d keeps the change", run)
			require.Equal(t, run, st.domain.Unconfirmed.Failures)
			require.Equal(t, fmt.Sprintf("confirming read %d of 3 failed: %s", run, errUnavailable.Error()), *got.DoubleSyncError)
			continue
		}
		require.NoError(t, err)
		require.True(t, got.RevertSucceeded)
	}
	require.Equal(t, registrar.StatusActive, st.domain.Status)
	require.Len(t, st.outcomes, 3, "one outcome per run")
	require.Equal(t, 2.0, testutil.ToFloat64(metrics.doubleSyncs.WithLabelValues(doubleSyncFailed)))
	require.Equal(t, 1.0, testutil.ToFloat64(metrics.doubleSyncs.WithLabelValues(doubleSyncGaveUp)))
	require.Zero(t, testutil.ToFloat64(metrics.doubleSyncs.WithLabelValues(doubleSyncContradicted)))
}

// TestAnInterruptedConfirmationNeverReverts cuts the confirming read short
// with the job's own timeout, and then with a rate limit and refused
// credentials, and checks that none of them reverts the change, counts a
// failure or records an outcome; the next run confirms it.
func TestAnInterruptedConfirmationNeverReverts(t *testing.T) {
	t.Parallel()
	st := &memoryStore{domain: store.Domain{ID: "dom_1", Name: "example.com", Registrar: "scripted", Status: "active", Version: 1}}
	reg := &scriptedRegistrar{script: []read{{raw: "expired"}, {block: true}, {err: errRateLimited}, {err: errUnauthorized}, {raw: "expired"}}}
	syncer, metrics := newTestSyncer(t, st, reg)

	_, err := syncer.Sync(context.Background(), "dom_1", Run{JobID: 7, Attempt: 1})
	var later *ConfirmLaterError
	require.ErrorAs(t, err, &later, "the guarded change is applied and the job given back")
	require.Equal(t, registrar.StatusExpired, st.domain.Status)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err = syncer.Sync(ctx, "dom_1", Run{JobID: 7, Attempt: 2})
	require.ErrorIs(t, err, context.DeadlineExceeded)
	for _, want := range []error{registrar.ErrRateLimited, registrar.ErrUnauthorized} {
		_, err = syncer.Sync(context.Background(), "dom_1", Run{JobID: 7, Attempt: 2})
		require.ErrorIs(t, err, want)
		require.ErrorIs(t, testPolicy.jobError(err, 0), &rivertype.JobSnoozeError{})
	}
	require.Empty(t, st.outcomes, "nothing recorded for runs without an answer about the domain")
	require.Equal(t, registrar.StatusExpired, st.domain.Status, "not reverted")
	require.Zero(t, st.domain.Unconfirmed.Failures, "no failure counted")
	require.Equal(t, 1.0, testutil.ToFloat64(metrics.doubleSyncs.WithLabelValues(doubleSyncInterrupted)))
	require.Equal(t, 2.0, testutil.ToFloat64(metrics.doubleSyncs.WithLabelValues(doubleSyncDeferred)))

	got, err := syncer.Sync(context.Background(), "dom_1", Run{JobID: 7, Attempt: 3})
	require.NoError(t, err)
	require.True(t, got.DoubleSyncSucceeded)
	require.Equal(t, registrar.StatusActive, got.PreviousStatus)
	require.Equal(t, "expired", *got.RawStatusFirst, "the first read's raw status is kept across runs")
	require.Len(t, st.outcomes, 1)
}

// TestTheDoubleSyncWaitsWithoutHoldingAWorker checks that a guarded change
// gives its run back for the double-sync delay, and that a run before the
// delay has passed gives it back for what remains, reading nothing.
func TestTheDoubleSyncWaitsWithoutHoldingAWorker(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	st := &memoryStore{domain: store.Domain{ID: "dom_1", Name: "example.com", Registrar: "scripted", Status: "active", Version: 1},
		now: func() time.Time { return now }}
	reg := &scriptedRegistrar{script: statusReads("suspended")}
	metrics := NewMetrics(prometheus.NewRegistry())
	syncer, err := NewSyncer(st, NewAdapters([]registrar.Named{reg}, nil, metrics), DefaultSyncConfig(), metrics)
	require.NoError(t, err)
	syncer.now = func() time.Time { return now }

	_, err = syncer.Sync(context.Background(), "dom_1", Run{})
	var later *ConfirmLaterError
	require.ErrorAs(t, err, &later)
	require.Equal(t, 2*time.Second, later.Wait)

	now = now.Add(1500 * time.Millisecond)
	_, err = syncer.Sync(context.Background(), "dom_1", Run{})
	require.ErrorAs(t, err, &later)
	require.Equal(t, 500*time.Millisecond, later.Wait)
	require.Equal(t, 1, reg.reads, "no read before the delay has passed")

	now = now.Add(time.Second)
	got, err := syncer.Sync(context.Background(), "dom_1", Run{})
	require.NoError(t, err)
	require.True(t, got.DoubleSyncSucceeded)
}

func TestSyncRecordsRawStatuses(t *testing.T) {
	t.Parallel()
	st := &memoryStore{domain: store.Domain{ID: "dom_1", Name: "example.com", Registrar: "scripted", Status: "active", Version: 1}}
	syncer, _ := newTestSyncer(t, st, &scriptedRegistrar{script: statusReads("expired", "active")})

	got, err := syncer.SyncNow(context.Background(), "dom_1")
	require.NoError(t, err)
	require.Equal(t, "expired", *got.RawStatusFirst)
	require.Equal(t, "active", *got.RawStatusSecond)
	require.Equal(t, "req_2", *got.RegistrarRequestID)
	require.False(t, got.JobAttemptedAt.IsZero(), "a run without a job is named by its start")
}

func TestSyncGivesUpAfterBoundedRestarts(t *testing.T) {
	t.Parallel()
	st := &memoryStore{
		domain: store.Domain{ID: "dom_1", Name: "example.com", Registrar: "scripted", Status: "pending", Version: 1},
		// Another writer bumps the version before every write.
		beforeWrite: func(d *store.Domain) { d.Version++ },
	}
	syncer, metrics := newTestSyncer(t, st, &scriptedRegistrar{script: statusReads("active")})

	got, err := syncer.Sync(context.Background(), "dom_1", Run{})
	require.ErrorIs(t, err, errTooManyRestarts)
	require.NotErrorIs(t, testPolicy.jobError(err, 0), &rivertype.JobCancelError{}, "a busy domain is retried, not cancelled")
	require.False(t, got.SyncSuccess)
	require.Equal(t, registrar.StatusPending, st.domain.Status)
	require.Len(t, st.outcomes, 1)
	require.Equal(t, float64(DefaultSyncConfig().MaxRestarts+1), testutil.ToFloat64(metrics.syncRestarts.WithLabelValues("scripted")))
}

// TestSyncWithoutAdapter checks that a domain whose registrar has no
// adapter here, or one that cannot read domain statuses, is recorded and
// counted as the operator's problem, and its job given back, not
// cancelled.
func TestSyncWithoutAdapter(t *testing.T) {
	t.Parallel()
	for _, registrarName := range []string{"gone", "transfers_only"} {
		st := &memoryStore{domain: store.Domain{ID: "dom_1", Name: "example.com", Registrar: registrarName, Status: "active", Version: 1}}
		metrics := NewMetrics(prometheus.NewRegistry())
		adapters := NewAdapters([]registrar.Named{&transferRegistrar{name: "transfers_only"}}, nil, metrics)
		syncer, err := NewSyncer(st, adapters, DefaultSyncConfig(), metrics)
		require.NoError(t, err)

		got, err := syncer.Sync(context.Background(), "dom_1", Run{})
		require.ErrorIs(t, err, ErrNoAdapter)
		require.ErrorIs(t, testPolicy.jobError(err, 0), &rivertype.JobSnoozeError{})
		require.Contains(t, *got.Error, registrarName)
		require.Len(t, st.outcomes, 1)
		require.Equal(t, 1.0, testutil.ToFloat64(metrics.registrarAccessErrors.WithLabelValues(registrarName, accessNotConfigured)))
	}
}

// TestAFailureThatCannotBeRecordedIsRetried checks that a registrar answer
// that would end the job (a 404, a 403) does not end it when its outcome
// could not be written: nothing would record that the sync ever ran.
func TestAFailureThatCannotBeRecordedIsRetried(t *testing.T) {
	t.Parallel()
	for _, answer := range []error{errNotFound, &registrar.APIError{Registrar: "scripted", Status: 403}} {
		st := &memoryStore{
			domain:   store.Domain{ID: "dom_1", Name: "example.com", Registrar: "scripted", Status: "active", Version: 1},
			writeErr: fmt.Errorf("finish sync of domain dom_1: %w", store.ErrRowLocked),
		}
		syncer, _ := newTestSyncer(t, st, &scriptedRegistrar{script: []read{{err: answer}}})

		_, err := syncer.Sync(context.Background(), "dom_1", Run{JobID: 1})
		require.ErrorIs(t, err, store.ErrRowLocked)
		require.NotErrorIs(t, err, registrar.ErrNotFound)
		jobErr := testPolicy.jobError(err, 0)
		require.NotErrorIs(t, jobErr, &rivertype.JobCancelError{}, "retried, not cancelled")
		require.Contains(t, err.Error(), answer.Error(), "the registrar's answer is kept in the message")
		require.Empty(t, st.outcomes)
	}
}

func TestSyncUnknownDomain(t *testing.T) {
	t.Parallel()
	st := &memoryStore{domain: store.Domain{ID: "dom_1"}}
	syncer, err := NewSyncer(st, nil, DefaultSyncConfig(), NewMetrics(prometheus.NewRegistry()))
	require.NoError(t, err)

	_, err = syncer.Sync(context.Background(), "dom_2", Run{})
	require.ErrorIs(t, err, store.ErrDomainNotFound)
	require.ErrorIs(t, testPolicy.jobError(err, 0), &rivertype.JobCancelError{})
	require.Empty(t, st.outcomes)
}

func TestDecideFirstRead(t *testing.T) {
	t.Parallel()
	cfg := DefaultSyncConfig()
	tests := []struct {
		previous registrar.Status
		read     registrar.Status
		err      error
		want     firstRead
	}{
		{"active", "", errUnavailable, readFailed},
		{"active", "unknown", nil, readUnrecognised},
		{"unknown", "unknown", nil, readUnrecognised},
		{"fraud", "active", nil, readKeptSticky},
		{"fraud", "fraud", nil, readKeptSticky},
		{"active", "active", nil, readUnchanged},
		{"unknown", "active", nil, readChanged},
		{"pending", "active", nil, readChanged},
		{"expired", "active", nil, readChanged},
		{"suspended", "expired", nil, readChanged},
		{"active", "expired", nil, readChangedGuarded},
		{"active", "suspended", nil, readChangedGuarded},
		{"active", "pending", nil, readChangedGuarded},
		{"pending", "terminated", nil, readChangedGuarded},
		{"expired", "cancelled", nil, readChangedGuarded},
		{"active", "fraud", nil, readChangedGuarded},
	}
	for _, tt := range tests {
		got := decideFirstRead(cfg, tt.previous, registrar.StatusReading{Status: tt.read, Raw: string(tt.read)}, tt.err)
		require.Equal(t, tt.want, got, "%s -> %s (err %v)", tt.previous, tt.read, tt.err)
	}
}

func TestDecideConfirmation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		read     registrar.Status
		err      error
		failures int
		want     confirmation
	}{
		{"expired", nil, 0, confirmConfirmed},
		{"expired", nil, 2, confirmConfirmed},
		{"active", nil, 0, confirmContradicted},
		{"unknown", nil, 0, confirmContradicted},
		{"", errUnavailable, 0, confirmFailed},
		{"", errNotFound, 1, confirmFailed},
		{"", registrar.ErrBadResponse, 1, confirmFailed},
		{"", errUnavailable, 2, confirmGaveUp},
		{"", errRateLimited, 2, confirmDeferred},
		{"", errUnauthorized, 2, confirmDeferred},
	}
	for _, tt := range tests {
		got := decideConfirmation(registrar.StatusExpired, registrar.StatusReading{Status: tt.read}, tt.err, tt.failures, 3)
		require.Equal(t, tt.want, got, "read %q, err %v, %d failures before", tt.read, tt.err, tt.failures)
	}
}

func TestJobError(t *testing.T) {
	t.Parallel()
	require.NoError(t, testPolicy.jobError(nil, 0))

	var snooze *rivertype.JobSnoozeError
	require.ErrorAs(t, testPolicy.jobError(errRateLimited, 0), &snooze)
	require.Equal(t, 7*time.Second, snooze.Duration)
	require.ErrorAs(t, testPolicy.jobError(&registrar.APIError{Status: 429}, 0), &snooze)
	require.Equal(t, defaultSnooze, snooze.Duration)
	require.ErrorAs(t, testPolicy.jobError(&ConfirmLaterError{Wait: 2 * time.Second}, 0), &snooze)
	require.Equal(t, 2*time.Second, snooze.Duration)

	// The operator's problems snooze longer each time, up to the cap.
	for snoozes, want := range map[int]time.Duration{0: time.Second, 1: 2 * time.Second, 5: 32 * time.Second, 12: time.Hour, 40: time.Hour} {
		for _, err := range []error{errUnauthorized, ErrNoAdapter} {
			require.ErrorAs(t, testPolicy.jobError(err, snoozes), &snooze)
			require.Equal(t, want, snooze.Duration, "%v after %d snoozes", err, snoozes)
		}
	}

	for _, err := range []error{errNotFound, &registrar.APIError{Status: 403}, &registrar.APIError{Status: 400}, store.ErrDomainNotFound} {
		require.ErrorIs(t, testPolicy.jobError(err, 0), &rivertype.JobCancelError{}, "%v", err)
	}
	for _, err := range []error{errUnavailable, registrar.ErrBadResponse, errors.New("connection reset"), context.DeadlineExceeded, store.ErrRowLocked} {
		require.Equal(t, err, testPolicy.jobError(err, 0), "%v is retried", err)
	}
	require.Equal(t, river.JobCancel(nil).Error(), (&rivertype.JobCancelError{}).Error())
}
