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
}

// DefaultTransferConfig returns the documented defaults.
func DefaultTransferConfig() TransferConfig {
	return TransferConfig{
		LockPeriod:      60 * 24 * time.Hour,
		RetryInterval:   24 * time.Hour,
		ConflictBackoff: time.Hour,
		ConfirmDelay:    2 * time.Second,
	}
}

// Validate reports the first setting that cannot work.
func (c TransferConfig) Validate() error {
	if c.LockPeriod <= 0 || c.RetryInterval <= 0 || c.ConflictBackoff <= 0 || c.ConfirmDelay < 0 {
		return errors.New("transfer lock period, retry interval and conflict backoff must be positive")
	}
	return nil
}

// transferStore is what a transfer retry needs from the store.
type transferStore interface {
	Transfer(ctx context.Context, id string) (store.Transfer, error)
	FinishTransferAttempt(ctx context.Context, u store.TransferUpdate, a store.TransferAttempt) (store.TransferAttempt, error)
}

// Retrier runs one retry of one blocked transfer: the reason-aware
// scheduling and result handling of the transfer-retry design.
type Retrier struct {
	store      transferStore
	registrars map[string]registrar.Registrar
	keyring    *secret.Keyring
	cfg        TransferConfig
	limiter    *RateLimiter
	metrics    *Metrics
	now        func() time.Time
}

// NewRetrier returns a Retrier. keyring opens stored authInfo values;
// limiter (nil: unlimited) paces registrar requests.
func NewRetrier(st transferStore, registrars map[string]registrar.Registrar, keyring *secret.Keyring, cfg TransferConfig, limiter *RateLimiter, metrics *Metrics) (*Retrier, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Retrier{store: st, registrars: registrars, keyring: keyring, cfg: cfg, limiter: limiter, metrics: metrics, now: time.Now}, nil
}

// preflight is what to do with a transfer before any registrar call.
type preflight int

const (
	preflightSkip        preflight = iota // final, or waiting for an authInfo: nothing to do
	preflightExpire                       // past its deadline
	preflightWaitForLock                  // registered too recently
	preflightCall                         // go on to the registrar
)

// decidePreflight decides from the stored transfer alone. A new authInfo
// is worth trying at once, even inside the lock period, because it is
// what the customer just did to unblock the transfer.
func decidePreflight(cfg TransferConfig, now time.Time, t store.Transfer) (preflight, time.Time) {
	switch {
	case t.State.Final():
		return preflightSkip, time.Time{}
	case !now.Before(t.Deadline):
		return preflightExpire, time.Time{}
	case t.State == store.TransferWaitingAuthInfo && !t.AuthInfoUnsent:
		return preflightSkip, time.Time{}
	case t.BlockReason == "registered_recently" && !t.RegisteredAt.IsZero() && !t.AuthInfoUnsent &&
		now.Before(t.RegisteredAt.Add(cfg.LockPeriod)):
		return preflightWaitForLock, t.RegisteredAt.Add(cfg.LockPeriod)
	default:
		return preflightCall, time.Time{}
	}
}

// resetResult names a reset call's answer, for the attempt row and the
// metrics.
func resetResult(err error) string {
	switch {
	case err == nil:
		return "accepted"
	case errors.Is(err, registrar.ErrRateLimited):
		return "rate_limited"
	case errors.Is(err, registrar.ErrInvalidRequest):
		return "invalid"
	case errors.Is(err, registrar.ErrForbidden), errors.Is(err, registrar.ErrUnauthorized):
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

// Retry runs one retry of the transfer and records it, also when there
// was nothing to do. It returns the recorded attempt and an error when
// the job should be retried, snoozed or cancelled, as [jobError] maps it.
// lastAttempt says whether the job queue will not run it again.
func (r *Retrier) Retry(ctx context.Context, transferID string, run Run, lastAttempt bool) (store.TransferAttempt, error) {
	t, err := r.store.Transfer(ctx, transferID)
	if err != nil {
		return store.TransferAttempt{}, err
	}
	now := r.now()
	a := store.TransferAttempt{
		TransferID: t.ID, Registrar: t.Registrar, StateBefore: t.State,
		JobID: run.JobID, Attempt: run.Attempt, JobAttemptedAt: run.AttemptedAt, StartedAt: now,
	}
	u := store.TransferUpdate{State: t.State, AuthInfoVersion: t.AuthInfoVersion, NextRetryAt: now.Add(r.cfg.RetryInterval)}

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

	adapter, ok := r.registrars[t.Registrar]
	resetter, canReset := adapter.(registrar.TransferResetter)
	if !ok || !canReset {
		err := fmt.Errorf("%w: %q cannot reset transfers", ErrNoAdapter, t.Registrar)
		a.Result, u.State = "failed", store.TransferFailed
		return r.finish(ctx, u, a, err)
	}
	order := registrar.Transfer{Account: t.AccountNumber, DomainName: t.DomainName}
	reader, canRead := adapter.(registrar.TransferStatusReader)

	// Read the status first, where the adapter can: reset only a transfer
	// that is blocked and resettable.
	if canRead {
		status, err := r.readStatus(ctx, reader, order)
		if err != nil {
			return r.finishCallError(ctx, u, a, err, lastAttempt)
		}
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
	res, err := r.reset(ctx, resetter, order, authInfo)
	a.Result = resetResult(err)
	if err != nil {
		return r.finishCallError(ctx, u, a, err, lastAttempt)
	}

	a.HTTPStatus, a.RegistrarRequestID = res.Status, res.RequestID
	u.State, u.CountAttempt, u.AuthInfoSent = store.TransferInProgress, true, a.SentNewAuthInfo
	if canRead {
		// The double sync of a reset: the registry should now show the
		// transfer pending again.
		a.DoubleSyncAttempted = true
		if err := sleep(ctx, r.cfg.ConfirmDelay); err != nil {
			return store.TransferAttempt{}, err
		}
		status, err := r.readStatus(ctx, reader, order)
		switch {
		case err != nil:
			a.DoubleSyncError = text(fmt.Sprintf("confirming status read failed: %v", err))
		case status.State == registrar.TransferPending || status.State == registrar.TransferCompleted:
			a.DoubleSyncSucceeded = true
		default:
			a.DoubleSyncError = text(fmt.Sprintf("registrar accepted the reset but reports the transfer %s (%d %s)", status.State, status.Code, status.Description))
			u.State = store.TransferBlocked
		}
	}
	return r.finish(ctx, u, a, nil)
}

// finishCallError records an attempt whose registrar call failed and
// decides what becomes of the transfer and the job.
func (r *Retrier) finishCallError(ctx context.Context, u store.TransferUpdate, a store.TransferAttempt, callErr error, lastAttempt bool) (store.TransferAttempt, error) {
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
		// The registry refused the authInfo or another parameter: nothing
		// changes until a new authInfo arrives. A new one that was refused
		// is reverted to the value the registrar still has.
		u.State, u.CountAttempt, u.RevertAuthInfo = store.TransferWaitingAuthInfo, true, a.SentNewAuthInfo
	case "forbidden":
		u.State, u.CountAttempt = store.TransferForbidden, true
	case "closed":
		u.State = store.TransferClosed
	case "conflict":
		// Pending but not resettable now: not a failure, and it does not
		// burn the job's attempts.
		u.CountConflict, u.NextRetryAt = true, now.Add(r.conflictBackoff(0))
	case "rate_limited":
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
func (r *Retrier) finish(ctx context.Context, u store.TransferUpdate, a store.TransferAttempt, cause error) (store.TransferAttempt, error) {
	if cause != nil {
		a.Error = text(cause.Error())
	}
	a.FinishedAt = r.now()
	recorded, err := r.store.FinishTransferAttempt(ctx, u, a)
	if err != nil {
		return store.TransferAttempt{}, errors.Join(cause, err)
	}
	if recorded.RevertAttempted {
		r.metrics.authInfoReverts.WithLabelValues(fmt.Sprint(recorded.RevertSucceeded)).Inc()
	}
	return recorded, cause
}

func (r *Retrier) conflictBackoff(conflicts int) time.Duration {
	wait := r.cfg.ConflictBackoff
	for range min(conflicts, 16) {
		wait *= 2
	}
	return min(wait, r.cfg.RetryInterval)
}

func (r *Retrier) readStatus(ctx context.Context, reader registrar.TransferStatusReader, order registrar.Transfer) (registrar.TransferStatus, error) {
	if err := r.limiter.Wait(ctx, adapterName(reader)); err != nil {
		return registrar.TransferStatus{}, err
	}
	start := time.Now()
	status, err := reader.ReadTransferStatus(ctx, order)
	r.metrics.registrarDuration.WithLabelValues(adapterName(reader), "read_transfer_status", answerCode(err)).Observe(time.Since(start).Seconds())
	return status, err
}

func (r *Retrier) reset(ctx context.Context, resetter registrar.TransferResetter, order registrar.Transfer, authInfo string) (registrar.ResetResult, error) {
	if err := r.limiter.Wait(ctx, adapterName(resetter)); err != nil {
		return registrar.ResetResult{}, err
	}
	start := time.Now()
	res, err := resetter.ResetTransfer(ctx, order, authInfo)
	name := adapterName(resetter)
	r.metrics.registrarDuration.WithLabelValues(name, "reset_transfer", answerCode(err)).Observe(time.Since(start).Seconds())
	r.metrics.transferResets.WithLabelValues(name, resetResult(err)).Inc()
	return res, err
}

func adapterName(adapter any) string {
	if named, ok := adapter.(interface{ Name() string }); ok {
		return named.Name()
	}
	return "unknown"
}
