package worker

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/riverqueue/river"

	"github.com/regsync/regsync/store"
)

// SweepArgs are the args of the periodic sweep that enqueues a status_sync
// job for every due domain and a transfer_retry job for every due
// transfer.
type SweepArgs struct{}

// Kind is the River job kind.
func (SweepArgs) Kind() string { return "sweep" }

// InsertOpts keeps at most one sweep pending, and runs each once: a sweep
// waiting to retry would hold back the periodic ones, which do the same
// work from where it stopped.
func (SweepArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{
		Queue:       QueueSweep,
		MaxAttempts: 1,
		UniqueOpts:  river.UniqueOpts{ByState: pendingStates},
	}
}

// SweepConfig sizes the sweep.
type SweepConfig struct {
	// Interval is how often the leader runs the sweep.
	Interval time.Duration
	// ChunkSize is how many domains one statement claims and enqueues.
	ChunkSize int
	// TransferLease is how long a claimed transfer is not due again,
	// covering the time its job takes; the retry sets the real next time
	// when it ends.
	TransferLease time.Duration
	// OrphanAfter is how long a domain stays queued before the sweep
	// checks that its job still exists, and makes it due again if not.
	OrphanAfter time.Duration
	// GaugesInterval is how often the leader recomputes the scrape-time
	// gauges.
	GaugesInterval time.Duration
}

// DefaultSweepConfig returns the documented defaults.
func DefaultSweepConfig() SweepConfig {
	return SweepConfig{
		Interval: time.Minute, ChunkSize: 50_000, TransferLease: time.Hour,
		OrphanAfter: 15 * time.Minute, GaugesInterval: 15 * time.Second,
	}
}

// orphanChecksPerSweep bounds the queued domains one sweep checks for a
// lost job, so that a long backlog costs each sweep a bounded number of
// index probes.
const orphanChecksPerSweep = 1000

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

// Timeout bounds a sweep by its interval: the next one goes on where it
// stopped.
func (w *SweepWorker) Timeout(*river.Job[SweepArgs]) time.Duration { return w.cfg.Interval }

// Work releases domains whose job was lost, enqueues the jobs of due
// transfers and domains, and stops before its timeout: whatever is left
// is due for the next sweep. The domains go last, since they are the one
// step that bounds its own time.
func (w *SweepWorker) Work(ctx context.Context, _ *river.Job[SweepArgs]) error {
	_, orphansErr := w.store.ReleaseOrphanedDomains(ctx, w.cfg.OrphanAfter, orphanChecksPerSweep)
	claimed, _, transfersErr := w.store.EnqueueDueTransfers(ctx, w.cfg.ChunkSize, w.cfg.TransferLease)
	w.metrics.sweepEnqueued.WithLabelValues(TransferRetryArgs{}.Kind()).Add(float64(claimed))
	_, domainsErr := SweepDueDomains(ctx, w.store, w.cfg, w.metrics)
	return errors.Join(orphansErr, transfersErr, domainsErr)
}

// sweepStatements is how many chunk statements the sweep runs at once:
// claiming and inserting jobs is work for PostgreSQL's CPUs, and the rows
// one statement holds the other skips.
const sweepStatements = 2

// SweepDueDomains enqueues a status_sync job for every domain due now and
// not yet queued, a chunk per statement, and returns how many domains it
// claimed. It stops early, leaving the rest for the next sweep, when ctx
// would end before another chunk as long as the last one could finish.
func SweepDueDomains(ctx context.Context, st *store.Store, cfg SweepConfig, metrics *Metrics) (int, error) {
	var total atomic.Int64
	errs := make([]error, sweepStatements)
	var wg sync.WaitGroup
	for i := range sweepStatements {
		wg.Go(func() {
			for {
				start := time.Now()
				claimed, _, err := st.EnqueueDueDomains(ctx, cfg.ChunkSize)
				if err != nil {
					errs[i] = fmt.Errorf("sweep: %w", err)
					return
				}
				total.Add(int64(claimed))
				metrics.sweepEnqueued.WithLabelValues(StatusSyncArgs{}.Kind()).Add(float64(claimed))
				if claimed < cfg.ChunkSize {
					return
				}
				if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < 2*time.Since(start) {
					return
				}
			}
		})
	}
	wg.Wait()
	return int(total.Load()), errors.Join(errs...)
}

// GaugesArgs are the args of the periodic job that recomputes the
// scrape-time gauges, on the leader only.
type GaugesArgs struct{}

// Kind is the River job kind.
func (GaugesArgs) Kind() string { return "gauges" }

// InsertOpts keeps at most one gauges job pending.
func (GaugesArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{
		Queue:       QueueSweep,
		MaxAttempts: 1,
		UniqueOpts:  river.UniqueOpts{ByState: pendingStates},
	}
}

// GaugesWorker recomputes the scrape-time gauges.
type GaugesWorker struct {
	river.WorkerDefaults[GaugesArgs]
	store *store.Store
}

// Work counts jobs, domains and transfers for every process's scrapes.
func (w *GaugesWorker) Work(ctx context.Context, _ *river.Job[GaugesArgs]) error {
	return w.store.RefreshGauges(ctx)
}
