package worker

import (
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
}

func (m *memoryTransfers) Transfer(_ context.Context, id string) (store.Transfer, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if id != m.transfer.ID {
		return store.Transfer{}, store.ErrTransferNotFound
	}
	return m.transfer, nil
}

func (m *memoryTransfers) FinishTransferAttempt(_ context.Context, u store.TransferUpdate, a store.TransferAttempt) (store.TransferAttempt, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t := &m.transfer
	if u.RevertAuthInfo {
		a.RevertAttempted = true
		a.RevertSucceeded = t.AuthInfoVersion == u.AuthInfoVersion
		if a.RevertSucceeded {
			t.AuthInfo, t.HasPreviousAuthInfo, t.AuthInfoUnsent = nil, false, false
			t.AuthInfoVersion++
			u.AuthInfoVersion++
		}
	}
	t.State = u.State
	if u.CountAttempt {
		t.Attempts++
	}
	if u.CountConflict {
		t.Conflicts++
	}
	t.NextRetryAt = u.NextRetryAt
	if u.AuthInfoSent && t.AuthInfoVersion == u.AuthInfoVersion {
		t.AuthInfoUnsent = false
	}
	t.LastResult = a.Result
	a.StateAfter = t.State
	m.attempts = append(m.attempts, a)
	return a, nil
}

// transferRegistrar answers resets and status reads from scripts; the last
// entry repeats.
type transferRegistrar struct {
	mu        sync.Mutex
	resets    []error
	statuses  []registrar.TransferStatus
	resetN    int
	statusN   int
	authInfos []string
}

func (r *transferRegistrar) Name() string { return "scripted" }

func (r *transferRegistrar) ReadStatus(context.Context, registrar.Domain) (registrar.StatusReading, error) {
	return registrar.StatusReading{}, errors.New("not used")
}

func (r *transferRegistrar) ResetTransfer(_ context.Context, _ registrar.Transfer, authInfo string) (registrar.ResetResult, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	err := r.resets[min(r.resetN, len(r.resets)-1)]
	r.resetN++
	r.authInfos = append(r.authInfos, authInfo)
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
	return s, nil
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
		newAuth    bool
		canRead    bool
		statuses   []registrar.TransferStatus
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
		{name: "any 2xx accepted, confirmed by a status read", canRead: true, statuses: []registrar.TransferStatus{resettable, pending}, resets: []error{nil},
			wantResult: "accepted", wantState: store.TransferInProgress, wantCalls: 1, wantAttempts: 1, wantDouble: "ok"},
		{name: "accepted reset contradicted by the status read", canRead: true, statuses: []registrar.TransferStatus{resettable, notResettable}, resets: []error{nil},
			wantResult: "accepted", wantState: store.TransferBlocked, wantCalls: 1, wantAttempts: 1, wantDouble: `reports the transfer blocked (4 locked)`},
		{name: "400 without a new authInfo waits for one", resets: []error{apiErr(400)}, wantResult: "invalid", wantState: store.TransferWaitingAuthInfo, wantCalls: 1, wantAttempts: 1},
		{name: "400 with a new authInfo reverts it", newAuth: true, resets: []error{apiErr(400)}, wantResult: "invalid", wantState: store.TransferWaitingAuthInfo, wantCalls: 1, wantAttempts: 1, wantRevert: true},
		{name: "403 belongs to another account", resets: []error{apiErr(403)}, wantResult: "forbidden", wantState: store.TransferForbidden, wantCalls: 1, wantAttempts: 1},
		{name: "404 no pending order closes it", resets: []error{apiErr(404)}, wantResult: "closed", wantState: store.TransferClosed, wantCalls: 1},
		{name: "409 backs off without burning attempts", resets: []error{apiErr(409)}, wantResult: "conflict", wantState: store.TransferBlocked, wantCalls: 1, wantNext: now.Add(cfg.ConflictBackoff)},
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
		{name: "waiting for an authInfo does nothing", state: store.TransferWaitingAuthInfo, resets: []error{nil}, wantResult: "skipped", wantState: store.TransferWaitingAuthInfo},
		{name: "a final transfer does nothing", state: store.TransferClosed, resets: []error{nil}, wantResult: "skipped", wantState: store.TransferClosed},
		{name: "status completed", canRead: true, statuses: []registrar.TransferStatus{completed}, resets: []error{nil}, wantResult: "completed", wantState: store.TransferCompleted},
		{name: "status cancelled closes it", canRead: true, statuses: []registrar.TransferStatus{cancelled}, resets: []error{nil}, wantResult: "cancelled", wantState: store.TransferClosed},
		{name: "status pending needs no reset", canRead: true, statuses: []registrar.TransferStatus{pending}, resets: []error{nil}, wantResult: "in_progress", wantState: store.TransferInProgress},
		{name: "blocked but not resettable is not reset", canRead: true, statuses: []registrar.TransferStatus{notResettable}, resets: []error{nil},
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
				AuthInfoVersion: 3,
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
			var adapter registrar.Registrar = base
			if tt.canRead {
				adapter = statusReadingRegistrar{base}
			}
			metrics := NewMetrics(prometheus.NewRegistry())
			r, err := NewRetrier(st, map[string]registrar.Registrar{"scripted": adapter}, keyring, cfg, nil, metrics)
			require.NoError(t, err)
			r.now = func() time.Time { return now }

			got, err := r.Retry(context.Background(), "trf_1", Run{JobID: 7, Attempt: 1}, tt.last)
			if tt.wantJobErr != nil {
				require.ErrorIs(t, errors.Join(err, jobError(err)), tt.wantJobErr)
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
	r, err := NewRetrier(&memoryTransfers{}, nil, nil, cfg, nil, NewMetrics(prometheus.NewRegistry()))
	require.NoError(t, err)
	require.Equal(t, time.Hour, r.conflictBackoff(0))
	require.Equal(t, 2*time.Hour, r.conflictBackoff(1))
	require.Equal(t, 16*time.Hour, r.conflictBackoff(4))
	require.Equal(t, cfg.RetryInterval, r.conflictBackoff(5))
	require.Equal(t, cfg.RetryInterval, r.conflictBackoff(1000))
}

func TestRetryWithoutTransferCapability(t *testing.T) {
	t.Parallel()
	st := &memoryTransfers{transfer: store.Transfer{ID: "trf_1", Registrar: "statusonly", State: store.TransferBlocked, Deadline: time.Now().Add(time.Hour)}}
	r, err := NewRetrier(st, map[string]registrar.Registrar{"statusonly": &scriptedRegistrar{}}, nil, DefaultTransferConfig(), nil, NewMetrics(prometheus.NewRegistry()))
	require.NoError(t, err)
	_, err = r.Retry(context.Background(), "trf_1", Run{}, false)
	require.ErrorIs(t, err, ErrNoAdapter)
	require.ErrorIs(t, jobError(err), &rivertype.JobCancelError{})
	require.Equal(t, store.TransferFailed, st.transfer.State)
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
	r, err := NewRetrier(st, map[string]registrar.Registrar{"scripted": base}, newRing, DefaultTransferConfig(), nil, NewMetrics(prometheus.NewRegistry()))
	require.NoError(t, err)

	got, err := r.Retry(context.Background(), "trf_1", Run{}, false)
	require.ErrorIs(t, err, secret.ErrDecrypt)
	require.ErrorIs(t, jobError(err), &rivertype.JobCancelError{})
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

		tr.Deadline, tr.State = now.Add(time.Hour), store.TransferWaitingAuthInfo
		got, _ = decidePreflight(cfg, now, tr)
		require.Equal(t, preflightSkip, got, "%s: waiting for an authInfo", reason)
		tr.AuthInfoUnsent = true
		got, _ = decidePreflight(cfg, now, tr)
		require.Equal(t, preflightCall, got, "%s: a new authInfo is tried at once", reason)
	}

	// A shorter configured lock period moves the mark.
	cfg.LockPeriod = 30 * 24 * time.Hour
	tr := store.Transfer{State: store.TransferBlocked, BlockReason: "registered_recently", RegisteredAt: now.Add(-30 * 24 * time.Hour), Deadline: now.Add(time.Hour)}
	got, _ := decidePreflight(cfg, now, tr)
	require.Equal(t, preflightCall, got)
}
