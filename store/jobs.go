package store

import (
	"context"
	"fmt"
)

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
