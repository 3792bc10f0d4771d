package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// OpenTransferByDomain returns the open transfer (blocked, waiting for an
// authInfo or in progress) of the domain named domainName, IDNA-normalized,
// or an error wrapping [ErrTransferNotFound]. A domain has at most one open
// transfer.
func (s *Store) OpenTransferByDomain(ctx context.Context, domainName string) (Transfer, error) {
	t, err := scanTransfer(s.pool.QueryRow(ctx, `SELECT `+transferColumns+` FROM regsync.transfers
		WHERE domain_name = $1 AND state IN ('blocked', 'waiting_auth_info', 'in_progress')`, domainName))
	if errors.Is(err, pgx.ErrNoRows) {
		return Transfer{}, fmt.Errorf("open transfer of %s: %w", domainName, ErrTransferNotFound)
	}
	if err != nil {
		return Transfer{}, fmt.Errorf("read open transfer of %s: %w", domainName, err)
	}
	return t, nil
}
