package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/regsync/regsync/registrar"
)

// DomainDetail is a domain with its sync schedule, as an operator looks
// at it.
type DomainDetail struct {
	Domain
	// NextSyncAt is when the sweep syncs the domain next; a time in the
	// past means it is due.
	NextSyncAt time.Time
	// QueuedAt is when the sweep enqueued the domain's sync, which has not
	// finished yet; nil when none waits.
	QueuedAt *time.Time
	// StatusChangedAt is when the status last changed; nil when it never
	// did.
	StatusChangedAt *time.Time
	CreatedAt       time.Time
}

const domainDetailColumns = domainColumns + `, next_sync_at, queued_at, status_changed_at, created_at`

func scanDomainDetail(row pgx.Row) (DomainDetail, error) {
	var d DomainDetail
	var err error
	d.Domain, err = scanDomain(row, &d.NextSyncAt, &d.QueuedAt, &d.StatusChangedAt, &d.CreatedAt)
	return d, err
}

// DomainDetail returns the domain with the given id, or an error wrapping
// [ErrDomainNotFound].
func (s *Store) DomainDetail(ctx context.Context, id string) (DomainDetail, error) {
	d, err := scanDomainDetail(s.pool.QueryRow(ctx, `SELECT `+domainDetailColumns+` FROM regsync.domains WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return DomainDetail{}, fmt.Errorf("domain %s: %w", id, ErrDomainNotFound)
	}
	if err != nil {
		return DomainDetail{}, fmt.Errorf("read domain %s: %w", id, err)
	}
	return d, nil
}

// DomainFilter selects domains to list; its zero value selects all.
type DomainFilter struct {
	// Status, when not empty, selects domains in that status.
	Status registrar.Status
	// Registrar, when not empty, selects domains of that registrar.
	Registrar string
	// Due selects domains whose sync time has come, queued or not.
	Due bool
}

// ListDomains calls each with every domain f selects, in id order, as it
// reads them, so that a million domains are never held at once. An error
// from each stops the list and is returned.
func (s *Store) ListDomains(ctx context.Context, f DomainFilter, each func(DomainDetail) error) error {
	rows, err := s.pool.Query(ctx, `SELECT `+domainDetailColumns+` FROM regsync.domains
		WHERE ($1 = '' OR status = $1) AND ($2 = '' OR registrar = $2) AND (NOT $3 OR next_sync_at <= now())
		ORDER BY id`, string(f.Status), f.Registrar, f.Due)
	if err != nil {
		return fmt.Errorf("list domains: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		d, err := scanDomainDetail(rows)
		if err != nil {
			return fmt.Errorf("list domains: %w", err)
		}
		if err := each(d); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("list domains: %w", err)
	}
	return nil
}

// LastOutcomes returns the last n outcomes recorded for the domain, oldest
// first. It reads them newest first by the index on (domain_id, id) of
// each monthly partition, so that a long history costs nothing.
func (s *Store) LastOutcomes(ctx context.Context, domainID string, n int) ([]Outcome, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+outcomeColumns+` FROM (
			SELECT id, `+outcomeColumns+` FROM regsync.status_sync_outcomes
			WHERE domain_id = $1 ORDER BY id DESC LIMIT $2
		) last ORDER BY id`, domainID, n)
	if err != nil {
		return nil, fmt.Errorf("read the outcomes of domain %s: %w", domainID, err)
	}
	outcomes, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Outcome, error) { return scanOutcome(row) })
	if err != nil {
		return nil, fmt.Errorf("read the outcomes of domain %s: %w", domainID, err)
	}
	return outcomes, nil
}
