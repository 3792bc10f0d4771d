package worker

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/regsync/regsync/registrar"
	"github.com/regsync/regsync/store"
)

// Queues regsync's workers take jobs from.
const (
	// QueueStatusSync holds the status_sync jobs.
	QueueStatusSync = "status_sync"
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
	var fields struct {
		DomainID *string `json:"domain_id"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	err := dec.Decode(&fields)
	switch {
	case err != nil:
		return &InvalidArgsError{Kind: a.Kind(), Err: err}
	case fields.DomainID == nil:
		return &InvalidArgsError{Kind: a.Kind(), Err: errors.New(`missing "domain_id"`)}
	}
	if err := store.ValidateDomainID(*fields.DomainID); err != nil {
		return &InvalidArgsError{Kind: a.Kind(), Err: err}
	}
	a.DomainID = *fields.DomainID
	return nil
}

// StatusSyncWorker runs status_sync jobs.
type StatusSyncWorker struct {
	river.WorkerDefaults[StatusSyncArgs]
	syncer  *Syncer
	metrics *Metrics
}

// NewStatusSyncWorker returns a worker running syncs with syncer.
func NewStatusSyncWorker(syncer *Syncer, metrics *Metrics) *StatusSyncWorker {
	return &StatusSyncWorker{syncer: syncer, metrics: metrics}
}

// Work syncs the job's domain, records the outcome as the job's output,
// and maps failures to River's retry, snooze and cancel.
func (w *StatusSyncWorker) Work(ctx context.Context, job *river.Job[StatusSyncArgs]) error {
	outcome, err := w.syncer.Sync(ctx, job.Args.DomainID, Run{JobID: job.ID, Attempt: job.Attempt})
	if outcome.ID != "" {
		if recErr := river.RecordOutput(ctx, outcome); recErr != nil {
			return errors.Join(err, fmt.Errorf("record job output: %w", recErr))
		}
	}
	if errors.Is(err, store.ErrDomainNotFound) {
		w.metrics.jobsRejected.WithLabelValues(job.Kind, "unknown_domain").Inc()
	}
	return jobError(err)
}

// defaultSnooze is how long a rate-limited job waits when the registrar
// did not say.
const defaultSnooze = 30 * time.Second

// jobError maps a sync's error to what River should do with the job:
// retry with backoff (the error itself), snooze on a rate limit, or cancel
// when running again cannot help.
func jobError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, registrar.ErrRateLimited):
		wait, ok := registrar.RetryAfter(err)
		if !ok {
			wait = defaultSnooze
		}
		return river.JobSnooze(wait)
	case errors.Is(err, store.ErrDomainNotFound), errors.Is(err, ErrNoAdapter), registrar.IsPermanent(err):
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

// StatusSyncSweepArgs are the args of the periodic sweep that enqueues a
// status_sync job for every due domain.
type StatusSyncSweepArgs struct{}

// Kind is the River job kind.
func (StatusSyncSweepArgs) Kind() string { return "status_sync_sweep" }

// InsertOpts keeps at most one sweep pending.
func (StatusSyncSweepArgs) InsertOpts() river.InsertOpts {
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

// StatusSyncSweepWorker runs the sweep.
type StatusSyncSweepWorker struct {
	river.WorkerDefaults[StatusSyncSweepArgs]
	store   *store.Store
	cfg     SweepConfig
	metrics *Metrics
}

// NewStatusSyncSweepWorker returns the sweep worker.
func NewStatusSyncSweepWorker(st *store.Store, cfg SweepConfig, metrics *Metrics) *StatusSyncSweepWorker {
	return &StatusSyncSweepWorker{store: st, cfg: cfg, metrics: metrics}
}

// Work claims due domains batch by batch and enqueues their syncs in the
// claiming transaction, until none are due.
func (w *StatusSyncSweepWorker) Work(ctx context.Context, job *river.Job[StatusSyncSweepArgs]) error {
	client, err := river.ClientFromContextSafely[pgx.Tx](ctx)
	if err != nil {
		return err
	}
	_, err = SweepDueDomains(ctx, w.store, client, w.cfg, w.metrics)
	return err
}

// SweepDueDomains enqueues a status_sync job for every domain due now, in
// batches, and returns how many domains it claimed. Jobs already pending
// for a domain are kept; the unique key drops the duplicate.
func SweepDueDomains(ctx context.Context, st *store.Store, client *river.Client[pgx.Tx], cfg SweepConfig, metrics *Metrics) (int, error) {
	total := 0
	for {
		var claimed int
		err := pgx.BeginFunc(ctx, st.Pool(), func(tx pgx.Tx) error {
			ids, err := store.ClaimDueDomains(ctx, tx, cfg.BatchSize, cfg.Lease)
			if err != nil {
				return err
			}
			claimed = len(ids)
			if claimed == 0 {
				return nil
			}
			params := make([]river.InsertManyParams, len(ids))
			for i, id := range ids {
				params[i] = river.InsertManyParams{
					Args:       StatusSyncArgs{DomainID: id},
					InsertOpts: &river.InsertOpts{Priority: PrioritySweep},
				}
			}
			if _, err := client.InsertManyTx(ctx, tx, params); err != nil {
				return fmt.Errorf("enqueue %d status syncs: %w", len(params), err)
			}
			return nil
		})
		if err != nil {
			return total, fmt.Errorf("sweep due domains: %w", err)
		}
		total += claimed
		metrics.sweepEnqueued.WithLabelValues(StatusSyncArgs{}.Kind()).Add(float64(claimed))
		if claimed < cfg.BatchSize {
			return total, nil
		}
	}
}
