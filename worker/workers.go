package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/regsync/regsync/internal/secret"
	"github.com/regsync/regsync/registrar"
	"github.com/regsync/regsync/store"
)

// TransferRetryWorker runs transfer_retry jobs.
type TransferRetryWorker struct {
	river.WorkerDefaults[TransferRetryArgs]
	retrier *Retrier
	metrics *Metrics
	policy  errorPolicy
}

// NewTransferRetryWorker returns a worker running retries with retrier;
// maxRetryDelay caps the wait of a job given back for the operator's
// problems.
func NewTransferRetryWorker(retrier *Retrier, metrics *Metrics, maxRetryDelay time.Duration) *TransferRetryWorker {
	return &TransferRetryWorker{retrier: retrier, metrics: metrics, policy: errorPolicy{maxRetryDelay: maxRetryDelay}}
}

// Work retries the job's transfer and records the attempt as the job's
// output.
func (w *TransferRetryWorker) Work(ctx context.Context, job *river.Job[TransferRetryArgs]) error {
	attempt, err := w.retrier.Retry(ctx, job.Args.TransferID, jobRun(job.JobRow), job.Attempt >= job.MaxAttempts)
	if attempt.TransferID != "" {
		if recErr := river.RecordOutput(ctx, attempt); recErr != nil {
			return errors.Join(err, fmt.Errorf("record job output: %w", recErr))
		}
	}
	if errors.Is(err, store.ErrTransferNotFound) {
		w.metrics.jobsRejected.WithLabelValues(job.Kind, "unknown_transfer").Inc()
	}
	return w.policy.jobError(err, snoozes(job.JobRow))
}

// StatusSyncWorker runs status_sync jobs.
type StatusSyncWorker struct {
	river.WorkerDefaults[StatusSyncArgs]
	syncer  *Syncer
	metrics *Metrics
	policy  errorPolicy
}

// NewStatusSyncWorker returns a worker running syncs with syncer;
// maxRetryDelay caps the wait of a job given back for the operator's
// problems.
func NewStatusSyncWorker(syncer *Syncer, metrics *Metrics, maxRetryDelay time.Duration) *StatusSyncWorker {
	return &StatusSyncWorker{syncer: syncer, metrics: metrics, policy: errorPolicy{maxRetryDelay: maxRetryDelay}}
}

// Work syncs the job's domain, records the outcome as the job's output,
// and maps failures to River's retry, snooze and cancel.
func (w *StatusSyncWorker) Work(ctx context.Context, job *river.Job[StatusSyncArgs]) error {
	outcome, err := w.syncer.Sync(ctx, job.Args.DomainID, jobRun(job.JobRow))
	if outcome.ID != "" {
		if recErr := river.RecordOutput(ctx, outcome); recErr != nil {
			return errors.Join(err, fmt.Errorf("record job output: %w", recErr))
		}
	}
	if errors.Is(err, store.ErrDomainNotFound) {
		w.metrics.jobsRejected.WithLabelValues(job.Kind, "unknown_domain").Inc()
	}
	return w.policy.jobError(err, snoozes(job.JobRow))
}

// snoozes is how often the job was given back before this run, as River
// counts it in the job's metadata.
func snoozes(job *rivertype.JobRow) int {
	var m struct {
		Snoozes int `json:"snoozes"`
	}
	_ = json.Unmarshal(job.Metadata, &m) // River writes it; absent is zero
	return m.Snoozes
}

// jobRun identifies the River job run.
func jobRun(job *rivertype.JobRow) Run {
	run := Run{JobID: job.ID, Attempt: job.Attempt}
	if job.AttemptedAt != nil {
		run.AttemptedAt = *job.AttemptedAt
	}
	return run
}

// defaultSnooze is how long a rate-limited job waits when the registrar
// did not say.
const defaultSnooze = 30 * time.Second

// errorPolicy maps what a job run returned to what River does with the
// job.
type errorPolicy struct {
	// maxRetryDelay caps the wait of a job given back for the operator's
	// problems.
	maxRetryDelay time.Duration
}

// jobError maps a run's error to what River should do with the job, which
// was given back snoozes times before:
//
//   - snooze, without burning an attempt: a guarded change waiting for its
//     double sync, a request waiting for a far slot of the shared rate
//     limit, a registrar's rate limit for its Retry-After, and the operator's
//     problems (refused credentials, no adapter configured here) for a wait
//     that doubles with each snooze up to maxRetryDelay, so that an outage
//     never ends the job and is not hammered;
//   - cancel, when running again cannot help: an unknown domain or
//     transfer, a permanent registrar answer, an authInfo that cannot be
//     opened;
//   - retry with River's backoff: everything else.
func (p errorPolicy) jobError(err error, snoozes int) error {
	var later *ConfirmLaterError
	var slot *RateLimitWaitError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &later):
		return river.JobSnooze(later.Wait)
	case errors.As(err, &slot):
		return river.JobSnooze(slot.snooze())
	case errors.Is(err, registrar.ErrRateLimited):
		wait, ok := registrar.RetryAfter(err)
		if !ok {
			wait = defaultSnooze
		}
		return river.JobSnooze(wait)
	case errors.Is(err, registrar.ErrUnauthorized), errors.Is(err, ErrNoAdapter):
		return river.JobSnooze(min(p.maxRetryDelay, time.Second<<min(snoozes, 16)))
	case errors.Is(err, store.ErrDomainNotFound), errors.Is(err, store.ErrTransferNotFound),
		errors.Is(err, secret.ErrDecrypt), registrar.IsPermanent(err):
		return river.JobCancel(err)
	default:
		return err
	}
}
