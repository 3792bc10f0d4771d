package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// QueueCount is the number of jobs of one queue in one state.
type QueueCount struct {
	Queue string
	State string
	Count int64
}

// QueueCounts counts River's jobs by queue and state.
func (s *Store) QueueCounts(ctx context.Context) ([]QueueCount, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT queue, state::text, count(*) FROM regsync.river_job GROUP BY queue, state ORDER BY queue, state`)
	if err != nil {
		return nil, fmt.Errorf("count jobs: %w", err)
	}
	counts, err := pgx.CollectRows(rows, pgx.RowToStructByPos[QueueCount])
	if err != nil {
		return nil, fmt.Errorf("count jobs: %w", err)
	}
	return counts, nil
}

// DomainStats summarizes the domains for the scrape-time gauges.
type DomainStats struct {
	// ByStatus counts domains by status.
	ByStatus map[string]int64
	// Due counts domains whose next sync time has passed.
	Due int64
	// MaxSyncLag is how long the most overdue domain has been due; zero
	// when none is.
	MaxSyncLag time.Duration
	// ExpiringSoon counts active domains whose registration expires
	// within 30 days.
	ExpiringSoon int64
}

// DomainStats reads the domain gauges in one query.
func (s *Store) DomainStats(ctx context.Context) (DomainStats, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT status, count(*),
			count(*) FILTER (WHERE next_sync_at <= now()),
			coalesce(extract(epoch FROM now() - min(next_sync_at) FILTER (WHERE next_sync_at <= now())), 0)::float8,
			count(*) FILTER (WHERE status = 'active' AND expires_at < now() + interval '30 days')
		FROM regsync.domains GROUP BY status`)
	if err != nil {
		return DomainStats{}, fmt.Errorf("count domains: %w", err)
	}
	defer rows.Close()
	stats := DomainStats{ByStatus: map[string]int64{}}
	for rows.Next() {
		var status string
		var count, due, expiringSoon int64
		var lagSeconds float64
		if err := rows.Scan(&status, &count, &due, &lagSeconds, &expiringSoon); err != nil {
			return DomainStats{}, fmt.Errorf("count domains: %w", err)
		}
		stats.ByStatus[status] = count
		stats.Due += due
		stats.ExpiringSoon += expiringSoon
		stats.MaxSyncLag = max(stats.MaxSyncLag, time.Duration(lagSeconds*float64(time.Second)))
	}
	if err := rows.Err(); err != nil {
		return DomainStats{}, fmt.Errorf("count domains: %w", err)
	}
	return stats, nil
}

// TransferStats summarizes the transfers for the scrape-time gauges.
type TransferStats struct {
	// ByState counts transfers by state.
	ByState map[string]int64
	// MaxBlockedAge is how long the longest-blocked open transfer has been
	// blocked; zero when none is open.
	MaxBlockedAge time.Duration
	// NearDeadline counts open transfers whose deadline is within a week.
	NearDeadline int64
}

// TransferStats reads the transfer gauges in one query.
func (s *Store) TransferStats(ctx context.Context) (TransferStats, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT state, count(*),
			coalesce(extract(epoch FROM now() - min(blocked_since) FILTER (WHERE state IN ('blocked', 'waiting_auth_info', 'in_progress'))), 0)::float8,
			count(*) FILTER (WHERE state IN ('blocked', 'waiting_auth_info', 'in_progress') AND deadline < now() + interval '7 days')
		FROM regsync.transfers GROUP BY state`)
	if err != nil {
		return TransferStats{}, fmt.Errorf("count transfers: %w", err)
	}
	defer rows.Close()
	stats := TransferStats{ByState: map[string]int64{}}
	for rows.Next() {
		var state string
		var count, near int64
		var ageSeconds float64
		if err := rows.Scan(&state, &count, &ageSeconds, &near); err != nil {
			return TransferStats{}, fmt.Errorf("count transfers: %w", err)
		}
		stats.ByState[state] = count
		stats.NearDeadline += near
		stats.MaxBlockedAge = max(stats.MaxBlockedAge, time.Duration(ageSeconds*float64(time.Second)))
	}
	if err := rows.Err(); err != nil {
		return TransferStats{}, fmt.Errorf("count transfers: %w", err)
	}
	return stats, nil
}

// Gauges are the scrape-time gauges as the leader last computed them.
type Gauges struct {
	ComputedAt time.Time     `json:"computedAt"`
	Queues     []QueueCount  `json:"queues"`
	Domains    DomainStats   `json:"domains"`
	Transfers  TransferStats `json:"transfers"`
	// HistoryCoveredUntil is, per history table, the end of its last
	// partition.
	HistoryCoveredUntil map[string]time.Time `json:"historyCoveredUntil"`
}

// RefreshGauges counts jobs, domains and transfers and stores the result,
// for every process's scrapes to read. It scans the tables: the leader
// calls it on a schedule, not each scrape.
func (s *Store) RefreshGauges(ctx context.Context) error {
	var g Gauges
	var err error
	if g.Queues, err = s.QueueCounts(ctx); err != nil {
		return err
	}
	if g.Domains, err = s.DomainStats(ctx); err != nil {
		return err
	}
	if g.Transfers, err = s.TransferStats(ctx); err != nil {
		return err
	}
	if g.HistoryCoveredUntil, err = s.historyCoverage(ctx); err != nil {
		return err
	}
	_, err = s.pool.Exec(ctx, `
		INSERT INTO regsync.gauges (computed_at, body) VALUES (now(), $1)
		ON CONFLICT (id) DO UPDATE SET computed_at = excluded.computed_at, body = excluded.body`, g)
	if err != nil {
		return fmt.Errorf("store gauges: %w", err)
	}
	return nil
}

// Gauges returns the gauges the leader last computed, and false when none
// were computed yet.
func (s *Store) Gauges(ctx context.Context) (Gauges, bool, error) {
	var g Gauges
	var computedAt time.Time
	err := s.pool.QueryRow(ctx, `SELECT computed_at, body FROM regsync.gauges`).Scan(&computedAt, &g)
	if errors.Is(err, pgx.ErrNoRows) {
		return Gauges{}, false, nil
	}
	if err != nil {
		return Gauges{}, false, fmt.Errorf("read gauges: %w", err)
	}
	g.ComputedAt = computedAt
	return g, true, nil
}
