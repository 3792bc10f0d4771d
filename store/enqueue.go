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
	var id *int64
	err = s.pool.QueryRow(ctx, `SELECT regsync.enqueue_status_sync($1)`, domainID).Scan(&id)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "P0002" { // no_data_found
		return 0, false, fmt.Errorf("enqueue status sync of %s: %w", domainID, ErrDomainNotFound)
	}
	if err != nil {
		return 0, false, fmt.Errorf("enqueue status sync of %s: %w", domainID, err)
	}
	if id == nil {
		return 0, false, nil
	}
	return *id, true, nil
}
