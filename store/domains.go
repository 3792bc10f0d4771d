package store

import (
	"context"
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
	// Unconfirmed is the guarded change that set Status and waits for its
	// confirming double sync; nil when there is none.
	Unconfirmed *Unconfirmed
	// SyncInterval is the domain's own sweep interval; zero means the
	// configured default.
	SyncInterval time.Duration
	// LastSyncedAt is when a sync last read the domain's status from its
	// registrar; nil when none has.
	LastSyncedAt *time.Time
	// ExpiresAt is the registration's expiry date as last applied; nil
	// when no adapter reported one.
	ExpiresAt *time.Time
	// TransferredAwayAt is when a sync first found the domain held by
	// another registrar, or unknown to its own; nil when it is not.
	TransferredAwayAt *time.Time
}

// Unconfirmed is a guarded status change applied to a domain and waiting
// for its confirming double sync. It is kept on the domain row, so that
// whichever job run comes next can confirm or revert it.
type Unconfirmed struct {
	// From is the status the change replaced, to revert to.
	From registrar.Status
	// Raw is the registrar's reading that caused the change.
	Raw string
	// At is when the change was applied.
	At time.Time
	// Failures counts the confirming reads that got an error from the
	// registrar instead of a status.
	Failures int
}

// NewDomain is a domain to add.
type NewDomain struct {
	ID        string
	Name      string
	Registrar string
	Status    registrar.Status
}

const domainColumns = `id, name, registrar, status, version,
	unconfirmed_from_status, coalesce(unconfirmed_raw_status, ''), coalesce(unconfirmed_at, 'epoch'), confirm_failures,
	coalesce(extract(epoch FROM sync_interval), 0)::float8, last_synced_at, expires_at, transferred_away_at`

// scanDomain reads a row of domainColumns followed by the columns extra
// scans into.
func scanDomain(row pgx.Row, extra ...any) (Domain, error) {
	var d Domain
	var from *registrar.Status
	var u Unconfirmed
	var intervalSeconds float64
	err := row.Scan(append([]any{&d.ID, &d.Name, &d.Registrar, &d.Status, &d.Version, &from, &u.Raw, &u.At, &u.Failures, &intervalSeconds,
		&d.LastSyncedAt, &d.ExpiresAt, &d.TransferredAwayAt}, extra...)...)
	if from != nil {
		u.From = *from
		d.Unconfirmed = &u
	}
	d.SyncInterval = time.Duration(intervalSeconds * float64(time.Second))
	return d, err
}

// Domain returns the domain with the given id, or an error wrapping
// [ErrDomainNotFound]. Concurrent calls share statements.
func (s *Store) Domain(ctx context.Context, id string) (Domain, error) {
	d, err := s.domainReads.do(ctx, id)
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
// domain that does not exist is returned as the zero Domain. A plain read
// waits for no row lock; ctx bounds it.
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
// status and keeps change on it for the double sync, only if the domain is
// still at version. A lost compare-and-set is an error wrapping
// [ErrVersionConflict]; nothing is recorded in the domain's history until
// the double sync settles the change.
func (s *Store) MarkUnconfirmed(ctx context.Context, id string, version int64, status registrar.Status, change Unconfirmed) error {
	_, err := s.write(ctx, syncWrite{domainID: id, update: SyncUpdate{
		IfVersion: version, Required: true, SetStatus: status, Unconfirmed: &change,
	}})
	return err
}

// SyncUpdate is what the last write of a sync does to the domain row.
type SyncUpdate struct {
	// IfVersion limits the update to the domain at this version; zero
	// updates it whatever its version.
	IfVersion int64
	// Required makes a version mismatch an error wrapping
	// [ErrVersionConflict] that writes nothing, outcome included. Without
	// it a mismatch leaves the domain's status alone, makes the domain due
	// for a sync at once (what happened needs a fresh look), and records
	// the outcome for a lost write.
	Required bool
	// SetStatus, when not empty, becomes the domain's status; the version is
	// bumped and any unconfirmed change is dropped.
	SetStatus registrar.Status
	// Unconfirmed, with SetStatus, marks the new status as a guarded change
	// waiting for its double sync; its At is the time of the write.
	Unconfirmed *Unconfirmed
	// Settle drops the unconfirmed change: its double sync confirmed it.
	Settle bool
	// CountConfirmFailure adds one to the unconfirmed change's failed
	// confirming reads.
	CountConfirmFailure bool
	// Synced stamps the domain's last-synced time: the registrar was read.
	Synced bool
	// NextSyncAt is when the sweep should sync the domain again.
	NextSyncAt time.Time
	// SetExpiresAt, when not nil, becomes the domain's expiry date.
	SetExpiresAt *time.Time
	// TransferredAway marks the domain as found transferred away (keeping
	// the time of the first sighting), or clears the mark.
	TransferredAway TransferredAwayMark
}

// TransferredAwayMark is what a sync's last write does to a domain's
// transferred-away mark.
type TransferredAwayMark string

// The transferred-away marks a write may set.
const (
	// KeepTransferredAway leaves the mark as it is.
	KeepTransferredAway TransferredAwayMark = ""
	// SeenTransferredAway sets the mark to now, unless it is set already.
	SeenTransferredAway TransferredAwayMark = "seen"
	// ClearTransferredAway clears the mark.
	ClearTransferredAway TransferredAwayMark = "clear"
)

// FinishSync ends a sync: it updates the domain as u says and appends the
// outcome o, atomically, and returns the outcome recorded. When u is
// Required and the update does not match, it writes nothing and returns an
// error wrapping [ErrVersionConflict].
//
// Concurrent calls share statements and commits. A call withdrawn before
// its statement is sent writes nothing; a sent one waits for its
// statement. A domain row that another writer holds is written alone,
// waiting at most [LockTimeout] (an error wrapping [ErrRowLocked]), so it
// never holds up the other calls. When an outcome of the same job run is
// already recorded (the rerun of a write whose commit was in doubt), that
// one is returned and nothing is written twice.
func (s *Store) FinishSync(ctx context.Context, u SyncUpdate, o Outcome) (Outcome, error) {
	return s.write(ctx, syncWrite{domainID: o.ID, update: u, ifMatched: &o, ifLost: &o})
}

// FinishEither ends a sync whose last write may lose its compare-and-set
// without that being an error, a revert for example: it updates the domain
// as u, which must not be Required, says and appends ifMatched when the
// update matched or ifLost when the domain had changed meanwhile. It
// returns the outcome recorded, and otherwise behaves as [Store.FinishSync].
func (s *Store) FinishEither(ctx context.Context, u SyncUpdate, ifMatched, ifLost Outcome) (Outcome, error) {
	return s.write(ctx, syncWrite{domainID: ifMatched.ID, update: u, ifMatched: &ifMatched, ifLost: &ifLost})
}
