package worker

import (
	"context"
	"errors"
	"time"

	"github.com/riverqueue/river"
	"go.uber.org/zap"

	"github.com/regsync/regsync/store"
)

// HistoryConfig is the upkeep of the partitioned history tables.
type HistoryConfig struct {
	// Retention is how long outcome and attempt rows are kept: a monthly
	// partition whose runs all started longer ago is dropped whole. Zero
	// keeps everything.
	Retention time.Duration
	// MonthsAhead is how many months after the current one have their
	// partitions made ahead of time.
	MonthsAhead int
	// Interval is how often the leader does the upkeep.
	Interval time.Duration
}

// DefaultHistoryConfig returns the documented defaults: keep everything,
// partitions three months ahead, upkeep hourly.
func DefaultHistoryConfig() HistoryConfig {
	return HistoryConfig{MonthsAhead: 3, Interval: time.Hour}
}

// Validate reports the first setting that cannot work.
func (c HistoryConfig) Validate() error {
	switch {
	case c.Retention < 0:
		return errors.New("outcome retention must not be negative")
	case c.MonthsAhead < 1 || c.Interval <= 0:
		return errors.New("history partitions must be made at least a month ahead, at a positive interval")
	}
	return nil
}

// HistoryArgs are the args of the periodic upkeep of the history tables,
// on the leader only.
type HistoryArgs struct{}

// Kind is the River job kind.
func (HistoryArgs) Kind() string { return "history" }

// InsertOpts keeps at most one upkeep pending, run once each: the next
// period's does the same.
func (HistoryArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{
		Queue:       QueueSweep,
		MaxAttempts: 1,
		UniqueOpts:  river.UniqueOpts{ByState: pendingStates},
	}
}

// HistoryWorker makes the history tables' partitions ahead of time and
// drops those past the retention.
type HistoryWorker struct {
	river.WorkerDefaults[HistoryArgs]
	store   *store.Store
	cfg     HistoryConfig
	metrics *Metrics
	logger  *zap.Logger
}

// Work makes the coming months' partitions, then drops the expired ones,
// logging and counting each drop.
func (w *HistoryWorker) Work(ctx context.Context, _ *river.Job[HistoryArgs]) error {
	created, err := w.store.EnsureHistoryPartitions(ctx, w.cfg.MonthsAhead)
	if err != nil {
		return err
	}
	if created > 0 {
		w.logger.Info("history partitions created ahead", zap.Int("partitions", created))
	}
	if w.cfg.Retention == 0 {
		return nil
	}
	dropped, err := w.store.DropHistoryPartitions(ctx, time.Now().Add(-w.cfg.Retention))
	for _, p := range dropped {
		w.metrics.historyPartitionsDropped.WithLabelValues(p.Table).Inc()
		w.logger.Info("history partition dropped for retention", zap.String("table", p.Table), zap.String("partition", p.Partition),
			zap.Time("runs_before", p.RangeEnd), zap.Duration("retention", w.cfg.Retention))
	}
	return err
}
