package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/regsync/regsync/registrar"
)

// ImportDomain is a domain as a line of an import gives it, checked and
// normalized by the caller.
type ImportDomain struct {
	ID        string
	Name      string
	Registrar string
	// Status is the status of a domain the line adds; empty means unknown.
	// An existing domain keeps its own: syncs own it.
	Status registrar.Status
	// SyncInterval is the domain's own sweep interval. Zero keeps an
	// existing domain's and gives a new one the configured default.
	SyncInterval time.Duration
}

// ImportLine is one line of an import: the domain it gives, or why it is
// rejected.
type ImportLine struct {
	// Number is the line's number in its file, counted from 1.
	Number int64
	Domain ImportDomain
	// Rejected says why the line is rejected; empty for a good line.
	Rejected string
}

// ImportResult counts what an import did with its lines.
type ImportResult struct {
	// Lines counts the lines staged: Added + Updated + Unchanged +
	// Rejected.
	Lines int64
	// Added counts the domains the import created.
	Added int64
	// Updated counts existing domains whose name, registrar or sync
	// interval the import changed.
	Updated int64
	// Unchanged counts good lines that matched their domain already.
	Unchanged int64
	// Rejected counts the lines that changed nothing; see
	// [DomainImport.Rejections] for why.
	Rejected int64
	// StatusKept counts good lines that named a status other than their
	// existing domain's, which was kept.
	StatusKept int64
}

// DomainImport adds and updates domains in bulk: it stages the lines of an
// import in a temporary table on a connection of its own, checks them
// against each other and against regsync.domains, and merges the good ones
// in one transaction. The upsert rule, which the README states:
//
//   - a line whose id is new adds the domain, due for a sync at once, with
//     its status (unknown when none is given);
//   - a line for an existing domain updates its name, registrar and, when
//     the line gives one, sync interval. A change of name or registrar
//     bumps the domain's version, so that a sync in flight, which read the
//     old one, loses its compare-and-set and starts over, and makes the
//     domain due at once. The status is never changed: syncs own it, and
//     the sync state (unconfirmed change, queued mark, schedule otherwise)
//     is left alone;
//   - a line identical to its domain changes nothing, version included, so
//     importing a file again changes nothing;
//   - a line is rejected, and changes nothing, when an earlier line of the
//     import has the same id or name, or when another domain holds its
//     name.
//
// Callers reject what they can tell from the line alone (a malformed id, a
// name that IDNA normalization refuses, an unknown registrar or status)
// and stage the line with its reason, so that every rejection is listed in
// line order. Use it as BeginDomainImport, Stage, Merge, Rejections, Close.
type DomainImport struct {
	conn *pgx.Conn
}

// BeginDomainImport opens a connection of the store's database for an
// import and makes its staging table there, a temporary one, which needs
// no grant but TEMPORARY on the database (PUBLIC's by default) and goes
// with the connection.
func (s *Store) BeginDomainImport(ctx context.Context) (*DomainImport, error) {
	conn, err := pgx.ConnectConfig(ctx, s.pool.Config().ConnConfig)
	if err != nil {
		return nil, fmt.Errorf("connect for the import: %w", err)
	}
	// A million lines fit in the session's temporary buffers instead of
	// being written out; the setting must come before the table.
	_, err = conn.Exec(ctx, `SET temp_buffers = '256MB'`)
	if err == nil {
		_, err = conn.Exec(ctx, `CREATE TEMP TABLE domain_import (
			line bigint NOT NULL,
			id text,
			name text,
			registrar text,
			status text,
			sync_interval interval,
			rejected text)`)
	}
	if err != nil {
		_ = conn.Close(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("make the import's staging table: %w", err)
	}
	return &DomainImport{conn: conn}, nil
}

// Close closes the import's connection, which drops its staging table.
func (imp *DomainImport) Close(ctx context.Context) error {
	return imp.conn.Close(ctx)
}

// Stage copies the lines next returns into the staging table, in one COPY,
// until next returns [io.EOF]; any other error from next stops the copy
// and is returned. Lines staged change nothing until [DomainImport.Merge].
// It returns how many lines it staged.
func (imp *DomainImport) Stage(ctx context.Context, next func() (ImportLine, error)) (int64, error) {
	source := pgx.CopyFromFunc(func() ([]any, error) {
		line, err := next()
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		if line.Rejected != "" {
			return []any{line.Number, nil, nil, nil, nil, nil, registrar.CleanText(line.Rejected, registrar.MaxMessageBytes)}, nil
		}
		d := line.Domain
		return []any{line.Number, d.ID, d.Name, d.Registrar, nullIfEmpty(string(d.Status)), nullIfZero(d.SyncInterval), nil}, nil
	})
	n, err := imp.conn.CopyFrom(ctx, pgx.Identifier{"pg_temp", "domain_import"},
		[]string{"line", "id", "name", "registrar", "status", "sync_interval", "rejected"}, source)
	if err != nil {
		return 0, fmt.Errorf("stage the import's lines: %w", err)
	}
	return n, nil
}

func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func nullIfZero(d time.Duration) any {
	if d == 0 {
		return nil
	}
	return d
}

// checkSteps reject staged lines, in order, before the merge. A line
// rejected by one step is left out of the next, so that no line is blamed
// on one that is rejected itself: the check of each line alone against
// the domains comes before those comparing lines with each other.
var checkSteps = []struct{ what, sql string }{
	{"analyze the staged lines", `ANALYZE pg_temp.domain_import`},
	// Checked against the domains as they are, before this import: a name
	// that another domain holds is refused even when the same import
	// renames that domain; importing again then succeeds.
	{"reject names of other domains", `
		UPDATE pg_temp.domain_import s SET rejected = format('domain name %s belongs to domain %s', s.name, d.id)
		FROM regsync.domains d
		WHERE s.rejected IS NULL AND d.name = s.name AND d.id <> s.id`},
	{"reject repeated ids", `
		UPDATE pg_temp.domain_import s SET rejected = format('domain id %s is on line %s already', s.id, first.line)
		FROM (
			SELECT id, min(line) AS line FROM pg_temp.domain_import
			WHERE rejected IS NULL GROUP BY id HAVING count(*) > 1
		) first
		WHERE s.rejected IS NULL AND s.id = first.id AND s.line > first.line`},
	{"reject repeated names", `
		UPDATE pg_temp.domain_import s SET rejected = format('domain name %s is on line %s already', s.name, first.line)
		FROM (
			SELECT name, min(line) AS line FROM pg_temp.domain_import
			WHERE rejected IS NULL GROUP BY name HAVING count(*) > 1
		) first
		WHERE s.rejected IS NULL AND s.name = first.name AND s.line > first.line`},
}

// addSQL adds the domains of new ids. They take the columns' defaults for
// everything else: due at once, never synced, version 1. An anti-join
// finds them faster than ON CONFLICT would; a domain of the same id that
// another writer adds meanwhile makes the insert, and so the import, fail
// whole.
const addSQL = `
	INSERT INTO regsync.domains (id, name, registrar, status, sync_interval)
	SELECT s.id, s.name, s.registrar, coalesce(s.status, 'unknown'), s.sync_interval
	FROM pg_temp.domain_import s
	WHERE s.rejected IS NULL AND NOT EXISTS (SELECT FROM regsync.domains d WHERE d.id = s.id)`

// updateSQL updates existing domains as [DomainImport] says. Only rows
// that differ are written, and so locked: the domains just added match
// their lines.
const updateSQL = `
	UPDATE regsync.domains d SET
		name = s.name,
		registrar = s.registrar,
		sync_interval = coalesce(s.sync_interval, d.sync_interval),
		version = d.version + CASE WHEN (d.name, d.registrar) <> (s.name, s.registrar) THEN 1 ELSE 0 END,
		next_sync_at = CASE WHEN (d.name, d.registrar) <> (s.name, s.registrar)
			THEN least(d.next_sync_at, now()) ELSE d.next_sync_at END
	FROM pg_temp.domain_import s
	WHERE s.rejected IS NULL AND d.id = s.id
		AND (d.name, d.registrar, d.sync_interval) IS DISTINCT FROM (s.name, s.registrar, coalesce(s.sync_interval, d.sync_interval))`

// statusKeptSQL counts the good lines that name a status other than their
// domain's: after the merge, only lines of existing domains can.
const statusKeptSQL = `
	SELECT count(*) FROM pg_temp.domain_import s JOIN regsync.domains d ON d.id = s.id
	WHERE s.rejected IS NULL AND s.status <> d.status`

// Merge checks the staged lines and merges the good ones into
// regsync.domains in one transaction, as [DomainImport] describes. On an
// error nothing is merged; the staged lines stay for another try.
func (imp *DomainImport) Merge(ctx context.Context) (ImportResult, error) {
	var r ImportResult
	err := pgx.BeginFunc(ctx, imp.conn, func(tx pgx.Tx) error {
		for _, step := range checkSteps {
			if _, err := tx.Exec(ctx, step.sql); err != nil {
				return fmt.Errorf("import: %s: %w", step.what, err)
			}
		}
		err := tx.QueryRow(ctx, `SELECT count(*), count(rejected) FROM pg_temp.domain_import`).Scan(&r.Lines, &r.Rejected)
		if err != nil {
			return fmt.Errorf("import: count the lines: %w", err)
		}
		tag, err := tx.Exec(ctx, addSQL)
		if err != nil {
			return fmt.Errorf("import: add new domains: %w", err)
		}
		r.Added = tag.RowsAffected()
		if r.Added == r.Lines-r.Rejected {
			// Every good line added its domain: none to update, and their
			// statuses are the lines'.
			return nil
		}
		if tag, err = tx.Exec(ctx, updateSQL); err != nil {
			return fmt.Errorf("import: update existing domains: %w", err)
		}
		r.Updated = tag.RowsAffected()
		if err := tx.QueryRow(ctx, statusKeptSQL).Scan(&r.StatusKept); err != nil {
			return fmt.Errorf("import: count the statuses kept: %w", err)
		}
		return nil
	})
	if err != nil {
		return ImportResult{}, err
	}
	r.Unchanged = r.Lines - r.Rejected - r.Added - r.Updated
	return r, nil
}

// Rejections calls each with every rejected line's number and reason, in
// line order, after [DomainImport.Merge].
func (imp *DomainImport) Rejections(ctx context.Context, each func(line int64, reason string) error) error {
	rows, err := imp.conn.Query(ctx, `SELECT line, rejected FROM pg_temp.domain_import WHERE rejected IS NOT NULL ORDER BY line`)
	if err != nil {
		return fmt.Errorf("read the rejected lines: %w", err)
	}
	var line int64
	var reason string
	_, err = pgx.ForEachRow(rows, []any{&line, &reason}, func() error { return each(line, reason) })
	if err != nil {
		return fmt.Errorf("read the rejected lines: %w", err)
	}
	return nil
}
