package worker

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"

	"github.com/regsync/regsync/internal/secret"
	"github.com/regsync/regsync/registrar"
	"github.com/regsync/regsync/store"
)

// memoryTransfers keeps one transfer in memory with the store's update
// semantics, so the retry decisions can be table-tested without a
// database; Postgres-backed tests are in transfer_db_test.go.
type memoryTransfers struct {
	mu       sync.Mutex
	transfer store.Transfer
	attempts []store.TransferAttempt
	// updates counts the compare-and-set writes that matched.
	updates int
	// beforeWrite runs before each write, to play another writer.
	beforeWrite func(t *store.Transfer)
	// finishErr, when set, fails every attempt's last write, as a row held
	// by another writer would.
	finishErr error
}

func (m *memoryTransfers) Transfer(_ context.Context, id string) (store.Transfer, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if id != m.transfer.ID {
		return store.Transfer{}, store.ErrTransferNotFound
	}
	return m.transfer, nil
}

// update applies u as the store's SQL does and reports whether it matched.
func (m *memoryTransfers) update(u store.TransferUpdate, result string) bool {
	if m.beforeWrite != nil {
		m.beforeWrite(&m.transfer)
	}
	t := &m.transfer
	if t.Version != u.IfVersion {
		return false
	}
	if u.RevertAuthInfo {
		t.AuthInfo, t.HasPreviousAuthInfo = nil, false
		t.AuthInfoVersion++
	}
	if u.AuthInfoSent || u.RevertAuthInfo {
		t.AuthInfoUnsent = false
	}
	t.State = u.State
	if u.CountAttempt {
		t.Attempts++
	}
	if u.CountConflict {
		t.Conflicts++
	}
	t.NextRetryAt = u.NextRetryAt
	if result != "" {
		t.LastResult = result
	}
	t.Version++
	m.updates++
	return true
}

func (m *memoryTransfers) UpdateTransfer(_ context.Context, _ string, u store.TransferUpdate) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.update(u, "") {
		return 0, store.ErrTransferChanged
	}
	return m.transfer.Version, nil
}

func (m *memoryTransfers) FinishTransferAttempt(_ context.Context, u store.TransferUpdate, a store.TransferAttempt) (store.TransferAttempt, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.finishErr != nil {
		return store.TransferAttempt{}, m.finishErr
	}
	if m.update(u, a.Result) {
		a.StateAfter = u.State
		a.RevertAttempted, a.RevertSucceeded = u.RevertAuthInfo, u.RevertAuthInfo
	} else {
		a.Result, a.StateAfter = "superseded", m.transfer.State
	}
	m.attempts = append(m.attempts, a)
	return a, nil
}

// transferRegistrar answers resets and status reads from scripts; the last
// entry repeats.
type transferRegistrar struct {
	name      string // "scripted" when empty
	mu        sync.Mutex
	resets    []error
	statuses  []statusRead
	resetN    int
	statusN   int
	authInfos []string
	// onReset runs during each reset, to play what happens meanwhile.
	onReset func(ctx context.Context)
}

// statusRead is a scripted transfer status read: a status or an error.
type statusRead struct {
	status registrar.TransferStatus
	err    error
}

func (r *transferRegistrar) Name() string { return cmp.Or(r.name, "scripted") }

func (r *transferRegistrar) ResetTransfer(ctx context.Context, _ registrar.Transfer, authInfo string) (registrar.ResetResult, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	err := r.resets[min(r.resetN, len(r.resets)-1)]
	r.resetN++
	r.authInfos = append(r.authInfos, authInfo)
	if r.onReset != nil {
		r.onReset(ctx)
	}
	if err != nil {
		return registrar.ResetResult{}, err
	}
	return registrar.ResetResult{Status: http.StatusAccepted, RequestID: "req_reset"}, nil
}

// statusReadingRegistrar adds transfer status reads to transferRegistrar.
type statusReadingRegistrar struct{ *transferRegistrar }

func (r statusReadingRegistrar) ReadTransferStatus(context.Context, registrar.Transfer) (registrar.TransferStatus, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.statuses[min(r.statusN, len(r.statuses)-1)]
	r.statusN++
	return s.status, s.err
}

// reads turns statuses into status reads.
func reads(statuses ...registrar.TransferStatus) []statusRead {
	out := make([]statusRead, len(statuses))
	for i, s := range statuses {
		out[i] = statusRead{status: s}
	}
	return out
}

func apiErr(status int) error {
	return &registrar.APIError{Registrar: "scripted", Status: status}
}

var (
	resettable    = registrar.TransferStatus{Code: 8, Description: "rejected", State: registrar.TransferBlocked, CanBeReset: true}
	notResettable = registrar.TransferStatus{Code: 4, Description: "locked", State: registrar.TransferBlocked}
	pending       = registrar.TransferStatus{Code: 3, Description: "awaiting losing registrar", State: registrar.TransferPending}
	completed     = registrar.TransferStatus{Code: 9, Description: "completed", State: registrar.TransferCompleted}
	cancelled     = registrar.TransferStatus{Code: 10, Description: "cancelled", State: registrar.TransferCancelled}
)

const testAuthInfo = "N3w-Secret!"

func TestRetry(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	cfg := DefaultTransferConfig()
	cfg.ConfirmDelay = 0

	tests := []struct {
		name       string
		state      store.TransferState
		reason     string
		registered time.Time
		deadline   time.Time
		conflicts  int
		newAuth    bool
		canRead    bool
		statuses   []statusRead
		resets     []error
		last       bool

		wantResult   string
		wantState    store.TransferState
		wantCalls    int
		wantNext     time.Time
		wantJobErr   error
		wantAttempts int
		wantRevert   bool
		wantDouble   string // "" no double sync, "ok" confirmed, else error substring
	}{
		{name: "202 accepted", resets: []error{nil}, wantResult: "accepted", wantState: store.TransferInProgress, wantCalls: 1, wantAttempts: 1, wantNext: now.Add(cfg.RetryInterval)},
		{name: "any 2xx accepted, confirmed by a status read", canRead: true, statuses: reads(resettable, pending), resets: []error{nil},
			wantResult: "accepted", wantState: store.TransferInProgress, wantCalls: 1, wantAttempts: 1, wantDouble: "ok"},
		{name: "accepted reset contradicted by the status read", canRead: true, statuses: reads(resettable, notResettable), resets: []error{nil},
			wantResult: "accepted", wantState: store.TransferBlocked, wantCalls: 1, wantAttempts: 1, wantDouble: `reports the transfer blocked (4 locked)`},
		{name: "400 without a new authInfo waits for one", resets: []error{apiErr(400)}, wantResult: "invalid", wantState: store.TransferWaitingAuthInfo, wantCalls: 1, wantAttempts: 1},
		{name: "400 with a new authInfo reverts it", newAuth: true, resets: []error{apiErr(400)}, wantResult: "invalid", wantState: store.TransferWaitingAuthInfo, wantCalls: 1, wantAttempts: 1, wantRevert: true},
		{name: "403 belongs to another account", resets: []error{apiErr(403)}, wantResult: "forbidden", wantState: store.TransferForbidden, wantCalls: 1, wantAttempts: 1},
		{name: "404 no pending order closes it", resets: []error{apiErr(404)}, wantResult: "closed", wantState: store.TransferClosed, wantCalls: 1},
		{name: "409 backs off without burning attempts", resets: []error{apiErr(409)}, wantResult: "conflict", wantState: store.TransferBlocked, wantCalls: 1, wantNext: now.Add(cfg.ConflictBackoff)},
		{name: "409 backs off longer after earlier conflicts", conflicts: 2, resets: []error{apiErr(409)}, wantResult: "conflict", wantState: store.TransferBlocked, wantCalls: 1, wantNext: now.Add(4 * cfg.ConflictBackoff)},
		{name: "401 keeps the state and gives the job back", resets: []error{apiErr(401)}, wantResult: "credentials_refused", wantState: store.TransferBlocked, wantCalls: 1, wantJobErr: &rivertype.JobSnoozeError{}},
		{name: "401 on the status read keeps the state too", canRead: true, statuses: []statusRead{{err: apiErr(401)}}, resets: []error{nil},
			wantResult: "credentials_refused", wantState: store.TransferBlocked, wantJobErr: &rivertype.JobSnoozeError{}},
		{name: "403 on the status read is no verdict: the reset decides", canRead: true, statuses: []statusRead{{err: apiErr(403)}}, resets: []error{nil},
			wantResult: "accepted", wantState: store.TransferInProgress, wantCalls: 1, wantAttempts: 1, wantDouble: "confirming status read failed"},
		{name: "403 on the reset is final", canRead: true, statuses: []statusRead{{err: apiErr(403)}}, resets: []error{apiErr(403)},
			wantResult: "forbidden", wantState: store.TransferForbidden, wantCalls: 1, wantAttempts: 1},
		{name: "500 retries with the job's backoff", resets: []error{apiErr(500)}, wantResult: "unavailable", wantState: store.TransferBlocked, wantCalls: 1, wantAttempts: 1, wantJobErr: errTransferTransient},
		{name: "timeout retries", resets: []error{fmt.Errorf("scripted: %w: %w", registrar.ErrUnavailable, context.DeadlineExceeded)}, wantResult: "unavailable", wantState: store.TransferBlocked, wantCalls: 1, wantAttempts: 1, wantJobErr: errTransferTransient},
		{name: "429 snoozes", resets: []error{&registrar.APIError{Registrar: "scripted", Status: 429, RetryAfter: time.Minute}}, wantResult: "rate_limited", wantState: store.TransferBlocked, wantCalls: 1, wantJobErr: &rivertype.JobSnoozeError{}},
		{name: "unexpected code is never success", resets: []error{fmt.Errorf("scripted: unexpected HTTP 302: %w", registrar.ErrBadResponse)}, wantResult: "unexpected", wantState: store.TransferBlocked, wantCalls: 1, wantAttempts: 1, wantJobErr: errTransferTransient},
		{name: "unexpected code on the last attempt fails the transfer", last: true, resets: []error{fmt.Errorf("scripted: unexpected HTTP 302: %w", registrar.ErrBadResponse)}, wantResult: "unexpected", wantState: store.TransferFailed, wantCalls: 1, wantAttempts: 1, wantJobErr: errTransferTransient},
		{name: "past the deadline expires without a call", deadline: now, resets: []error{nil}, wantResult: "expired", wantState: store.TransferExpired},
		{name: "one second before the deadline still retries", deadline: now.Add(time.Second), resets: []error{nil}, wantResult: "accepted", wantState: store.TransferInProgress, wantCalls: 1, wantAttempts: 1},
		{name: "registered 59 days ago waits for the 60-day mark", reason: "registered_recently", registered: now.Add(-59 * 24 * time.Hour), resets: []error{nil},
			wantResult: "waiting", wantState: store.TransferBlocked, wantNext: now.Add(24 * time.Hour)},
		{name: "registered exactly 60 days ago retries", reason: "registered_recently", registered: now.Add(-60 * 24 * time.Hour), resets: []error{nil},
			wantResult: "accepted", wantState: store.TransferInProgress, wantCalls: 1, wantAttempts: 1},
		{name: "a new authInfo inside the lock period is tried", reason: "registered_recently", registered: now.Add(-time.Hour), newAuth: true, resets: []error{nil},
			wantResult: "accepted", wantState: store.TransferInProgress, wantCalls: 1, wantAttempts: 1},
		{name: "waiting for an authInfo retries without one", state: store.TransferWaitingAuthInfo, resets: []error{nil}, wantResult: "accepted", wantState: store.TransferInProgress, wantCalls: 1, wantAttempts: 1},
		{name: "waiting for an authInfo and refused again retries slowly", state: store.TransferWaitingAuthInfo, resets: []error{apiErr(400)},
			wantResult: "invalid", wantState: store.TransferWaitingAuthInfo, wantCalls: 1, wantAttempts: 1, wantNext: now.Add(cfg.AuthInfoRetryInterval)},
		{name: "waiting for an authInfo expires at the deadline", state: store.TransferWaitingAuthInfo, deadline: now, resets: []error{nil}, wantResult: "expired", wantState: store.TransferExpired},
		{name: "a final transfer does nothing", state: store.TransferClosed, resets: []error{nil}, wantResult: "skipped", wantState: store.TransferClosed},
		{name: "status completed", canRead: true, statuses: reads(completed), resets: []error{nil}, wantResult: "completed", wantState: store.TransferCompleted},
		{name: "status cancelled closes it", canRead: true, statuses: reads(cancelled), resets: []error{nil}, wantResult: "cancelled", wantState: store.TransferClosed},
		{name: "status pending needs no reset", canRead: true, statuses: reads(pending), resets: []error{nil}, wantResult: "in_progress", wantState: store.TransferInProgress},
		{name: "blocked but not resettable is not reset", canRead: true, statuses: reads(notResettable), resets: []error{nil},
			wantResult: "not_resettable", wantState: store.TransferBlocked, wantNext: now.Add(cfg.ConflictBackoff)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			keySpec, err := secret.GenerateKey("k1")
			require.NoError(t, err)
			keyring, err := secret.ParseKeyring(keySpec)
			require.NoError(t, err)
			tr := store.Transfer{
				ID: "trf_1", AccountNumber: "acct1", DomainName: "example.com", Registrar: "scripted",
				State: store.TransferBlocked, BlockReason: "no_response", Deadline: now.Add(30 * 24 * time.Hour),
				AuthInfoVersion: 3, Version: 5, Conflicts: tt.conflicts,
			}
			if tt.state != "" {
				tr.State = tt.state
			}
			if tt.reason != "" {
				tr.BlockReason, tr.RegisteredAt = tt.reason, tt.registered
			}
			if !tt.deadline.IsZero() {
				tr.Deadline = tt.deadline
			}
			if tt.newAuth {
				sealed := keyring.Seal([]byte(testAuthInfo), store.AuthInfoContext(tr.ID))
				tr.AuthInfo, tr.AuthInfoUnsent = &sealed, true
			}
			st := &memoryTransfers{transfer: tr}
			base := &transferRegistrar{resets: tt.resets, statuses: tt.statuses}
			var adapter registrar.Named = base
			if tt.canRead {
				adapter = statusReadingRegistrar{base}
			}
			metrics := NewMetrics(prometheus.NewRegistry())
			r, err := NewRetrier(st, NewAdapters([]registrar.Named{adapter}, nil, metrics), keyring, cfg, metrics)
			require.NoError(t, err)
			r.now = func() time.Time { return now }

			got, err := r.Retry(context.Background(), "trf_1", Run{JobID: 7, Attempt: 1}, tt.last)
			if tt.wantJobErr != nil {
				require.ErrorIs(t, errors.Join(err, testPolicy.jobError(err, 0)), tt.wantJobErr)
			} else {
				require.NoError(t, err)
			}
			require.Equal(t, tt.wantCalls, base.resetN, "reset calls")
			require.Len(t, st.attempts, 1)
			require.Equal(t, got, st.attempts[0])
			require.Equal(t, tt.wantResult, got.Result)
			require.Equal(t, tt.wantState, st.transfer.State)
			require.Equal(t, tt.wantState, got.StateAfter)
			require.Equal(t, tt.wantAttempts, st.transfer.Attempts, "attempts counted")
			if !tt.wantNext.IsZero() {
				require.Equal(t, tt.wantNext, st.transfer.NextRetryAt)
			}
			require.Equal(t, tt.wantRevert, got.RevertAttempted && got.RevertSucceeded)
			if tt.newAuth && tt.wantCalls > 0 {
				require.Equal(t, []string{testAuthInfo}, base.authInfos, "the new authInfo is sent")
				require.True(t, got.SentNewAuthInfo)
			} else {
				for _, sent := range base.authInfos {
					require.Empty(t, sent, "without a new authInfo the registrar reuses its own")
				}
			}
			switch tt.wantDouble {
			case "":
				require.False(t, got.DoubleSyncAttempted)
			case "ok":
				require.True(t, got.DoubleSyncSucceeded)
			default:
				require.True(t, got.DoubleSyncAttempted)
				require.False(t, got.DoubleSyncSucceeded)
				require.Contains(t, *got.DoubleSyncError, tt.wantDouble)
			}
			if got.Error != nil {
				require.NotContains(t, *got.Error, testAuthInfo)
			}
			if tt.wantCalls > 0 {
				require.Equal(t, 1.0, testutil.ToFloat64(metrics.transferResets.WithLabelValues("scripted", tt.wantResult)))
			}
		})
	}
}

func TestRetryConflictBackoffGrows(t *testing.T) {
	t.Parallel()
	cfg := DefaultTransferConfig()
	r, err := NewRetrier(&memoryTransfers{}, nil, nil, cfg, NewMetrics(prometheus.NewRegistry()))
	require.NoError(t, err)
	require.Equal(t, time.Hour, r.conflictBackoff(0))
	require.Equal(t, 2*time.Hour, r.conflictBackoff(1))
	require.Equal(t, 16*time.Hour, r.conflictBackoff(4))
	require.Equal(t, cfg.RetryInterval, r.conflictBackoff(5))
	require.Equal(t, cfg.RetryInterval, r.conflictBackoff(1000))
}

// TestRetryWithoutTransferCapability checks that a transfer whose
// registrar has no adapter here, or one that cannot reset, keeps its
// state, is recorded and counted as the operator's problem, and its job
// is given back rather than ended.
func TestRetryWithoutTransferCapability(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"statusonly", "gone"} {
		st := &memoryTransfers{transfer: store.Transfer{ID: "trf_1", Registrar: name, State: store.TransferBlocked, Deadline: time.Now().Add(time.Hour)}}
		metrics := NewMetrics(prometheus.NewRegistry())
		adapters := NewAdapters([]registrar.Named{&scriptedRegistrar{}}, nil, metrics)
		adapters["statusonly"] = adapters["scripted"]
		r, err := NewRetrier(st, adapters, nil, DefaultTransferConfig(), metrics)
		require.NoError(t, err)
		got, err := r.Retry(context.Background(), "trf_1", Run{}, true)
		require.ErrorIs(t, err, ErrNoAdapter)
		require.ErrorIs(t, testPolicy.jobError(err, 0), &rivertype.JobSnoozeError{})
		require.Equal(t, store.TransferBlocked, st.transfer.State, "the transfer keeps its state, even on the job's last attempt")
		require.Equal(t, "not_configured", got.Result)
		require.Equal(t, 1.0, testutil.ToFloat64(metrics.registrarAccessErrors.WithLabelValues(name, accessNotConfigured)))
	}
}

// TestACredentialsOutageNeverEndsATransfer refuses regsync's credentials
// on every call, run after run up to the job's last attempt, and checks
// that the transfer stays blocked and no attempt is counted; once the
// credentials work again, the retry goes through.
func TestACredentialsOutageNeverEndsATransfer(t *testing.T) {
	t.Parallel()
	st := &memoryTransfers{transfer: store.Transfer{ID: "trf_1", AccountNumber: "acct1", DomainName: "example.com", Registrar: "scripted",
		State: store.TransferBlocked, BlockReason: "no_response", Deadline: time.Now().Add(time.Hour), Version: 1}}
	base := &transferRegistrar{
		statuses: []statusRead{{err: apiErr(401)}, {err: apiErr(401)}, {status: resettable}, {status: resettable}, {status: pending}},
		resets:   []error{apiErr(401), nil},
	}
	metrics := NewMetrics(prometheus.NewRegistry())
	r, err := NewRetrier(st, NewAdapters([]registrar.Named{statusReadingRegistrar{base}}, nil, metrics), nil, DefaultTransferConfig(), metrics)
	require.NoError(t, err)
	for run := range 2 {
		_, err := r.Retry(context.Background(), "trf_1", Run{}, run == 1)
		require.ErrorIs(t, err, registrar.ErrUnauthorized)
		require.Equal(t, store.TransferBlocked, st.transfer.State)
	}
	require.Zero(t, st.transfer.Attempts)
	require.Equal(t, 2.0, testutil.ToFloat64(metrics.registrarAccessErrors.WithLabelValues("scripted", accessCredentialsRefused)))

	got, err := r.Retry(context.Background(), "trf_1", Run{}, false)
	require.ErrorIs(t, err, registrar.ErrUnauthorized, "the reset's 401 is no verdict either")
	require.Equal(t, "credentials_refused", got.Result)
	require.Equal(t, store.TransferBlocked, st.transfer.State)

	got, err = r.Retry(context.Background(), "trf_1", Run{}, false)
	require.NoError(t, err)
	require.Equal(t, "accepted", got.Result)
	require.Equal(t, store.TransferInProgress, st.transfer.State)
}

// TestAnAnswerThatCannotBeRecordedNeverEndsATransferJob checks that a
// reset answer that would end the job (a 403, a 404) does not end it when
// the attempt could not be written.
func TestAnAnswerThatCannotBeRecordedNeverEndsATransferJob(t *testing.T) {
	t.Parallel()
	for _, status := range []int{403, 404} {
		st := &memoryTransfers{
			transfer: store.Transfer{ID: "trf_1", AccountNumber: "acct1", DomainName: "example.com", Registrar: "scripted",
				State: store.TransferBlocked, BlockReason: "no_response", Deadline: time.Now().Add(time.Hour), Version: 1},
			finishErr: fmt.Errorf("finish attempt of transfer trf_1: %w", store.ErrRowLocked),
		}
		metrics := NewMetrics(prometheus.NewRegistry())
		reg := &transferRegistrar{resets: []error{apiErr(status)}}
		r, err := NewRetrier(st, NewAdapters([]registrar.Named{reg}, nil, metrics), nil, DefaultTransferConfig(), metrics)
		require.NoError(t, err)

		_, err = r.Retry(context.Background(), "trf_1", Run{JobID: 1}, false)
		require.ErrorIs(t, err, store.ErrRowLocked)
		require.False(t, registrar.IsPermanent(err), "%d: the registrar's answer is only in the message", status)
		require.NotErrorIs(t, testPolicy.jobError(err, 0), &rivertype.JobCancelError{})
		require.Empty(t, st.attempts)
	}
}

// TestAnAcceptedResetIsRecordedBeforeItsConfirmation cancels the run during
// the confirming status read after a 202 with a new authInfo, and checks
// that the reset was recorded (the authInfo marked sent, the transfer in
// progress) and the run's attempt row written, so that the authInfo is
// never sent again.
func TestAnAcceptedResetIsRecordedBeforeItsConfirmation(t *testing.T) {
	t.Parallel()
	keySpec, err := secret.GenerateKey("k1")
	require.NoError(t, err)
	keyring, err := secret.ParseKeyring(keySpec)
	require.NoError(t, err)
	sealed := keyring.Seal([]byte(testAuthInfo), store.AuthInfoContext("trf_1"))
	st := &memoryTransfers{transfer: store.Transfer{ID: "trf_1", AccountNumber: "acct1", DomainName: "example.com", Registrar: "scripted",
		State: store.TransferBlocked, BlockReason: "wrong_auth_info", Deadline: time.Now().Add(time.Hour), Version: 1,
		AuthInfo: &sealed, AuthInfoUnsent: true}}
	ctx, cancel := context.WithCancel(context.Background())
	base := &transferRegistrar{statuses: reads(resettable), resets: []error{nil}, onReset: func(context.Context) { cancel() }}
	metrics := NewMetrics(prometheus.NewRegistry())
	cfg := DefaultTransferConfig()
	r, err := NewRetrier(st, NewAdapters([]registrar.Named{statusReadingRegistrar{base}}, nil, metrics), keyring, cfg, metrics)
	require.NoError(t, err)

	got, err := r.Retry(ctx, "trf_1", Run{JobID: 3, Attempt: 1}, false)
	require.NoError(t, err)
	require.Equal(t, "accepted", got.Result)
	require.True(t, got.SentNewAuthInfo)
	require.Contains(t, *got.DoubleSyncError, "interrupted")
	require.False(t, st.transfer.AuthInfoUnsent, "the authInfo is recorded as sent")
	require.Equal(t, store.TransferInProgress, st.transfer.State)
	require.Equal(t, 1, st.transfer.Attempts)
	require.Len(t, st.attempts, 1)
}

// TestARetryThatLostItsCompareAndSetChangesNothing plays a new authInfo
// arriving while a retry's reset is in flight, and checks that the run,
// which read the transfer before, records its attempt as superseded and
// leaves the transfer as the newer write made it.
func TestARetryThatLostItsCompareAndSetChangesNothing(t *testing.T) {
	t.Parallel()
	st := &memoryTransfers{transfer: store.Transfer{ID: "trf_1", AccountNumber: "acct1", DomainName: "example.com", Registrar: "scripted",
		State: store.TransferBlocked, BlockReason: "no_response", Deadline: time.Now().Add(time.Hour), Version: 1}}
	base := &transferRegistrar{resets: []error{apiErr(400)}}
	base.onReset = func(context.Context) {
		st.mu.Lock()
		defer st.mu.Unlock()
		st.transfer.Version++ // a reset request stored a new authInfo meanwhile
		st.transfer.AuthInfoUnsent = true
	}
	metrics := NewMetrics(prometheus.NewRegistry())
	r, err := NewRetrier(st, NewAdapters([]registrar.Named{base}, nil, metrics), nil, DefaultTransferConfig(), metrics)
	require.NoError(t, err)

	got, err := r.Retry(context.Background(), "trf_1", Run{}, false)
	require.NoError(t, err)
	require.Equal(t, "superseded", got.Result)
	require.Equal(t, store.TransferBlocked, st.transfer.State, "not waiting_auth_info: the new authInfo is still to be sent")
	require.True(t, st.transfer.AuthInfoUnsent)
	require.Zero(t, st.updates)
}

func TestRetryWithUndecryptableAuthInfo(t *testing.T) {
	t.Parallel()
	oldSpec, err := secret.GenerateKey("old")
	require.NoError(t, err)
	oldRing, err := secret.ParseKeyring(oldSpec)
	require.NoError(t, err)
	newSpec, err := secret.GenerateKey("new")
	require.NoError(t, err)
	newRing, err := secret.ParseKeyring(newSpec)
	require.NoError(t, err)
	sealed := oldRing.Seal([]byte(testAuthInfo), store.AuthInfoContext("trf_1"))
	st := &memoryTransfers{transfer: store.Transfer{
		ID: "trf_1", Registrar: "scripted", State: store.TransferBlocked, Deadline: time.Now().Add(time.Hour),
		AuthInfo: &sealed, AuthInfoUnsent: true,
	}}
	base := &transferRegistrar{resets: []error{nil}}
	metrics := NewMetrics(prometheus.NewRegistry())
	r, err := NewRetrier(st, NewAdapters([]registrar.Named{base}, nil, metrics), newRing, DefaultTransferConfig(), metrics)
	require.NoError(t, err)

	got, err := r.Retry(context.Background(), "trf_1", Run{}, false)
	require.ErrorIs(t, err, secret.ErrDecrypt)
	require.ErrorIs(t, testPolicy.jobError(err, 0), &rivertype.JobCancelError{})
	require.Zero(t, base.resetN, "nothing is sent")
	require.Equal(t, store.TransferWaitingAuthInfo, st.transfer.State, "a new authInfo is asked for")
	require.Contains(t, *got.Error, `unknown secret key id "old"`)
}

func TestDecidePreflightForEveryReason(t *testing.T) {
	t.Parallel()
	cfg := DefaultTransferConfig()
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	registered := now.Add(-10 * 24 * time.Hour)
	for _, reason := range store.BlockReasons {
		tr := store.Transfer{State: store.TransferBlocked, BlockReason: reason, RegisteredAt: registered, Deadline: now.Add(time.Hour)}
		got, until := decidePreflight(cfg, now, tr)
		if reason == "registered_recently" {
			require.Equal(t, preflightWaitForLock, got, reason)
			require.Equal(t, registered.Add(cfg.LockPeriod), until)
		} else {
			require.Equal(t, preflightCall, got, "%s: only the lock period delays a call before the deadline", reason)
		}

		tr.Deadline = now
		got, _ = decidePreflight(cfg, now, tr)
		require.Equal(t, preflightExpire, got, "%s: at the deadline", reason)

		tr.Deadline, tr.State, tr.RegisteredAt = now.Add(time.Hour), store.TransferWaitingAuthInfo, time.Time{}
		got, _ = decidePreflight(cfg, now, tr)
		require.Equal(t, preflightCall, got, "%s: waiting for an authInfo, retried without one", reason)
		tr.State = store.TransferForbidden
		got, _ = decidePreflight(cfg, now, tr)
		require.Equal(t, preflightSkip, got, "%s: final", reason)
	}

	// A shorter configured lock period moves the mark.
	cfg.LockPeriod = 30 * 24 * time.Hour
	tr := store.Transfer{State: store.TransferBlocked, BlockReason: "registered_recently", RegisteredAt: now.Add(-30 * 24 * time.Hour), Deadline: now.Add(time.Hour)}
	got, _ := decidePreflight(cfg, now, tr)
	require.Equal(t, preflightCall, got)
}
