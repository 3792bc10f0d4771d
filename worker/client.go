package worker

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"
	"go.uber.org/zap"
	"go.uber.org/zap/exp/zapslog"

	"github.com/regsync/regsync/internal/secret"
	"github.com/regsync/regsync/migrations"
	"github.com/regsync/regsync/store"
)

// Config sizes the River client that runs regsync's jobs.
type Config struct {
	// StatusSyncWorkers is how many status_sync jobs one process runs at
	// once for each registrar, each in its own queue.
	StatusSyncWorkers int
	// TransferRetryWorkers is how many transfer retries one process runs
	// at once.
	TransferRetryWorkers int
	Sync                 SyncConfig
	Transfer             TransferConfig
	Sweep                SweepConfig
	History              HistoryConfig
	Webhook              WebhookConfig
	// FetchPollInterval is how often a process polls for jobs when no
	// insert notification arrives; notified inserts are picked up at once.
	FetchPollInterval time.Duration
	// FetchCooldown is the least time between two fetches of jobs; with
	// StatusSyncWorkers it caps a process's job rate.
	FetchCooldown time.Duration
	// JobTimeout bounds one run of a job.
	JobTimeout time.Duration
	// RescueAfter is how long a job may stay running before another
	// process takes it to be lost with its process and runs it again. It
	// must exceed JobTimeout by more than [store.MaxWaitAfterCancel], the
	// longest a run can take after its timeout.
	RescueAfter time.Duration
	// MaxRetryDelay caps River's exponential backoff between attempts of a
	// failed job.
	MaxRetryDelay time.Duration
	// SkipJobReindex turns off River's nightly REINDEX of its job table's
	// indexes, for a database role that may not reindex them: before
	// PostgreSQL 17 only their owner may (see [store.Store.CanReindexJobs]).
	SkipJobReindex bool
}

// RateLimitWait is the longest a job holds its worker waiting for a slot
// of a registrar's shared rate limit; a slot further away is kept for the
// job, which gives its worker back until shortly before it.
func (c Config) RateLimitWait() time.Duration {
	return min(2*time.Second, c.JobTimeout/4)
}

// Validate reports the first setting that cannot work.
func (c Config) Validate() error {
	switch {
	case c.StatusSyncWorkers < 1, c.TransferRetryWorkers < 1:
		return errors.New("worker counts must be at least 1")
	case c.JobTimeout <= 0, c.MaxRetryDelay <= 0:
		return errors.New("job timeout and max retry delay must be positive")
	case c.History.Validate() != nil:
		return c.History.Validate()
	case c.Webhook.Validate() != nil:
		return c.Webhook.Validate()
	case c.RescueAfter <= c.JobTimeout+store.MaxWaitAfterCancel:
		return fmt.Errorf("rescue-after %s must be longer than the job timeout %s plus the %s a database write may still take after it, or running jobs would be run twice",
			c.RescueAfter, c.JobTimeout, store.MaxWaitAfterCancel)
	}
	return nil
}

// DefaultConfig returns the documented defaults.
func DefaultConfig() Config {
	return Config{
		StatusSyncWorkers:    50,
		TransferRetryWorkers: 5,
		Sync:                 DefaultSyncConfig(),
		Transfer:             DefaultTransferConfig(),
		Sweep:                DefaultSweepConfig(),
		History:              DefaultHistoryConfig(),
		Webhook:              DefaultWebhookConfig(),
		FetchPollInterval:    time.Second,
		FetchCooldown:        100 * time.Millisecond,
		JobTimeout:           time.Minute,
		RescueAfter:          5 * time.Minute,
		MaxRetryDelay:        time.Hour,
	}
}

// NewClient returns a River client working regsync's queues: status syncs
// through syncer, transfer retries through retrier, webhook deliveries
// signed with the secrets keyring opens (nil: none can be signed), and the
// sweep, which only the elected leader among all processes on the
// database schedules.
func NewClient(st *store.Store, cfg Config, syncer *Syncer, retrier *Retrier, keyring *secret.Keyring, metrics *Metrics, logger *zap.Logger) (*river.Client[pgx.Tx], error) {
	pool := st.Pool()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	workers := river.NewWorkers()
	river.AddWorker(workers, NewStatusSyncWorker(syncer, metrics, cfg.MaxRetryDelay))
	river.AddWorker(workers, NewTransferRetryWorker(retrier, metrics, cfg.MaxRetryDelay))
	river.AddWorker(workers, NewSweepWorker(st, cfg.Sweep, metrics))
	river.AddWorker(workers, &GaugesWorker{store: st})
	river.AddWorker(workers, &HistoryWorker{store: st, cfg: cfg.History, metrics: metrics, logger: logger})
	river.AddWorker(workers, NewWebhookDeliveryWorker(st, keyring, cfg.Webhook, metrics, logger))

	queues := map[string]river.QueueConfig{
		QueueStatusSync:    {MaxWorkers: cfg.StatusSyncWorkers},
		QueueTransferRetry: {MaxWorkers: cfg.TransferRetryWorkers},
		QueueSweep:         {MaxWorkers: 2},
		QueueWebhook:       {MaxWorkers: cfg.Webhook.Workers},
	}
	for name, a := range syncer.adapters {
		if a.Status != nil {
			queues[StatusSyncQueue(name)] = river.QueueConfig{MaxWorkers: cfg.StatusSyncWorkers}
		}
	}
	riverCfg := &river.Config{
		Schema:               migrations.Schema,
		Logger:               riverLogger(logger),
		FetchPollInterval:    cfg.FetchPollInterval,
		FetchCooldown:        cfg.FetchCooldown,
		JobTimeout:           cfg.JobTimeout,
		RescueStuckJobsAfter: cfg.RescueAfter,
		RetryPolicy:          &cappedRetryPolicy{max: cfg.MaxRetryDelay},
		Queues:               queues,
		Workers:              workers,
		Middleware:           []rivertype.Middleware{&jobMetricsMiddleware{metrics: metrics}},
		PeriodicJobs: []*river.PeriodicJob{
			river.NewPeriodicJob(river.PeriodicInterval(cfg.Sweep.Interval),
				func() (river.JobArgs, *river.InsertOpts) { return SweepArgs{}, nil },
				&river.PeriodicJobOpts{ID: SweepArgs{}.Kind(), RunOnStart: true}),
			river.NewPeriodicJob(river.PeriodicInterval(cfg.Sweep.GaugesInterval),
				func() (river.JobArgs, *river.InsertOpts) { return GaugesArgs{}, nil },
				&river.PeriodicJobOpts{ID: GaugesArgs{}.Kind(), RunOnStart: true}),
			river.NewPeriodicJob(river.PeriodicInterval(cfg.History.Interval),
				func() (river.JobArgs, *river.InsertOpts) { return HistoryArgs{}, nil },
				&river.PeriodicJobOpts{ID: HistoryArgs{}.Kind(), RunOnStart: true}),
		},
	}
	if cfg.SkipJobReindex {
		// An empty list, unlike nil, leaves River nothing to reindex.
		riverCfg.ReindexerIndexNames = []string{}
	}
	client, err := river.NewClient(riverpgxv5.New(pool), riverCfg)
	if err != nil {
		return nil, fmt.Errorf("create job client: %w", err)
	}
	return client, nil
}

// cappedRetryPolicy is River's default backoff (attempt^4 seconds,
// jittered) with an upper bound.
type cappedRetryPolicy struct {
	river.DefaultClientRetryPolicy
	max time.Duration
}

// NextRetry implements [river.ClientRetryPolicy].
func (p *cappedRetryPolicy) NextRetry(job *rivertype.JobRow) time.Time {
	next := p.DefaultClientRetryPolicy.NextRetry(job)
	if latest := time.Now().Add(p.max); next.After(latest) {
		return latest
	}
	return next
}

// NewInsertClient returns a River client that only inserts jobs, for
// commands that enqueue work without running it.
func NewInsertClient(pool *pgxpool.Pool, logger *zap.Logger) (*river.Client[pgx.Tx], error) {
	client, err := river.NewClient(riverpgxv5.New(pool), &river.Config{
		Schema: migrations.Schema,
		Logger: riverLogger(logger),
	})
	if err != nil {
		return nil, fmt.Errorf("create job client: %w", err)
	}
	return client, nil
}

// riverLogger routes River's slog output into logger.
func riverLogger(logger *zap.Logger) *slog.Logger {
	return slog.New(zapslog.NewHandler(logger.Core(), zapslog.WithName("river")))
}
