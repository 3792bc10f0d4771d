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
// registrars; every process should be configured alike.
func (s *Store) SetRateLimits(ctx context.Context, limits []RateLimit) error {
	for _, l := range limits {
		_, err := s.pool.Exec(ctx, `
			INSERT INTO regsync.registrar_rate_limits (registrar, requests_per_second, burst, tokens)
			VALUES ($1, $2, $3, $3)
			ON CONFLICT (registrar) DO UPDATE SET
				requests_per_second = excluded.requests_per_second,
				burst = excluded.burst,
				tokens = least(regsync.registrar_rate_limits.tokens, excluded.burst)`,
			l.Registrar, l.RequestsPerSecond, l.Burst)
		if err != nil {
			return fmt.Errorf("set rate limit of %s: %w", l.Registrar, err)
		}
	}
	return nil
}

// TakeRegistrarToken takes one request token of the registrar's shared
// bucket. It returns zero when it took one, or how long to wait before
// taking again; limited is false when the registrar has no limit.
func (s *Store) TakeRegistrarToken(ctx context.Context, registrar string) (wait time.Duration, limited bool, err error) {
	var seconds *float64
	if err := s.pool.QueryRow(ctx, `SELECT regsync.take_registrar_token($1)`, registrar).Scan(&seconds); err != nil {
		return 0, false, fmt.Errorf("take a request token of %s: %w", registrar, err)
	}
	if seconds == nil {
		return 0, false, nil
	}
	return time.Duration(*seconds * float64(time.Second)), true, nil
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
