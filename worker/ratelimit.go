package worker

import (
	"context"
	"time"

	"github.com/regsync/regsync/store"
)

// tokenTaker is what the shared rate limiter needs from the store.
type tokenTaker interface {
	TakeRegistrarToken(ctx context.Context, registrar string) (time.Duration, bool, error)
}

// RateLimiter paces requests to registrars with token buckets kept in
// Postgres, so a limit holds across every process on the database rather
// than per process. Registrars without a configured limit cost nothing.
type RateLimiter struct {
	store   tokenTaker
	limited map[string]bool
	metrics *Metrics
}

// NewRateLimiter returns a limiter for the registrars that have limits.
func NewRateLimiter(st tokenTaker, limits []store.RateLimit, metrics *Metrics) *RateLimiter {
	limited := make(map[string]bool, len(limits))
	for _, l := range limits {
		limited[l.Registrar] = true
	}
	return &RateLimiter{store: st, limited: limited, metrics: metrics}
}

// Wait blocks until the registrar's bucket gives a token or ctx ends.
func (l *RateLimiter) Wait(ctx context.Context, registrar string) error {
	if l == nil || !l.limited[registrar] {
		return nil
	}
	start := time.Now()
	defer func() {
		l.metrics.rateLimitWait.WithLabelValues(registrar).Observe(time.Since(start).Seconds())
	}()
	for {
		wait, limited, err := l.store.TakeRegistrarToken(ctx, registrar)
		if err != nil || !limited || wait == 0 {
			return err
		}
		if err := sleep(ctx, wait); err != nil {
			return err
		}
	}
}
