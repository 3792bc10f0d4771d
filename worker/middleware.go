package worker

import (
	"context"
	"errors"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
)

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
	m.metrics.jobDuration.WithLabelValues(job.Kind, job.Queue, jobResult(err)).Observe(time.Since(start).Seconds())
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
