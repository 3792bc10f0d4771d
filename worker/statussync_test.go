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
}

func (m *memoryStore) Domain(_ context.Context, id string) (store.Domain, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if id != m.domain.ID {
		return store.Domain{}, fmt.Errorf("domain %s: %w", id, store.ErrDomainNotFound)
	}
	return m.domain, nil
}

func (m *memoryStore) otherWriter() {
	if m.beforeWrite != nil {
		m.beforeWrite(&m.domain)
	}
}

func (m *memoryStore) MarkUnconfirmed(_ context.Context, _ string, version int64, from, status registrar.Status) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.otherWriter()
	if m.domain.Version != version {
		return 0, store.ErrVersionConflict
	}
	m.domain.Status, m.domain.UnconfirmedFrom = status, from
	m.domain.Version++
	return m.domain.Version, nil
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
		m.domain.UnconfirmedFrom = ""
	}
	return true
}

func (m *memoryStore) FinishSync(_ context.Context, u store.SyncUpdate, o store.Outcome) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.otherWriter()
	matched := m.update(u)
	if !matched && u.Required {
		return false, store.ErrVersionConflict
	}
	m.outcomes = append(m.outcomes, o)
	return matched, nil
}

func (m *memoryStore) FinishRevert(_ context.Context, u store.SyncUpdate, reverted, kept store.Outcome) (store.Outcome, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.otherWriter()
	o := kept
	if m.update(u) {
		o = reverted
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
}

func (r *scriptedRegistrar) Name() string { return "scripted" }

func (r *scriptedRegistrar) ReadStatus(context.Context, registrar.Domain) (registrar.StatusReading, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	next := r.script[min(r.reads, len(r.script)-1)]
	r.reads++
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
	errUnavailable = &registrar.APIError{Registrar: "scripted", Status: 503, Code: "unavailable"}
	errNotFound    = &registrar.APIError{Registrar: "scripted", Status: 404, Code: "not_found"}
	errRateLimited = &registrar.APIError{Registrar: "scripted", Status: 429, RetryAfter: 7 * time.Second}
)

func TestSync(t *testing.T) {
	t.Parallel()

	// changeStatus plays another writer setting the status, as the
	// database trigger does: version bumped, unconfirmed marker dropped.
	changeStatus := func(to registrar.Status) func(d *store.Domain) {
		done := false
		return func(d *store.Domain) {
			if !done {
				done = true
				d.Status, d.UnconfirmedFrom = to, ""
				d.Version++
			}
		}
	}

	tests := []struct {
		name        string
		status      registrar.Status
		unconfirmed registrar.Status
		reads       []read
		beforeWrite func(d *store.Domain)
		wantErr     error
		wantJobErr  error
		wantStatus  registrar.Status
		want        store.Outcome
		wantResult  string
	}{
		{
			name: "pending to active is applied without a double sync", status: "pending",
			reads:      statusReads("active"),
			wantStatus: "active", wantResult: "changed",
			want: store.Outcome{
				PreviousStatus: "pending", NewStatus: "active", StatusChanged: true, StatusChangedToActive: true,
				SyncSuccess: true, Info: text("Domain status was updated."),
			},
		},
		{
			name: "unchanged status", status: "active",
			reads:      statusReads("active"),
			wantStatus: "active", wantResult: "unchanged",
			want: store.Outcome{
				PreviousStatus: "active", NewStatus: "active", SyncSuccess: true, Info: text("Domain status unchanged."),
			},
		},
		{
			name: "transient registrar error keeps the status and retries", status: "active",
			reads:   []read{{err: errUnavailable}},
			wantErr: registrar.ErrUnavailable, wantStatus: "active", wantResult: "error",
			want: store.Outcome{
				PreviousStatus: "active", NewStatus: "active", Error: text(errUnavailable.Error()),
			},
		},
		{
			name: "domain unknown at the registrar is permanent", status: "active",
			reads:   []read{{err: errNotFound}},
			wantErr: registrar.ErrNotFound, wantJobErr: &rivertype.JobCancelError{}, wantStatus: "active", wantResult: "error",
			want: store.Outcome{
				PreviousStatus: "active", NewStatus: "active", Error: text(errNotFound.Error()),
			},
		},
		{
			name: "rate limit snoozes", status: "active",
			reads:   []read{{err: errRateLimited}},
			wantErr: registrar.ErrRateLimited, wantJobErr: &rivertype.JobSnoozeError{}, wantStatus: "active", wantResult: "error",
			want: store.Outcome{
				PreviousStatus: "active", NewStatus: "active", Error: text(errRateLimited.Error()),
			},
		},
		{
			name: "unknown registrar status never overwrites a known one", status: "active",
			reads:      statusReads("parked"),
			wantStatus: "active", wantResult: "error",
			want: store.Outcome{
				PreviousStatus: "active", NewStatus: "active", Error: text(`unrecognised registrar status "parked"`),
			},
		},
		{
			name: "sticky fraud is kept", status: "fraud",
			reads:      statusReads("active"),
			wantStatus: "fraud", wantResult: "unchanged",
			want: store.Outcome{
				PreviousStatus: "fraud", NewStatus: "fraud", SyncSuccess: true,
				Info: text(`Status fraud is a local decision and was kept; the registrar reported "active".`),
			},
		},
		{
			name: "guarded change confirmed by the double sync", status: "active",
			reads:      statusReads("expired", "expired"),
			wantStatus: "expired", wantResult: "changed",
			want: store.Outcome{
				PreviousStatus: "active", NewStatus: "expired", StatusChanged: true, SyncSuccess: true,
				Info:                text("Domain status was updated after a confirming double sync."),
				DoubleSyncAttempted: true, DoubleSyncSucceeded: true,
			},
		},
		{
			name: "change into terminated is guarded too", status: "suspended",
			reads:      statusReads("terminated", "terminated"),
			wantStatus: "terminated", wantResult: "changed",
			want: store.Outcome{
				PreviousStatus: "suspended", NewStatus: "terminated", StatusChanged: true, SyncSuccess: true,
				Info:                text("Domain status was updated after a confirming double sync."),
				DoubleSyncAttempted: true, DoubleSyncSucceeded: true,
			},
		},
		{
			name: "contradicting double sync reverts", status: "active",
			reads:      statusReads("expired", "active"),
			wantStatus: "active", wantResult: "reverted",
			want: store.Outcome{
				PreviousStatus: "active", NewStatus: "active", SyncSuccess: true,
				Info:                text("Status change reverted after a contradicting double sync."),
				DoubleSyncAttempted: true, DoubleSyncError: text(`registrar reported "expired" then "active"`),
				RevertAttempted: true, RevertSucceeded: true,
			},
		},
		{
			name: "failed second read reverts", status: "active",
			reads:      []read{{raw: "suspended"}, {err: errUnavailable}},
			wantStatus: "active", wantResult: "reverted",
			want: store.Outcome{
				PreviousStatus: "active", NewStatus: "active", SyncSuccess: true,
				Info:                text("Status change reverted after a contradicting double sync."),
				DoubleSyncAttempted: true, DoubleSyncError: text("second read failed: " + errUnavailable.Error()),
				RevertAttempted: true, RevertSucceeded: true,
			},
		},
		{
			name: "revert never overwrites another writer's change", status: "active",
			reads: statusReads("expired", "active"),
			// The first write is the guarded apply; the other writer acts
			// between it and the revert.
			beforeWrite: func() func(d *store.Domain) {
				writes := 0
				other := changeStatus("suspended")
				return func(d *store.Domain) {
					if writes++; writes == 2 {
						other(d)
					}
				}
			}(),
			wantStatus: "suspended", wantResult: "revert_failed",
			want: store.Outcome{
				PreviousStatus: "active", NewStatus: "expired", StatusChanged: true, SyncSuccess: true,
				Info:                text("Status change could not be reverted; the domain will be synced again soon."),
				DoubleSyncAttempted: true, DoubleSyncError: text(`registrar reported "expired" then "active"`),
				RevertAttempted: true, RevertError: text(`domain was changed by another writer after the sync applied "expired"; left as it is`),
			},
		},
		{
			name: "lost compare-and-set starts over", status: "pending",
			reads:       statusReads("active"),
			beforeWrite: changeStatus("suspended"),
			wantStatus:  "active", wantResult: "changed",
			want: store.Outcome{
				PreviousStatus: "suspended", NewStatus: "active", StatusChanged: true, StatusChangedToActive: true,
				SyncSuccess: true, Info: text("Domain status was updated."),
			},
		},
		{
			name: "interrupted guarded change resumes at the double sync", status: "expired", unconfirmed: "active",
			reads:      statusReads("active"),
			wantStatus: "active", wantResult: "reverted",
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
				domain:      store.Domain{ID: "dom_1", Name: "example.com", Registrar: "scripted", Status: tt.status, Version: 1, UnconfirmedFrom: tt.unconfirmed},
				beforeWrite: tt.beforeWrite,
			}
			reg := &scriptedRegistrar{script: tt.reads}
			metrics := NewMetrics(prometheus.NewRegistry())
			cfg := DefaultSyncConfig()
			cfg.DoubleSyncDelay = 0
			syncer, err := NewSyncer(st, map[string]registrar.Registrar{"scripted": reg}, cfg, nil, metrics)
			require.NoError(t, err)

			got, err := syncer.Sync(context.Background(), "dom_1", Run{JobID: 42, Attempt: 1})
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
			} else {
				require.NoError(t, err)
			}
			if tt.wantJobErr != nil {
				require.ErrorIs(t, jobError(err), tt.wantJobErr)
			}

			require.Len(t, st.outcomes, 1, "exactly one outcome is recorded")
			require.Equal(t, st.outcomes[0], got)
			require.Equal(t, "dom_1", got.ID)
			require.Equal(t, "example.com", got.Name)
			require.Equal(t, int64(42), got.JobID)
			require.False(t, got.FinishedAt.Before(got.StartedAt))
			tt.want.ID, tt.want.Name = got.ID, got.Name
			tt.want.Registrar, tt.want.JobID, tt.want.Attempt = "scripted", 42, 1
			tt.want.StartedAt, tt.want.FinishedAt = got.StartedAt, got.FinishedAt
			tt.want.RawStatusFirst, tt.want.RawStatusSecond, tt.want.RegistrarRequestID = got.RawStatusFirst, got.RawStatusSecond, got.RegistrarRequestID
			require.Equal(t, tt.want, got)

			require.Equal(t, tt.wantStatus, st.domain.Status)
			require.Empty(t, st.domain.UnconfirmedFrom, "no change is left unconfirmed")
			require.Equal(t, 1.0, testutil.ToFloat64(metrics.statusSyncs.WithLabelValues("scripted", tt.wantResult)))
			require.Equal(t, tt.wantResult, Result(got))
		})
	}
}

func TestSyncRecordsRawStatuses(t *testing.T) {
	t.Parallel()
	st := &memoryStore{domain: store.Domain{ID: "dom_1", Name: "example.com", Registrar: "scripted", Status: "active", Version: 1}}
	reg := &scriptedRegistrar{script: statusReads("expired", "active")}
	cfg := DefaultSyncConfig()
	cfg.DoubleSyncDelay = 0
	syncer, err := NewSyncer(st, map[string]registrar.Registrar{"scripted": reg}, cfg, nil, NewMetrics(prometheus.NewRegistry()))
	require.NoError(t, err)

	got, err := syncer.Sync(context.Background(), "dom_1", Run{})
	require.NoError(t, err)
	require.Equal(t, "expired", *got.RawStatusFirst)
	require.Equal(t, "active", *got.RawStatusSecond)
	require.Equal(t, "req_2", *got.RegistrarRequestID)
}

func TestSyncGivesUpAfterBoundedRestarts(t *testing.T) {
	t.Parallel()
	st := &memoryStore{
		domain: store.Domain{ID: "dom_1", Name: "example.com", Registrar: "scripted", Status: "pending", Version: 1},
		// Another writer bumps the version before every write.
		beforeWrite: func(d *store.Domain) { d.Version++ },
	}
	reg := &scriptedRegistrar{script: statusReads("active")}
	metrics := NewMetrics(prometheus.NewRegistry())
	cfg := DefaultSyncConfig()
	syncer, err := NewSyncer(st, map[string]registrar.Registrar{"scripted": reg}, cfg, nil, metrics)
	require.NoError(t, err)

	got, err := syncer.Sync(context.Background(), "dom_1", Run{})
	require.ErrorIs(t, err, errTooManyRestarts)
	require.NotErrorIs(t, jobError(err), &rivertype.JobCancelError{}, "a busy domain is retried, not cancelled")
	require.False(t, got.SyncSuccess)
	require.Equal(t, registrar.StatusPending, st.domain.Status)
	require.Len(t, st.outcomes, 1)
	require.Equal(t, float64(cfg.MaxRestarts+1), testutil.ToFloat64(metrics.syncRestarts.WithLabelValues("scripted")))
}

func TestSyncWithoutAdapter(t *testing.T) {
	t.Parallel()
	st := &memoryStore{domain: store.Domain{ID: "dom_1", Name: "example.com", Registrar: "gone", Status: "active", Version: 1}}
	syncer, err := NewSyncer(st, map[string]registrar.Registrar{}, DefaultSyncConfig(), nil, NewMetrics(prometheus.NewRegistry()))
	require.NoError(t, err)

	got, err := syncer.Sync(context.Background(), "dom_1", Run{})
	require.ErrorIs(t, err, ErrNoAdapter)
	require.ErrorIs(t, jobError(err), &rivertype.JobCancelError{})
	require.Equal(t, `no registrar adapter configured: "gone"`, *got.Error)
	require.Len(t, st.outcomes, 1)
}

func TestSyncUnknownDomain(t *testing.T) {
	t.Parallel()
	st := &memoryStore{domain: store.Domain{ID: "dom_1"}}
	syncer, err := NewSyncer(st, nil, DefaultSyncConfig(), nil, NewMetrics(prometheus.NewRegistry()))
	require.NoError(t, err)

	_, err = syncer.Sync(context.Background(), "dom_2", Run{})
	require.ErrorIs(t, err, store.ErrDomainNotFound)
	require.ErrorIs(t, jobError(err), &rivertype.JobCancelError{})
	require.Empty(t, st.outcomes)
}

func TestSyncInterruptedDuringDoubleSyncLeavesChangeToResume(t *testing.T) {
	t.Parallel()
	st := &memoryStore{domain: store.Domain{ID: "dom_1", Name: "example.com", Registrar: "scripted", Status: "active", Version: 1}}
	reg := &scriptedRegistrar{script: statusReads("expired")}
	cfg := DefaultSyncConfig()
	cfg.DoubleSyncDelay = time.Hour
	syncer, err := NewSyncer(st, map[string]registrar.Registrar{"scripted": reg}, cfg, nil, NewMetrics(prometheus.NewRegistry()))
	require.NoError(t, err)

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err = syncer.Sync(ctx, "dom_1", Run{})
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Empty(t, st.outcomes, "no half outcome is recorded")
	require.Equal(t, registrar.StatusExpired, st.domain.Status)
	require.Equal(t, registrar.StatusActive, st.domain.UnconfirmedFrom, "the retried job knows what to revert to")
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

func TestJobError(t *testing.T) {
	t.Parallel()
	require.NoError(t, jobError(nil))

	var snooze *rivertype.JobSnoozeError
	require.ErrorAs(t, jobError(errRateLimited), &snooze)
	require.Equal(t, 7*time.Second, snooze.Duration)
	require.ErrorAs(t, jobError(&registrar.APIError{Status: 429}), &snooze)
	require.Equal(t, defaultSnooze, snooze.Duration)

	for _, err := range []error{errNotFound, &registrar.APIError{Status: 401}, &registrar.APIError{Status: 400}, ErrNoAdapter, store.ErrDomainNotFound} {
		require.ErrorIs(t, jobError(err), &rivertype.JobCancelError{}, "%v", err)
	}
	for _, err := range []error{errUnavailable, registrar.ErrBadResponse, errors.New("connection reset"), context.DeadlineExceeded} {
		require.Equal(t, err, jobError(err), "%v is retried", err)
	}
	require.Equal(t, river.JobCancel(nil).Error(), (&rivertype.JobCancelError{}).Error())
}
