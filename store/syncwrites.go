package store

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// syncWrite is the last write of one sync: a domain update, and the
// outcome to append when the update matched or, when it did not, the
// other one. A nil ifUnmatched makes a mismatch write nothing.
type syncWrite struct {
	domainID    string
	update      SyncUpdate
	ifMatched   Outcome
	ifUnmatched *Outcome
}

// syncWritten is what a [syncWrite] did.
type syncWritten struct {
	matched, recorded bool
}

func newSyncWrites(s *Store) *batcher[syncWrite, syncWritten] {
	return &batcher[syncWrite, syncWritten]{
		key: func(w syncWrite) string { return w.domainID },
		run: s.execSyncWrites,
	}
}

// finishSyncsSQL updates the domains of a batch by compare-and-set and
// appends, for each, the outcome for whether its update matched. $1 to $6
// are the writes' domain ids and [SyncUpdate] fields, one element per
// write; $7 on are the outcome columns and, last, when_matched, one
// element per outcome.
var finishSyncsSQL = `
	WITH input AS (
		SELECT * FROM unnest($1::text[], $2::int8[], $3::text[], $4::bool[], $5::bool[], $6::timestamptz[])
			AS i(id, if_version, set_status, settle, synced, next_sync_at)
	),
	updated AS (
		UPDATE regsync.domains d SET
			status = coalesce(nullif(i.set_status, ''), d.status),
			version = d.version + CASE WHEN i.set_status <> '' AND i.set_status <> d.status THEN 1 ELSE 0 END,
			unconfirmed_from_status = CASE WHEN i.settle OR i.set_status <> '' THEN NULL ELSE d.unconfirmed_from_status END,
			last_synced_at = CASE WHEN i.synced THEN now() ELSE d.last_synced_at END,
			next_sync_at = i.next_sync_at
		FROM input i
		WHERE d.id = i.id AND (i.if_version = 0 OR d.version = i.if_version)
		RETURNING d.id
	),
	recorded AS (
		INSERT INTO regsync.status_sync_outcomes (` + outcomeColumns + `)
		SELECT ` + outcomeColumns + ` FROM unnest(` + outcomeArrayParams(7) + `, $` + fmt.Sprint(7+len(outcomeColumnTypes)) + `::bool[])
			AS o(` + outcomeColumns + `, when_matched)
		WHERE when_matched = (domain_id IN (SELECT id FROM updated))
		RETURNING domain_id
	)
	SELECT id, id IN (SELECT id FROM updated), id IN (SELECT domain_id FROM recorded) FROM input`

// outcomeArrayParams returns "$first::type[], ..." for outcomeColumnTypes.
func outcomeArrayParams(first int) string {
	params := make([]string, len(outcomeColumnTypes))
	for i, t := range outcomeColumnTypes {
		params[i] = fmt.Sprintf("$%d::%s[]", first+i, t)
	}
	return strings.Join(params, ", ")
}

// execSyncWrites writes batch with finishSyncsSQL.
func (s *Store) execSyncWrites(ctx context.Context, batch []syncWrite) ([]syncWritten, error) {
	ids := make([]string, len(batch))
	for i, w := range batch {
		ids[i] = w.domainID
	}
	args := make([][]any, 7+len(outcomeColumnTypes))
	addOutcome := func(o Outcome, whenMatched bool) {
		for i, v := range outcomeArgs(o) {
			args[6+i] = append(args[6+i], v)
		}
		args[len(args)-1] = append(args[len(args)-1], whenMatched)
	}
	for _, w := range batch {
		u := w.update
		for i, v := range []any{w.domainID, u.IfVersion, string(u.SetStatus), u.Settle, u.Synced, u.NextSyncAt} {
			args[i] = append(args[i], v)
		}
		addOutcome(w.ifMatched, true)
		if w.ifUnmatched != nil {
			addOutcome(*w.ifUnmatched, false)
		}
	}
	params := make([]any, len(args))
	for i := range args {
		params[i] = args[i]
	}
	rows, err := s.pool.Query(ctx, finishSyncsSQL, params...)
	if err != nil {
		return nil, fmt.Errorf("finish sync of %s: %w", domainsNamed(ids), err)
	}
	byID := make(map[string]syncWritten, len(batch))
	var id string
	var r syncWritten
	_, err = pgx.ForEachRow(rows, []any{&id, &r.matched, &r.recorded}, func() error {
		byID[id] = r
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("finish sync of %s: %w", domainsNamed(ids), err)
	}
	written := make([]syncWritten, len(batch))
	for i, w := range batch {
		written[i] = byID[w.domainID]
	}
	return written, nil
}
