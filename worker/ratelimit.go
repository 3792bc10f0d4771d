package worker

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/regsync/regsync/store"
)

// slotStore is what the shared rate limiter needs from the store.
type slotStore interface {
	RateLimits(ctx context.Context) ([]store.RateLimit, error)
	ReserveRegistrarSlot(ctx context.Context, registrar string, jobID int64, maxWait time.Duration) (store.Slot, error)
}

// Timing of the shared rate limiter.
const (
	// limitsRefresh is how often a process rereads which registrars have
	// limits, so that every process and "regsync sync" agree with the table.
	limitsRefresh = 10 * time.Second
	// comeBackEarly is how long before its slot a job given back for a
	// far slot comes back: more than the fetch poll interval, so that it
	// is working when the slot comes.
	comeBackEarly = 2 * time.Second
)

// ErrRateLimitWait means a registrar's shared rate limit has no slot for
// the request within the time a job may hold its worker; see
// [RateLimitWaitError].
var ErrRateLimitWait = errors.New("registrar rate limit: slot too far away to wait for")

// RateLimitWaitError means the job's slot, kept for it, is Wait away: the
// job is given back until shortly before it instead of holding a worker.
type RateLimitWaitError struct {
	Registrar string
	Wait      time.Duration
}

func (e *RateLimitWaitError) Error() string {
	return fmt.Sprintf("%s: next request slot in %s", e.Registrar, e.Wait.Round(time.Millisecond))
}

// Unwrap returns [ErrRateLimitWait].
func (e *RateLimitWaitError) Unwrap() error { return ErrRateLimitWait }

// snooze is how long the job is given back for.
func (e *RateLimitWaitError) snooze() time.Duration {
	return max(e.Wait-comeBackEarly, time.Second)
}

// RateLimiter paces requests to registrars with limits kept in Postgres,
// shared by every process on the database: each request gets its own
// slot, in the order asked (see store.ReserveRegistrarSlot), so waiters
// never wake together, and a slot too far away is kept for its job while
// the job gives its worker back. Registrars without a limit cost nothing
// but a periodic reread of the table.
type RateLimiter struct {
	store   slotStore
	maxWait time.Duration
	metrics *Metrics

	mu      sync.Mutex
	limited []string
	readAt  time.Time
}

// NewRateLimiter returns a limiter whose callers wait at most maxWait in
// place for a slot.
func NewRateLimiter(st slotStore, maxWait time.Duration, metrics *Metrics) *RateLimiter {
	return &RateLimiter{store: st, maxWait: maxWait, metrics: metrics}
}

// Wait waits for the registrar's next request slot, or returns a
// [*RateLimitWaitError] when the slot, kept for the job of ctx, is further
// away than the limiter's maxWait. A request outside the job queue waits
// for its slot however far.
func (l *RateLimiter) Wait(ctx context.Context, registrar string) error {
	if l == nil {
		return nil
	}
	limited, err := l.isLimited(ctx, registrar)
	if err != nil || !limited {
		return err
	}
	slot, err := l.store.ReserveRegistrarSlot(ctx, registrar, runOf(ctx).JobID, l.maxWait)
	if err != nil {
		return err
	}
	l.metrics.rateLimitWait.WithLabelValues(registrar).Observe(slot.Wait.Seconds())
	if !slot.Taken {
		return &RateLimitWaitError{Registrar: registrar, Wait: slot.Wait}
	}
	return sleep(ctx, slot.Wait)
}

// isLimited reports whether the registrar has a limit in the table, as
// read at most limitsRefresh ago.
func (l *RateLimiter) isLimited(ctx context.Context, registrar string) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if time.Since(l.readAt) > limitsRefresh {
		limits, err := l.store.RateLimits(ctx)
		if err != nil {
			return false, err
		}
		l.limited = l.limited[:0]
		for _, lim := range limits {
			l.limited = append(l.limited, lim.Registrar)
		}
		l.readAt = time.Now()
	}
	return slices.Contains(l.limited, registrar), nil
}

// runKey is the context key of the job run a registrar call belongs to.
type runKey struct{}

// withRun returns ctx carrying run, for the rate limiter to keep a slot
// for its job.
func withRun(ctx context.Context, run Run) context.Context {
	return context.WithValue(ctx, runKey{}, run)
}

// runOf returns the run ctx carries, zero outside the job queue.
func runOf(ctx context.Context) Run {
	run, _ := ctx.Value(runKey{}).(Run)
	return run
}
