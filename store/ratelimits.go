package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// RateLimit is a registrar's request budget, shared by every process.
type RateLimit struct {
	Registrar         string
	RequestsPerSecond float64
	// Burst is how many requests may go at once after a quiet spell.
	Burst float64
}

// SetRateLimits stores the limits, replacing earlier ones of the same
// registrars; every process reads them from the table.
func (s *Store) SetRateLimits(ctx context.Context, limits []RateLimit) error {
	for _, l := range limits {
		_, err := s.pool.Exec(ctx, `
			INSERT INTO regsync.registrar_rate_limits (registrar, requests_per_second, burst)
			VALUES ($1, $2, $3)
			ON CONFLICT (registrar) DO UPDATE SET
				requests_per_second = excluded.requests_per_second,
				burst = excluded.burst`,
			l.Registrar, l.RequestsPerSecond, l.Burst)
		if err != nil {
			return fmt.Errorf("set rate limit of %s: %w", l.Registrar, err)
		}
	}
	return nil
}

// Slot is a registrar request slot given by [Store.ReserveRegistrarSlot].
type Slot struct {
	// Limited is false when the registrar has no limit: go ahead.
	Limited bool
	// At is when the request may go, by the database's clock; Wait is how
	// long until then.
	At   time.Time
	Wait time.Duration
	// Taken says the caller is to wait Wait and send its request. When it
	// is false the slot is kept for the job, which comes back for it.
	Taken bool
}

// ReserveRegistrarSlot gives the registrar's next request slot, shared by
// every process, to the job (zero for a request outside the job queue).
// Slots are spaced by the registrar's rate, up to its burst at once, in
// the order asked. A slot further away than maxWait is kept for the job
// instead of taken; the job comes back for it, and gets it then. See
// regsync.reserve_registrar_slot.
func (s *Store) ReserveRegistrarSlot(ctx context.Context, registrar string, jobID int64, maxWait time.Duration) (Slot, error) {
	var job *int64
	if jobID != 0 {
		job = &jobID
	}
	var at *time.Time
	var waitSeconds *float64
	var taken *bool
	err := s.pool.QueryRow(ctx, `SELECT slot, extract(epoch FROM wait)::float8, taken
		FROM regsync.reserve_registrar_slot($1, $2, make_interval(secs => $3))`, registrar, job, maxWait.Seconds()).Scan(&at, &waitSeconds, &taken)
	if err != nil {
		return Slot{}, fmt.Errorf("reserve a request slot of %s: %w", registrar, err)
	}
	if at == nil {
		return Slot{}, nil
	}
	return Slot{Limited: true, At: *at, Wait: time.Duration(*waitSeconds * float64(time.Second)), Taken: *taken}, nil
}

// RateLimits returns the registrar rate limits stored, which every
// process shares.
func (s *Store) RateLimits(ctx context.Context) ([]RateLimit, error) {
	rows, err := s.pool.Query(ctx, `SELECT registrar, requests_per_second, burst FROM regsync.registrar_rate_limits ORDER BY registrar`)
	if err != nil {
		return nil, fmt.Errorf("read rate limits: %w", err)
	}
	limits, err := pgx.CollectRows(rows, pgx.RowToStructByPos[RateLimit])
	if err != nil {
		return nil, fmt.Errorf("read rate limits: %w", err)
	}
	return limits, nil
}
