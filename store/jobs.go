package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// ErrNoOutput means a River job ended, or is gone, without the output
// being waited for.
var ErrNoOutput = errors.New("job ended without recording an output")

// ErrNoPendingJob means no job of the kind asked for is pending.
var ErrNoPendingJob = errors.New("no pending job")

// Job is where a River job stood when it was read.
type Job struct {
	ID int64
	// State is River's job state: available, pending, running, retryable,
	// scheduled, completed, cancelled or discarded.
	State string
	// AttemptedAt is when its latest run started; zero when it never ran.
	AttemptedAt time.Time
}

// The poll intervals of [Store.WaitForOutput]: the first wait, doubled
// after every poll up to the last.
const (
	firstOutputPoll = 10 * time.Millisecond
	lastOutputPoll  = 200 * time.Millisecond
)

// PendingStatusSync returns the status_sync job of the domain that is
// pending (available, pending, running, retryable or scheduled), the one
// that makes regsync.enqueue_status_sync return NULL, or an error wrapping
// [ErrNoPendingJob].
func (s *Store) PendingStatusSync(ctx context.Context, domainID string) (Job, error) {
	var job Job
	var attemptedAt *time.Time
	// args @> uses River's GIN index on args.
	err := s.pool.QueryRow(ctx, `
		SELECT id, state, attempted_at FROM regsync.river_job
		WHERE kind = 'status_sync' AND args @> jsonb_build_object('domain_id', $1::text)
			AND state IN ('available', 'pending', 'running', 'retryable', 'scheduled')
		ORDER BY id DESC LIMIT 1`, domainID).Scan(&job.ID, &job.State, &attemptedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return Job{}, fmt.Errorf("status sync of domain %s: %w", domainID, ErrNoPendingJob)
	}
	if err != nil {
		return Job{}, fmt.Errorf("find pending status sync of domain %s: %w", domainID, err)
	}
	job.AttemptedAt = orZero(attemptedAt)
	return job, nil
}

// WaitForOutput waits until a run of job that ends after job was read has
// recorded its output (metadata->'output', which River writes when a run
// ends, also when it failed and will be retried), and returns that output.
// A run that was going on when job was read counts; an output recorded by
// an earlier run does not. It polls with a backoff until ctx is done. When
// the job ends, or is gone, without such an output, the error wraps
// [ErrNoOutput].
func (s *Store) WaitForOutput(ctx context.Context, job Job) (json.RawMessage, error) {
	wait := firstOutputPoll
	for {
		var state string
		var attemptedAt *time.Time
		var output json.RawMessage
		err := s.pool.QueryRow(ctx, `SELECT state, attempted_at, metadata->'output' FROM regsync.river_job WHERE id = $1`, job.ID).
			Scan(&state, &attemptedAt, &output)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, fmt.Errorf("job %d is gone: %w", job.ID, ErrNoOutput)
		}
		if err != nil {
			return nil, fmt.Errorf("read job %d: %w", job.ID, err)
		}
		if state != "running" && output != nil && attemptedAt != nil && runCounts(job, *attemptedAt) {
			return output, nil
		}
		switch state {
		case "completed", "cancelled", "discarded":
			return nil, fmt.Errorf("job %d is %s: %w", job.ID, state, ErrNoOutput)
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
func runCounts(job Job, attemptedAt time.Time) bool {
	if attemptedAt.After(job.AttemptedAt) {
		return true
	}
	return job.State == "running" && attemptedAt.Equal(job.AttemptedAt)
}

// CanReindexJobs reports whether the connected role may REINDEX River's
// job table, as River's client does every night on the leader. Before
// PostgreSQL 17 only the table's owner may, or a role that inherits the
// owner's rights, or a superuser; regsync_worker may not.
func (s *Store) CanReindexJobs(ctx context.Context) (bool, error) {
	var can bool
	err := s.pool.QueryRow(ctx, `SELECT pg_has_role(relowner, 'USAGE') FROM pg_class WHERE oid = 'regsync.river_job'::regclass`).Scan(&can)
	if err != nil {
		return false, fmt.Errorf("check who may reindex the job table: %w", err)
	}
	return can, nil
}
