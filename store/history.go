package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnsureHistoryPartitions creates the monthly partitions of the history
// tables (status_sync_outcomes, transfer_attempts) through the month
// monthsAhead after the current one, so that inserts never meet a month
// without its partition. It returns how many it created.
func (s *Store) EnsureHistoryPartitions(ctx context.Context, monthsAhead int) (int, error) {
	var created int
	if err := s.pool.QueryRow(ctx, `SELECT regsync.ensure_history_partitions($1)`, monthsAhead).Scan(&created); err != nil {
		return 0, fmt.Errorf("create history partitions: %w", err)
	}
	return created, nil
}

// DroppedPartition is a history partition dropped for retention.
type DroppedPartition struct {
	// Table is the history table: status_sync_outcomes or
	// transfer_attempts.
	Table     string
	Partition string
	// RangeEnd is where the partition's range of run starts ended.
	RangeEnd time.Time
}

// DropHistoryPartitions drops every history partition whose rows all
// started before olderThan, and returns what it dropped.
func (s *Store) DropHistoryPartitions(ctx context.Context, olderThan time.Time) ([]DroppedPartition, error) {
	rows, _ := s.pool.Query(ctx, `SELECT history, partition, range_end FROM regsync.drop_history_partitions($1)`, olderThan)
	dropped, err := pgx.CollectRows(rows, pgx.RowToStructByPos[DroppedPartition])
	if err != nil {
		return nil, fmt.Errorf("drop history partitions: %w", err)
	}
	return dropped, nil
}

// historyCoverage returns, per history table, the end of its last
// partition: inserts of runs started after it would fail.
func (s *Store) historyCoverage(ctx context.Context) (map[string]time.Time, error) {
	rows, _ := s.pool.Query(ctx, `SELECT history, max(range_end) FROM regsync.history_partitions GROUP BY history`)
	covered := map[string]time.Time{}
	var table string
	var until time.Time
	_, err := pgx.ForEachRow(rows, []any{&table, &until}, func() error {
		covered[table] = until
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read history partitions: %w", err)
	}
	return covered, nil
}
