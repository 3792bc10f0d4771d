package store

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/regsync/regsync/registrar"
)

// domainIDPattern is the CHECK constraint on regsync.domains.id. The safe
// character set is what lets SQL build River's unique keys without escaping.
var domainIDPattern = regexp.MustCompile(`^dom_[0-9a-z]{1,60}$`)

// ValidateDomainID returns an error saying what is wrong when id cannot be
// a domain id.
func ValidateDomainID(id string) error {
	if !domainIDPattern.MatchString(id) {
		return fmt.Errorf("invalid domain id %q: want dom_ followed by 1 to 60 lower-case letters or digits", id)
	}
	return nil
}

// Domain is a row of regsync.domains as the sync sees it.
type Domain struct {
	ID        string
	Name      string
	Registrar string
	Status    registrar.Status
	// Version is bumped on every status change; compare-and-set writes
	// name the version they read.
	Version int64
	// UnconfirmedFrom is the status a guarded change replaced while that
	// change waits for its confirming double sync; empty otherwise.
	UnconfirmedFrom registrar.Status
	// SyncInterval is the domain's own sweep interval; zero means the
	// configured default.
	SyncInterval time.Duration
}

// NewDomain is a domain to add.
type NewDomain struct {
	ID        string
	Name      string
	Registrar string
	Status    registrar.Status
}

const domainColumns = `id, name, registrar, status, version, coalesce(unconfirmed_from_status, ''),
	coalesce(extract(epoch FROM sync_interval), 0)::float8`

func scanDomain(row pgx.Row) (Domain, error) {
	var d Domain
	var intervalSeconds float64
	err := row.Scan(&d.ID, &d.Name, &d.Registrar, &d.Status, &d.Version, &d.UnconfirmedFrom, &intervalSeconds)
	d.SyncInterval = time.Duration(intervalSeconds * float64(time.Second))
	return d, err
}

// Domain returns the domain with the given id, or an error wrapping
// [ErrDomainNotFound]. Concurrent calls share statements; a call waits for
// its statement, which is bounded by its own timeout, whatever ctx says.
func (s *Store) Domain(_ context.Context, id string) (Domain, error) {
	d, err := s.domainReads.do(id)
	switch {
	case err != nil:
		return Domain{}, err
	case d.ID == "":
		return Domain{}, fmt.Errorf("domain %s: %w", id, ErrDomainNotFound)
	}
	return d, nil
}

func newDomainReads(s *Store) *batcher[string, Domain] {
	return &batcher[string, Domain]{
		key: func(id string) string { return id },
		run: s.readDomains,
	}
}

// readDomains reads the domains with the given ids, in their order; a
// domain that does not exist is returned as the zero Domain.
func (s *Store) readDomains(ctx context.Context, ids []string) ([]Domain, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+domainColumns+` FROM regsync.domains WHERE id = ANY($1)`, ids)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", domainsNamed(ids), err)
	}
	found, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Domain, error) { return scanDomain(row) })
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", domainsNamed(ids), err)
	}
	byID := make(map[string]Domain, len(found))
	for _, d := range found {
		byID[d.ID] = d
	}
	domains := make([]Domain, len(ids))
	for i, id := range ids {
		domains[i] = byID[id]
	}
	return domains, nil
}

// domainsNamed names the domains of a batch for an error: the domain id
// when there is one, the count otherwise.
func domainsNamed(ids []string) string {
	if len(ids) == 1 {
		return "domain " + ids[0]
	}
	return fmt.Sprintf("%d domains", len(ids))
}

// AddDomains inserts domains in one COPY; they are due for a sync at once.
func (s *Store) AddDomains(ctx context.Context, domains []NewDomain) error {
	rows := make([][]any, len(domains))
	for i, d := range domains {
		rows[i] = []any{d.ID, d.Name, d.Registrar, string(d.Status)}
	}
	_, err := s.pool.CopyFrom(ctx, pgx.Identifier{"regsync", "domains"},
		[]string{"id", "name", "registrar", "status"}, pgx.CopyFromRows(rows))
	if err != nil {
		return fmt.Errorf("add %d domains: %w", len(domains), err)
	}
	return nil
}

// MarkUnconfirmed applies a guarded status change: it sets the domain to
// status, remembers from as the status to revert to, and bumps the
// version, only if the domain is still at version. It returns the new
// version, or an error wrapping [ErrVersionConflict].
func (s *Store) MarkUnconfirmed(ctx context.Context, id string, version int64, from, status registrar.Status) (int64, error) {
	var newVersion int64
	err := s.pool.QueryRow(ctx, `
		UPDATE regsync.domains
		SET status = $3, unconfirmed_from_status = $4, version = version + 1
		WHERE id = $1 AND version = $2
		RETURNING version`, id, version, status, from).Scan(&newVersion)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, fmt.Errorf("apply %s to domain %s at version %d: %w", status, id, version, ErrVersionConflict)
	}
	if err != nil {
		return 0, fmt.Errorf("apply %s to domain %s: %w", status, id, err)
	}
	return newVersion, nil
}

// SyncUpdate is what the last write of a sync does to the domain row.
type SyncUpdate struct {
	// IfVersion limits the update to the domain at this version; zero
	// updates it whatever its version.
	IfVersion int64
	// Required makes a version mismatch an error wrapping
	// [ErrVersionConflict] that writes nothing, outcome included. Without
	// it a mismatch leaves the domain alone and the outcome is still
	// recorded.
	Required bool
	// SetStatus, when not empty, becomes the domain's status; the version is
	// bumped.
	SetStatus registrar.Status
	// Settle clears the unconfirmed marker of a guarded change.
	Settle bool
	// Synced stamps the domain's last-synced time: the registrar was read.
	Synced bool
	// NextSyncAt is when the sweep should sync the domain again.
	NextSyncAt time.Time
}

// FinishSync ends a sync: it updates the domain as u says and appends the
// outcome o, atomically, and reports whether the domain update matched.
// When u is Required and the update does not match, it writes nothing and
// returns an error wrapping [ErrVersionConflict]. Concurrent calls share
// statements and commits; a call waits for its statement, which is bounded
// by its own timeout, whatever ctx says, so that it never reports a
// failure for a write that then commits.
func (s *Store) FinishSync(_ context.Context, u SyncUpdate, o Outcome) (bool, error) {
	w := syncWrite{domainID: o.ID, update: u, ifMatched: o}
	if !u.Required {
		w.ifUnmatched = &o
	}
	r, err := s.syncWrites.do(w)
	switch {
	case err != nil:
		return false, err
	case !r.recorded:
		return false, fmt.Errorf("finish sync of domain %s at version %d: %w", o.ID, u.IfVersion, ErrVersionConflict)
	}
	return r.matched, nil
}

// FinishRevert ends a sync that reverts a change: it updates the domain as
// u says and, atomically, appends reverted when the update matched or kept
// when the domain had changed meanwhile. It returns the outcome it
// recorded.
func (s *Store) FinishRevert(_ context.Context, u SyncUpdate, reverted, kept Outcome) (Outcome, error) {
	r, err := s.syncWrites.do(syncWrite{domainID: reverted.ID, update: u, ifMatched: reverted, ifUnmatched: &kept})
	switch {
	case err != nil:
		return Outcome{}, err
	case r.matched:
		return reverted, nil
	}
	return kept, nil
}

// ClaimDueDomains claims up to limit domains whose next sync is due, in tx,
// by moving their next sync lease later, and returns their ids. Claimed
// rows are locked until tx ends and rows locked by another sweep are
// skipped, so concurrent sweeps never claim the same domain.
func ClaimDueDomains(ctx context.Context, tx pgx.Tx, limit int, lease time.Duration) ([]string, error) {
	rows, err := tx.Query(ctx, `
		UPDATE regsync.domains d SET next_sync_at = now() + $2::interval
		FROM (
			SELECT id FROM regsync.domains
			WHERE next_sync_at <= now()
			ORDER BY next_sync_at
			LIMIT $1
			FOR UPDATE SKIP LOCKED
		) due
		WHERE d.id = due.id
		RETURNING d.id`, limit, lease)
	if err != nil {
		return nil, fmt.Errorf("claim due domains: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("claim due domains: %w", err)
	}
	return ids, nil
}
