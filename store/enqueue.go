package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgconn"
)

// EnqueueStatusSync enqueues a status sync of the domain through
// regsync.enqueue_status_sync, the function other services call. It
// returns the new job's id, or inserted false when a sync of the domain is
// already pending; an unknown domain is an error wrapping
// [ErrDomainNotFound].
func (s *Store) EnqueueStatusSync(ctx context.Context, domainID string) (jobID int64, inserted bool, err error) {
	return s.enqueue(ctx, "regsync.enqueue_status_sync", domainID, ErrDomainNotFound)
}

// EnqueueTransferRetry enqueues a retry of the transfer through
// regsync.enqueue_transfer_retry, the function other services call. It
// returns the new job's id, or inserted false when a retry is already
// pending; an unknown transfer is an error wrapping [ErrTransferNotFound].
func (s *Store) EnqueueTransferRetry(ctx context.Context, transferID string) (jobID int64, inserted bool, err error) {
	return s.enqueue(ctx, "regsync.enqueue_transfer_retry", transferID, ErrTransferNotFound)
}

// enqueue calls one of the SQL enqueue functions, which raise
// no_data_found for an unknown id and return NULL for a duplicate.
func (s *Store) enqueue(ctx context.Context, function, id string, notFound error) (int64, bool, error) {
	var jobID *int64
	err := s.pool.QueryRow(ctx, `SELECT `+function+`($1)`, id).Scan(&jobID)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "P0002" { // no_data_found
		return 0, false, fmt.Errorf("%s(%s): %w", function, id, notFound)
	}
	if err != nil {
		return 0, false, fmt.Errorf("%s(%s): %w", function, id, err)
	}
	if jobID == nil {
		return 0, false, nil
	}
	return *jobID, true, nil
}
