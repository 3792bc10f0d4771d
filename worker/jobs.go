package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/regsync/regsync/internal/secret"
	"github.com/regsync/regsync/registrar"
	"github.com/regsync/regsync/store"
)

// Queues regsync's workers take jobs from.
const (
	// QueueStatusSync holds the status_sync jobs.
	QueueStatusSync = "status_sync"
	// QueueTransferRetry holds the transfer_retry jobs.
	QueueTransferRetry = "transfer_retry"
	// QueueSweep holds the periodic sweeps.
	QueueSweep = "sweep"
)

// Priorities of status_sync jobs: a sync someone asked for goes before the
// sweep's routine ones.
const (
	PriorityOnDemand = 1
	PrioritySweep    = 2
)

// pendingStates are the job states in which a job counts as already
// pending for uniqueness. Completed is left out on purpose: River keeps
// completed jobs for a day, and a finished sync must not block the next.
var pendingStates = []rivertype.JobState{
	rivertype.JobStateAvailable,
	rivertype.JobStatePending,
	rivertype.JobStateRetryable,
	rivertype.JobStateRunning,
	rivertype.JobStateScheduled,
}

// StatusSyncArgs are the args of a status_sync job. Their JSON form,
// {"domain_id": "dom_..."}, is a public contract: regsync.enqueue_status_sync
// builds the same job in SQL, with the same unique key.
type StatusSyncArgs struct {
	DomainID string `json:"domain_id" river:"unique"`
}

// Kind is the River job kind.
func (StatusSyncArgs) Kind() string { return "status_sync" }

// InsertOpts makes at most one status_sync job per domain pending at a
// time, across every process and the SQL enqueue function.
func (StatusSyncArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{
		Queue:       QueueStatusSync,
		MaxAttempts: 10,
		Priority:    PriorityOnDemand,
		UniqueOpts:  river.UniqueOpts{ByArgs: true, ByState: pendingStates},
	}
}

// InvalidArgsError means a job's args could not be decoded or are invalid.
// Such a job is cancelled at once: running it again cannot help.
type InvalidArgsError struct {
	Kind string
	Err  error
}

func (e *InvalidArgsError) Error() string {
	return fmt.Sprintf("invalid %s job args: %v", e.Kind, e.Err)
}

func (e *InvalidArgsError) Unwrap() error { return e.Err }

// UnmarshalJSON decodes the args strictly (no unknown fields, a string
// domain id) and validates the id, returning an [*InvalidArgsError].
func (a *StatusSyncArgs) UnmarshalJSON(data []byte) error {
	id, err := decodeIDArgs(data, a.Kind(), "domain_id", store.ValidateDomainID)
	a.DomainID = id
	return err
}

// decodeIDArgs decodes job args that are exactly {"<field>": "<id>"} and
// validates the id, returning an [*InvalidArgsError] saying what is wrong.
func decodeIDArgs(data []byte, kind, field string, validate func(string) error) (string, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(data, &fields); err != nil {
		return "", &InvalidArgsError{Kind: kind, Err: err}
	}
	for name := range fields {
		if name != field {
			return "", &InvalidArgsError{Kind: kind, Err: fmt.Errorf("unknown field %q", name)}
		}
	}
	raw, ok := fields[field]
	if !ok || string(raw) == "null" {
		return "", &InvalidArgsError{Kind: kind, Err: fmt.Errorf("missing %q", field)}
	}
	var id string
	if err := json.Unmarshal(raw, &id); err != nil {
		return "", &InvalidArgsError{Kind: kind, Err: fmt.Errorf("%q: %w", field, err)}
	}
	if err := validate(id); err != nil {
		return "", &InvalidArgsError{Kind: kind, Err: err}
	}
	return id, nil
}

// TransferRetryArgs are the args of a transfer_retry job, {"transfer_id":
// "trf_..."}, a public contract like [StatusSyncArgs]: the SQL function
// regsync.enqueue_transfer_retry builds the same job. A new authInfo never
// travels in job args; it is stored encrypted first.
type TransferRetryArgs struct {
	TransferID string `json:"transfer_id" river:"unique"`
}

// Kind is the River job kind.
func (TransferRetryArgs) Kind() string { return "transfer_retry" }

// InsertOpts makes at most one transfer_retry job per transfer pending.
func (TransferRetryArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{
		Queue:       QueueTransferRetry,
		MaxAttempts: 10,
		Priority:    PriorityOnDemand,
		UniqueOpts:  river.UniqueOpts{ByArgs: true, ByState: pendingStates},
	}
}

// UnmarshalJSON decodes and validates the args like
// [StatusSyncArgs.UnmarshalJSON].
func (a *TransferRetryArgs) UnmarshalJSON(data []byte) error {
	id, err := decodeIDArgs(data, a.Kind(), "transfer_id", store.ValidateTransferID)
	a.TransferID = id
	return err
}

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
//     double sync, a rate limit for its Retry-After, and the operator's
//     problems (refused credentials, no adapter configured here) for a wait
//     that doubles with each snooze up to maxRetryDelay, so that an outage
//     never ends the job and is not hammered;
//   - cancel, when running again cannot help: an unknown domain or
//     transfer, a permanent registrar answer, an authInfo that cannot be
//     opened;
//   - retry with River's backoff: everything else.
func (p errorPolicy) jobError(err error, snoozes int) error {
	var later *ConfirmLaterError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &later):
		return river.JobSnooze(later.Wait)
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

// jobMetricsMiddleware times every job run by kind and result, and cancels
// jobs whose args cannot be decoded, so a bad row inserted by hand ends at
// once with a clear error instead of burning retries.
type jobMetricsMiddleware struct {
	river.MiddlewareDefaults
	metrics *Metrics
}

// Work implements [rivertype.WorkerMiddleware].
func (m *jobMetricsMiddleware) Work(ctx context.Context, job *rivertype.JobRow, doInner func(context.Context) error) error {
	start := time.Now()
	err := doInner(ctx)
	var invalid *InvalidArgsError
	if errors.As(err, &invalid) {
		m.metrics.jobsRejected.WithLabelValues(job.Kind, "invalid_args").Inc()
		err = river.JobCancel(err)
	}
	m.metrics.jobDuration.WithLabelValues(job.Kind, jobResult(err)).Observe(time.Since(start).Seconds())
	return err
}

// jobResult names a job run's result for metrics.
func jobResult(err error) string {
	var snooze *rivertype.JobSnoozeError
	switch {
	case err == nil:
		return "completed"
	case errors.Is(err, &rivertype.JobCancelError{}):
		return "cancelled"
	case errors.As(err, &snooze):
		return "snoozed"
	default:
		return "failed"
	}
}

// SweepArgs are the args of the periodic sweep that enqueues a status_sync
// job for every due domain and a transfer_retry job for every due
// transfer.
type SweepArgs struct{}

// Kind is the River job kind.
func (SweepArgs) Kind() string { return "sweep" }

// InsertOpts keeps at most one sweep pending.
func (SweepArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{
		Queue:       QueueSweep,
		MaxAttempts: 3,
		UniqueOpts:  river.UniqueOpts{ByState: pendingStates},
	}
}

// SweepConfig sizes the sweep.
type SweepConfig struct {
	// Interval is how often the leader runs the sweep.
	Interval time.Duration
	// BatchSize is how many domains one transaction claims and enqueues.
	BatchSize int
	// Lease is how long a claimed domain is not due again, covering the
	// time its job takes; the sync sets the real next time when it ends.
	Lease time.Duration
}

// DefaultSweepConfig returns the documented defaults.
func DefaultSweepConfig() SweepConfig {
	return SweepConfig{Interval: time.Minute, BatchSize: 1000, Lease: time.Hour}
}

// SweepWorker runs the sweep.
type SweepWorker struct {
	river.WorkerDefaults[SweepArgs]
	store   *store.Store
	cfg     SweepConfig
	metrics *Metrics
}

// NewSweepWorker returns the sweep worker.
func NewSweepWorker(st *store.Store, cfg SweepConfig, metrics *Metrics) *SweepWorker {
	return &SweepWorker{store: st, cfg: cfg, metrics: metrics}
}

// Work enqueues the jobs of every due domain and transfer.
func (w *SweepWorker) Work(ctx context.Context, job *river.Job[SweepArgs]) error {
	client, err := river.ClientFromContextSafely[pgx.Tx](ctx)
	if err != nil {
		return err
	}
	_, domainsErr := SweepDueDomains(ctx, w.store, client, w.cfg, w.metrics)
	_, transfersErr := SweepDueTransfers(ctx, w.store, client, w.cfg, w.metrics)
	return errors.Join(domainsErr, transfersErr)
}

// SweepDueDomains enqueues a status_sync job for every domain due now, in
// batches, and returns how many domains it claimed. Jobs already pending
// for a domain are kept; the unique key drops the duplicate.
func SweepDueDomains(ctx context.Context, st *store.Store, client *river.Client[pgx.Tx], cfg SweepConfig, metrics *Metrics) (int, error) {
	return sweepDue(ctx, st, client, cfg, metrics, store.ClaimDueDomains,
		func(id string) river.JobArgs { return StatusSyncArgs{DomainID: id} })
}

// SweepDueTransfers enqueues a transfer_retry job for every transfer due
// now, like [SweepDueDomains].
func SweepDueTransfers(ctx context.Context, st *store.Store, client *river.Client[pgx.Tx], cfg SweepConfig, metrics *Metrics) (int, error) {
	return sweepDue(ctx, st, client, cfg, metrics, store.ClaimDueTransfers,
		func(id string) river.JobArgs { return TransferRetryArgs{TransferID: id} })
}

// sweepDue claims due rows batch by batch with claim and enqueues the job
// newArgs builds for each, in the claiming transaction, until none are due.
func sweepDue(ctx context.Context, st *store.Store, client *river.Client[pgx.Tx], cfg SweepConfig, metrics *Metrics,
	claim func(context.Context, pgx.Tx, int, time.Duration) ([]string, error), newArgs func(id string) river.JobArgs,
) (int, error) {
	kind := newArgs("").Kind()
	total := 0
	for {
		var claimed int
		err := pgx.BeginFunc(ctx, st.Pool(), func(tx pgx.Tx) error {
			ids, err := claim(ctx, tx, cfg.BatchSize, cfg.Lease)
			if err != nil {
				return err
			}
			claimed = len(ids)
			if claimed == 0 {
				return nil
			}
			params := make([]river.InsertManyParams, len(ids))
			for i, id := range ids {
				params[i] = river.InsertManyParams{Args: newArgs(id), InsertOpts: &river.InsertOpts{Priority: PrioritySweep}}
			}
			if _, err := client.InsertManyTx(ctx, tx, params); err != nil {
				return fmt.Errorf("enqueue %d %s jobs: %w", len(params), kind, err)
			}
			return nil
		})
		if err != nil {
			return total, fmt.Errorf("sweep %s: %w", kind, err)
		}
		total += claimed
		metrics.sweepEnqueued.WithLabelValues(kind).Add(float64(claimed))
		if claimed < cfg.BatchSize {
			return total, nil
		}
	}
}
