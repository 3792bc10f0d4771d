package worker

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/regsync/regsync/internal/secret"
	"github.com/regsync/regsync/registrar"
	"github.com/regsync/regsync/store"
)

// TransferConfig is the policy of the blocked-transfer retry.
type TransferConfig struct {
	// LockPeriod is how long after registration (or a previous transfer) a
	// domain may not be transferred; ICANN's policy says 60 days and a
	// proposed revision 30, so it is configuration.
	LockPeriod time.Duration
	// RetryInterval is the time between retries of a transfer blocked for a
	// reason that can clear on its own (no response, already pending, a
	// registry lock, a NACK), and between status checks of a transfer in
	// progress.
	RetryInterval time.Duration
	// ConflictBackoff is the first wait after a "not resettable now"
	// answer; it doubles with each further one, up to RetryInterval.
	ConflictBackoff time.Duration
	// ConfirmDelay is the wait before the status read that confirms an
	// accepted reset.
	ConfirmDelay time.Duration
	// AuthInfoRetryInterval is how often a transfer whose authInfo the
	// registry refused is retried without a new one, until its deadline:
	// the losing registrar may put back the authInfo used before, and then
	// a reset without one goes through.
	AuthInfoRetryInterval time.Duration
}

// DefaultTransferConfig returns the documented defaults.
func DefaultTransferConfig() TransferConfig {
	return TransferConfig{
		LockPeriod:            60 * 24 * time.Hour,
		RetryInterval:         24 * time.Hour,
		ConflictBackoff:       time.Hour,
		ConfirmDelay:          2 * time.Second,
		AuthInfoRetryInterval: 24 * time.Hour,
	}
}

// Validate reports the first setting that cannot work.
func (c TransferConfig) Validate() error {
	if c.LockPeriod <= 0 || c.RetryInterval <= 0 || c.ConflictBackoff <= 0 || c.ConfirmDelay < 0 || c.AuthInfoRetryInterval <= 0 {
		return errors.New("transfer lock period, retry intervals and conflict backoff must be positive")
	}
	return nil
}

// transferStore is what a transfer retry needs from the store.
type transferStore interface {
	Transfer(ctx context.Context, id string) (store.Transfer, error)
	UpdateTransfer(ctx context.Context, transferID string, u store.TransferUpdate) (int64, error)
	FinishTransferAttempt(ctx context.Context, u store.TransferUpdate, a store.TransferAttempt) (store.TransferAttempt, error)
}

// Retrier runs one retry of one blocked transfer: the reason-aware
// scheduling and result handling of the transfer-retry design.
type Retrier struct {
	store    transferStore
	adapters Adapters
	keyring  *secret.Keyring
	cfg      TransferConfig
	metrics  *Metrics
	now      func() time.Time
}

// NewRetrier returns a Retrier calling registrars through adapters.
// keyring opens stored authInfo values.
func NewRetrier(st transferStore, adapters Adapters, keyring *secret.Keyring, cfg TransferConfig, metrics *Metrics) (*Retrier, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Retrier{store: st, adapters: adapters, keyring: keyring, cfg: cfg, metrics: metrics, now: time.Now}, nil
}

// preflight is what to do with a transfer before any registrar call.
type preflight int

const (
	preflightSkip        preflight = iota // final: nothing to do
	preflightExpire                       // past its deadline
	preflightWaitForLock                  // registered too recently
	preflightCall                         // go on to the registrar
)

// decidePreflight decides from the stored transfer alone. A new authInfo
// is worth trying at once, even inside the lock period, because it is
// what the customer just did to unblock the transfer. A transfer waiting
// for an authInfo is called too: the losing registrar may have put back
// the one used before.
func decidePreflight(cfg TransferConfig, now time.Time, t store.Transfer) (preflight, time.Time) {
	switch {
	case t.State.Final():
		return preflightSkip, time.Time{}
	case !now.Before(t.Deadline):
		return preflightExpire, time.Time{}
	case t.BlockReason == "registered_recently" && !t.RegisteredAt.IsZero() && !t.AuthInfoUnsent &&
		now.Before(t.RegisteredAt.Add(cfg.LockPeriod)):
		return preflightWaitForLock, t.RegisteredAt.Add(cfg.LockPeriod)
	default:
		return preflightCall, time.Time{}
	}
}

// resetResult names a registrar call's answer, for the attempt row and
// the metrics.
func resetResult(err error) string {
	switch {
	case err == nil:
		return "accepted"
	case errors.Is(err, registrar.ErrRateLimited):
		return "rate_limited"
	case errors.Is(err, registrar.ErrUnauthorized):
		return "credentials_refused"
	case errors.Is(err, registrar.ErrInvalidRequest):
		return "invalid"
	case errors.Is(err, registrar.ErrForbidden):
		return "forbidden"
	case errors.Is(err, registrar.ErrNotFound):
		return "closed"
	case errors.Is(err, registrar.ErrConflict):
		return "conflict"
	case errors.Is(err, registrar.ErrBadResponse):
		return "unexpected"
	default:
		return "unavailable"
	}
}

// errTransferTransient marks an attempt the job queue should retry.
var errTransferTransient = errors.New("transfer retry failed; will retry")

// Retry runs one retry of the transfer and records it, one attempt row per
// run, also when there was nothing to do. It returns the recorded attempt
// and an error when the job should be retried, snoozed or cancelled, as
// [jobError] maps it. lastAttempt says whether the job queue will not run
// it again. A run cut short by regsync itself, or given back to wait for
// a rate limit slot, before any reset was sent records nothing; one cut
// short after is recorded as interrupted.
func (r *Retrier) Retry(ctx context.Context, transferID string, run Run, lastAttempt bool) (store.TransferAttempt, error) {
	ctx = withRun(ctx, run)
	t, err := r.store.Transfer(ctx, transferID)
	if err != nil {
		return store.TransferAttempt{}, err
	}
	now := r.now()
	a := store.TransferAttempt{
		TransferID: t.ID, Registrar: t.Registrar, StateBefore: t.State,
		JobID: run.JobID, Attempt: run.Attempt, JobAttemptedAt: run.AttemptedAt, StartedAt: now,
	}
	u := store.TransferUpdate{IfVersion: t.Version, State: t.State, NextRetryAt: now.Add(r.cfg.RetryInterval)}
	if t.State == store.TransferWaitingAuthInfo {
		u.NextRetryAt = now.Add(r.cfg.AuthInfoRetryInterval)
	}

	decision, until := decidePreflight(r.cfg, now, t)
	switch decision {
	case preflightSkip:
		// Recorded all the same, so that every job run leaves its row.
		a.Result = "skipped"
		return r.finish(ctx, u, a, nil)
	case preflightExpire:
		a.Result, u.State = "expired", store.TransferExpired
		return r.finish(ctx, u, a, nil)
	case preflightWaitForLock:
		a.Result, u.NextRetryAt = "waiting", until
		return r.finish(ctx, u, a, nil)
	}

	adapter := r.adapters[t.Registrar]
	if adapter.Resetter == nil {
		// Not this transfer's fault: a replica without the registrar's
		// configuration, or a registrar that cannot reset. Keep its state
		// and try again later.
		r.metrics.registrarAccessErrors.WithLabelValues(t.Registrar, accessNotConfigured).Inc()
		a.Result = "not_configured"
		return r.finish(ctx, u, a, fmt.Errorf("%w: %q cannot reset transfers here", ErrNoAdapter, t.Registrar))
	}
	order := registrar.Transfer{Account: t.AccountNumber, DomainName: t.DomainName}

	// Read the status first, where the adapter can: reset only a transfer
	// that is blocked and resettable. A 403 here is no verdict on the
	// transfer: the reset's own answer is.
	if reader := adapter.TransferStatus; reader != nil {
		status, err := reader.ReadTransferStatus(ctx, order)
		switch {
		case err != nil && (ctx.Err() != nil || errors.Is(err, ErrRateLimitWait)):
			return store.TransferAttempt{}, err
		case errors.Is(err, registrar.ErrForbidden):
		case err != nil:
			return r.finishCallError(ctx, t, u, a, err, lastAttempt)
		default:
			a.TransferStatusCode, a.TransferStatus, a.RegistrarRequestID = &status.Code, status.Description, status.RequestID
			switch {
			case status.State == registrar.TransferCompleted:
				a.Result, u.State = "completed", store.TransferCompleted
				return r.finish(ctx, u, a, nil)
			case status.State == registrar.TransferCancelled:
				a.Result, u.State = "cancelled", store.TransferClosed
				return r.finish(ctx, u, a, nil)
			case status.State == registrar.TransferPending:
				a.Result, u.State = "in_progress", store.TransferInProgress
				return r.finish(ctx, u, a, nil)
			case status.State != registrar.TransferBlocked || !status.CanBeReset:
				a.Result, u.CountConflict, u.NextRetryAt = "not_resettable", true, now.Add(r.conflictBackoff(t.Conflicts))
				return r.finish(ctx, u, a, nil)
			}
		}
	}

	authInfo := ""
	if t.AuthInfoUnsent {
		if authInfo, err = store.OpenAuthInfo(r.keyring, t); err != nil {
			// The stored value cannot be used (a key no longer configured):
			// ask for a new one rather than retrying forever.
			a.Result, u.State = "failed", store.TransferWaitingAuthInfo
			return r.finish(ctx, u, a, fmt.Errorf("%w: %w", secret.ErrDecrypt, err))
		}
		a.SentNewAuthInfo = true
	}
	res, err := adapter.Resetter.ResetTransfer(ctx, order, authInfo)
	if errors.Is(err, ErrRateLimitWait) {
		// Nothing was sent: the job comes back for its slot.
		return store.TransferAttempt{}, err
	}
	a.Result = resetResult(err)
	if err != nil && ctx.Err() != nil {
		// The request may have reached the registrar: record that this run
		// cannot tell, and leave the transfer for the next run's status read.
		a.Result = "interrupted"
		return r.finish(context.WithoutCancel(ctx), u, a, err)
	}
	if err != nil {
		return r.finishCallError(ctx, t, u, a, err, lastAttempt)
	}

	// Accepted: record it before anything can cancel this run, so that the
	// authInfo is known to be sent and is never sent again.
	a.HTTPStatus, a.RegistrarRequestID = res.Status, res.RequestID
	accepted := store.TransferUpdate{
		IfVersion: t.Version, State: store.TransferInProgress, CountAttempt: true, AuthInfoSent: a.SentNewAuthInfo,
		NextRetryAt: now.Add(r.cfg.RetryInterval),
	}
	version, err := r.store.UpdateTransfer(context.WithoutCancel(ctx), t.ID, accepted)
	if errors.Is(err, store.ErrTransferChanged) {
		return r.finish(context.WithoutCancel(ctx), accepted, a, nil)
	}
	if err != nil {
		return store.TransferAttempt{}, err
	}
	u = store.TransferUpdate{IfVersion: version, State: store.TransferInProgress, NextRetryAt: accepted.NextRetryAt}
	reader := adapter.TransferStatus
	if reader == nil {
		return r.finish(ctx, u, a, nil)
	}
	// The double sync of a reset: the registry should now show the
	// transfer pending again.
	a.DoubleSyncAttempted = true
	status, err := readAfter(ctx, r.cfg.ConfirmDelay, func() (registrar.TransferStatus, error) { return reader.ReadTransferStatus(ctx, order) })
	switch {
	case err != nil && ctx.Err() != nil:
		a.DoubleSyncError = text(fmt.Sprintf("confirming status read interrupted: %v; the next retry reads the status again", err))
		return r.finish(context.WithoutCancel(ctx), u, a, nil)
	case err != nil:
		a.DoubleSyncError = text(fmt.Sprintf("confirming status read failed: %v", err))
	case status.State == registrar.TransferPending || status.State == registrar.TransferCompleted:
		a.DoubleSyncSucceeded = true
	default:
		a.DoubleSyncError = text(fmt.Sprintf("registrar accepted the reset but reports the transfer %s (%d %s)", status.State, status.Code, status.Description))
		u.State = store.TransferBlocked
	}
	return r.finish(ctx, u, a, nil)
}

// readAfter waits delay, then reads; a wait cut short returns ctx's error.
func readAfter[T any](ctx context.Context, delay time.Duration, read func() (T, error)) (T, error) {
	if err := sleep(ctx, delay); err != nil {
		var zero T
		return zero, err
	}
	return read()
}

// finishCallError records an attempt whose registrar call failed and
// decides what becomes of the transfer and the job.
func (r *Retrier) finishCallError(ctx context.Context, t store.Transfer, u store.TransferUpdate, a store.TransferAttempt, callErr error, lastAttempt bool) (store.TransferAttempt, error) {
	var apiErr *registrar.APIError
	if errors.As(callErr, &apiErr) {
		a.HTTPStatus = apiErr.Status
		if apiErr.RequestID != "" {
			a.RegistrarRequestID = apiErr.RequestID
		}
	}
	a.Result = resetResult(callErr)
	now := r.now()
	var jobErr error
	switch a.Result {
	case "invalid":
		// The registry refused the authInfo or another parameter: a new
		// authInfo is needed, or the losing registrar must put back the
		// one used before, so retry slowly. A new one that was refused is
		// reverted to the value the registrar still has.
		u.State, u.CountAttempt, u.RevertAuthInfo = store.TransferWaitingAuthInfo, true, a.SentNewAuthInfo
		u.NextRetryAt = now.Add(r.cfg.AuthInfoRetryInterval)
	case "forbidden":
		u.State, u.CountAttempt = store.TransferForbidden, true
	case "closed":
		u.State = store.TransferClosed
	case "conflict":
		// Pending but not resettable now: not a failure, and it does not
		// burn the job's attempts.
		u.CountConflict, u.NextRetryAt = true, now.Add(r.conflictBackoff(t.Conflicts))
	case "rate_limited", "credentials_refused":
		// Not the transfer's fault: its state stays, and the job is given
		// back to run later.
		jobErr = callErr
	case "unexpected":
		u.CountAttempt = true
		if lastAttempt {
			u.State = store.TransferFailed
		}
		jobErr = fmt.Errorf("%w: %w", errTransferTransient, callErr)
	default: // unavailable: 5xx, timeouts, connection errors
		u.CountAttempt = true
		jobErr = fmt.Errorf("%w: %w", errTransferTransient, callErr)
	}
	return r.finish(ctx, u, a, jobErr)
}

// finish records the attempt and counts it; cause is returned for the job.
// When the attempt cannot be recorded, it returns the write's error, with
// cause only in its message: a job must not end on an answer that nothing
// recorded.
func (r *Retrier) finish(ctx context.Context, u store.TransferUpdate, a store.TransferAttempt, cause error) (store.TransferAttempt, error) {
	if cause != nil {
		a.Error = text(cause.Error())
	}
	a.FinishedAt = r.now()
	recorded, err := r.store.FinishTransferAttempt(ctx, u, a)
	if err != nil && cause != nil {
		return store.TransferAttempt{}, fmt.Errorf("record the attempt (%v): %w", cause, err)
	}
	if err != nil {
		return store.TransferAttempt{}, err
	}
	if recorded.RevertAttempted {
		r.metrics.authInfoReverts.WithLabelValues(fmt.Sprint(recorded.RevertSucceeded)).Inc()
	}
	return recorded, cause
}

// conflictBackoff is the wait after a transfer's next "not resettable
// now" answer, when it had conflicts of them before: ConflictBackoff,
// doubled for each, up to RetryInterval.
func (r *Retrier) conflictBackoff(conflicts int) time.Duration {
	wait := r.cfg.ConflictBackoff
	for range min(conflicts, 16) {
		wait *= 2
	}
	return min(wait, r.cfg.RetryInterval)
}
