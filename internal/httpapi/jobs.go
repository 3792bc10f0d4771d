package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
)

// errNoOutput means a River job ended, or is gone, without the output
// being waited for.
var errNoOutput = errors.New("job ended without recording an output")

// errNoPendingJob means no job of the kind asked for is pending.
var errNoPendingJob = errors.New("no pending job")

// jobRun is where a River job stood when it was read.
type jobRun struct {
	ID    int64
	State rivertype.JobState
	// AttemptedAt is when its latest run started; zero when it never ran.
	AttemptedAt time.Time
}

// The poll intervals of [waitForOutput]: the first wait, doubled after
// every poll up to the last.
const (
	firstOutputPoll = 10 * time.Millisecond
	lastOutputPoll  = 200 * time.Millisecond
)

// pendingStates are the states in which a job is pending: those in which
// regsync.enqueue_status_sync joins it instead of inserting another.
var pendingStates = []rivertype.JobState{
	rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning,
	rivertype.JobStateRetryable, rivertype.JobStateScheduled,
}

// pendingStatusSync returns the domain's pending status_sync job, or an
// error wrapping errNoPendingJob.
func pendingStatusSync(ctx context.Context, jobs *river.Client[pgx.Tx], domainID string) (jobRun, error) {
	// args @> uses River's GIN index on args.
	found, err := jobs.JobList(ctx, river.NewJobListParams().
		Kinds("status_sync").
		States(pendingStates...).
		Where("args @> jsonb_build_object('domain_id', @domain_id::text)", river.NamedArgs{"domain_id": domainID}).
		OrderBy(river.JobListOrderByID, river.SortOrderDesc).
		First(1))
	if err != nil {
		return jobRun{}, fmt.Errorf("find pending status sync of domain %s: %w", domainID, err)
	}
	if len(found.Jobs) == 0 {
		return jobRun{}, fmt.Errorf("status sync of domain %s: %w", domainID, errNoPendingJob)
	}
	return runOf(found.Jobs[0]), nil
}

func runOf(job *rivertype.JobRow) jobRun {
	run := jobRun{ID: job.ID, State: job.State}
	if job.AttemptedAt != nil {
		run.AttemptedAt = *job.AttemptedAt
	}
	return run
}

// waitForOutput waits until a run of job that ends after job was read has
// recorded its output (River records it when a run ends, also when it
// failed and will be retried), and returns that output. A run that was
// going on when job was read counts; an output recorded by an earlier run
// does not. It polls with a backoff until ctx is done. When the job ends,
// or is gone, without such an output, the error wraps errNoOutput.
func waitForOutput(ctx context.Context, jobs *river.Client[pgx.Tx], job jobRun) (json.RawMessage, error) {
	wait := firstOutputPoll
	for {
		row, err := jobs.JobGet(ctx, job.ID)
		if errors.Is(err, river.ErrNotFound) {
			return nil, fmt.Errorf("job %d is gone: %w", job.ID, errNoOutput)
		}
		if err != nil {
			return nil, fmt.Errorf("read job %d: %w", job.ID, err)
		}
		if output := row.Output(); row.State != rivertype.JobStateRunning && output != nil && runCounts(job, runOf(row).AttemptedAt) {
			return output, nil
		}
		switch row.State {
		case rivertype.JobStateCompleted, rivertype.JobStateCancelled, rivertype.JobStateDiscarded:
			return nil, fmt.Errorf("job %d is %s: %w", job.ID, row.State, errNoOutput)
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil, fmt.Errorf("wait for output of job %d: %w", job.ID, ctx.Err())
		case <-timer.C:
		}
		wait = min(2*wait, lastOutputPoll)
	}
}

// runCounts reports whether the run of job that started at attemptedAt
// ended after job was read: it started later, or it is the run that was
// going on then.
func runCounts(job jobRun, attemptedAt time.Time) bool {
	if attemptedAt.IsZero() {
		return false
	}
	if attemptedAt.After(job.AttemptedAt) {
		return true
	}
	return job.State == rivertype.JobStateRunning && attemptedAt.Equal(job.AttemptedAt)
}
