package store

import (
	"context"
	"fmt"
	"time"
)

// EnqueueDueDomains claims up to limit domains whose sync is due and not
// yet queued, marks them queued and enqueues a status_sync job for each,
// in one statement: River's job rows are built in SQL by the function the
// SQL enqueue uses, at the sweep's priority, in each domain's registrar's
// queue. A domain whose sync is
// already pending (asked for on demand, say) is marked and gets no second
// job. The sync's last write clears the mark, so a domain is never claimed
// again while its sync waits, however long the backlog. Rows another
// writer holds are skipped. It returns how many domains it claimed and how
// many jobs it inserted.
func (s *Store) EnqueueDueDomains(ctx context.Context, limit int) (claimed, enqueued int, err error) {
	err = s.pool.QueryRow(ctx, `
		WITH due AS (
			SELECT ctid FROM regsync.domains
			WHERE next_sync_at <= now() AND queued_at IS NULL
			ORDER BY next_sync_at
			LIMIT $1
			FOR UPDATE SKIP LOCKED
		),
		claimed AS (
			-- By the rows' addresses: a join by id would read the whole table.
			UPDATE regsync.domains d SET queued_at = now() WHERE d.ctid = ANY (ARRAY(SELECT ctid FROM due))
			RETURNING d.id, regsync.status_sync_queue(d.registrar) AS queue
		),
		inserted AS (
			SELECT regsync.insert_unique_jobs('status_sync', 'domain_id',
				ARRAY(SELECT id FROM claimed ORDER BY id), ARRAY(SELECT queue FROM claimed ORDER BY id), 2::smallint)
		)
		SELECT (SELECT count(*) FROM claimed), (SELECT count(*) FROM inserted)`, limit).Scan(&claimed, &enqueued)
	if err != nil {
		return 0, 0, fmt.Errorf("enqueue due domains: %w", err)
	}
	return claimed, enqueued, nil
}

// ReleaseOrphanedDomains clears the queued mark of up to limit domains
// marked for longer than after whose status_sync job is no longer pending:
// cancelled by hand, discarded or deleted without a sync's last write. They
// are claimed again by the next sweep. Oldest marks go first; a domain
// whose job still waits keeps its mark and costs one index probe. It
// returns how many it released.
func (s *Store) ReleaseOrphanedDomains(ctx context.Context, after time.Duration, limit int) (int, error) {
	tag, err := s.pool.Exec(ctx, `
		WITH stale AS (
			SELECT id FROM regsync.domains
			WHERE queued_at < now() - make_interval(secs => $1)
			ORDER BY queued_at
			LIMIT $2
			FOR UPDATE SKIP LOCKED
		)
		UPDATE regsync.domains d SET queued_at = NULL
		FROM stale
		WHERE d.id = stale.id AND NOT EXISTS (
			SELECT 1 FROM regsync.river_job j
			WHERE j.unique_key = regsync.unique_job_key('status_sync', 'domain_id', d.id)
				AND j.unique_states IS NOT NULL
				AND regsync.river_job_state_in_bitmask(j.unique_states, j.state))`, after.Seconds(), limit)
	if err != nil {
		return 0, fmt.Errorf("release orphaned domains: %w", err)
	}
	return int(tag.RowsAffected()), nil
}

// EnqueueDueTransfers claims up to limit open transfers whose retry is
// due and enqueues a transfer_retry job for each, in one statement, moving
// their next retry a lease later; the retry sets the real next time when
// it ends. It returns how many transfers it claimed and how many jobs it
// inserted.
func (s *Store) EnqueueDueTransfers(ctx context.Context, limit int, lease time.Duration) (claimed, enqueued int, err error) {
	err = s.pool.QueryRow(ctx, `
		WITH due AS (
			SELECT id FROM regsync.transfers
			WHERE state IN ('blocked', 'waiting_auth_info', 'in_progress') AND next_retry_at <= now()
			ORDER BY next_retry_at
			LIMIT $1
			FOR UPDATE SKIP LOCKED
		),
		claimed AS (
			UPDATE regsync.transfers t SET next_retry_at = now() + make_interval(secs => $2)
			FROM due WHERE t.id = due.id RETURNING t.id
		),
		inserted AS (
			SELECT regsync.insert_unique_jobs('transfer_retry', 'transfer_id',
				ARRAY(SELECT id FROM claimed), ARRAY(SELECT 'transfer_retry' FROM claimed), 2::smallint)
		)
		SELECT (SELECT count(*) FROM claimed), (SELECT count(*) FROM inserted)`, limit, lease.Seconds()).Scan(&claimed, &enqueued)
	if err != nil {
		return 0, 0, fmt.Errorf("enqueue due transfers: %w", err)
	}
	return claimed, enqueued, nil
}
