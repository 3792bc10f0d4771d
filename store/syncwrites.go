package store

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/regsync/regsync/registrar"
)

// syncWrite is the last write of one sync: a domain update, and the
// outcome to append when the update matched or, when it did not, the
// other one. A nil outcome makes that case append nothing.
type syncWrite struct {
	domainID  string
	update    SyncUpdate
	ifMatched *Outcome
	ifLost    *Outcome
}

// syncWritten is what a [syncWrite] did.
type syncWritten struct {
	// skipped: the domain row was held by another writer, or is gone, and
	// the write was not made.
	skipped bool
	// matched: the compare-and-set matched. recorded: the outcome was
	// appended.
	matched, recorded bool
}

func newSyncWrites(s *Store) *batcher[syncWrite, syncWritten] {
	return &batcher[syncWrite, syncWritten]{
		key: func(w syncWrite) string { return w.domainID },
		run: func(ctx context.Context, batch []syncWrite) ([]syncWritten, error) {
			return s.execSyncWrites(ctx, batch, finishSyncsSkipLockedSQL)
		},
	}
}

// finishSyncsSQL updates the domains of a batch by compare-and-set and
// appends, for each, the outcome for whether its update matched. $1 to
// $12 are the writes' domain ids and [SyncUpdate] fields, one element per
// write; $13 on are the outcome columns and, last, when_matched, one
// element per outcome. %s is how the domain rows are locked.
//
// The rows are locked first: a write whose row is held by another writer
// is skipped (reported as skipped) instead of holding up the whole
// batch, and runs alone afterwards. An outcome of a job run that is
// already recorded is not recorded again. Every write that changes a
// domain's status, or confirms a guarded change, is published by
// regsync.publish_status_changes: on the channel regsync.status_changes as
// JSON, event (changed, unconfirmed, confirmed, reverted), domain_id,
// from, to and outcome_id (null for a guarded change applied before its
// double sync), and to the webhook subscriptions of its event, whose
// deliveries are enqueued in the same statement.
var finishSyncsSQL = `
	WITH input AS (
		SELECT * FROM unnest($1::text[], $2::int8[], $3::bool[], $4::text[], $5::text[], $6::text[],
				$7::bool[], $8::bool[], $9::bool[], $10::timestamptz[], $11::timestamptz[], $12::text[])
			AS i(id, if_version, required, set_status, unconfirmed_from, unconfirmed_raw,
				settle, count_confirm_failure, synced, next_sync_at, set_expires_at, transferred_away)
	),
	locked AS (
		SELECT d.id, (i.if_version = 0 OR d.version = i.if_version) AS matched, i.required,
			d.status AS old_status, d.unconfirmed_from_status AS old_unconfirmed_from
		FROM regsync.domains d JOIN input i ON i.id = d.id
		ORDER BY d.id
		%s
	),
	updated AS (
		UPDATE regsync.domains d SET
			status = CASE WHEN l.matched AND i.set_status <> '' THEN i.set_status ELSE d.status END,
			version = d.version + CASE WHEN l.matched AND i.set_status <> '' AND i.set_status <> d.status THEN 1 ELSE 0 END,
			unconfirmed_from_status = CASE
				WHEN NOT l.matched THEN d.unconfirmed_from_status
				WHEN i.unconfirmed_from <> '' THEN i.unconfirmed_from
				WHEN i.settle OR i.set_status <> '' THEN NULL
				ELSE d.unconfirmed_from_status END,
			unconfirmed_raw_status = CASE
				WHEN NOT l.matched THEN d.unconfirmed_raw_status
				WHEN i.unconfirmed_from <> '' THEN i.unconfirmed_raw
				WHEN i.settle OR i.set_status <> '' THEN NULL
				ELSE d.unconfirmed_raw_status END,
			unconfirmed_at = CASE
				WHEN NOT l.matched THEN d.unconfirmed_at
				WHEN i.unconfirmed_from <> '' THEN now()
				WHEN i.settle OR i.set_status <> '' THEN NULL
				ELSE d.unconfirmed_at END,
			confirm_failures = CASE
				WHEN NOT l.matched THEN d.confirm_failures
				WHEN i.count_confirm_failure THEN d.confirm_failures + 1
				WHEN i.unconfirmed_from <> '' OR i.settle OR i.set_status <> '' THEN 0
				ELSE d.confirm_failures END,
			last_synced_at = CASE WHEN l.matched AND i.synced THEN now() ELSE d.last_synced_at END,
			expires_at = CASE WHEN l.matched AND i.set_expires_at IS NOT NULL THEN i.set_expires_at ELSE d.expires_at END,
			transferred_away_at = CASE
				WHEN NOT l.matched THEN d.transferred_away_at
				WHEN i.transferred_away = 'seen' THEN coalesce(d.transferred_away_at, now())
				WHEN i.transferred_away = 'clear' THEN NULL
				ELSE d.transferred_away_at END,
			next_sync_at = CASE WHEN l.matched THEN i.next_sync_at ELSE now() END,
			-- Every write but a guarded change's is the sync's last: the
			-- domain is no longer queued and the sweep may claim it again.
			queued_at = CASE WHEN l.matched AND i.unconfirmed_from <> '' THEN d.queued_at END
		FROM input i JOIN locked l ON l.id = i.id
		WHERE d.id = i.id AND (l.matched OR NOT l.required)
		RETURNING d.id, d.status
	),
	recorded AS (
		INSERT INTO regsync.status_sync_outcomes (` + outcomeColumns + `)
		SELECT ` + outcomeColumns + ` FROM unnest(` + outcomeArrayParams(13) + `, $` + fmt.Sprint(13+len(outcomeColumnTypes)) + `::bool[])
			AS o(` + outcomeColumns + `, when_matched)
		JOIN locked l ON l.id = o.domain_id
		WHERE o.when_matched = l.matched AND (l.matched OR NOT l.required)
		ON CONFLICT (job_id, job_attempted_at) DO NOTHING
		RETURNING id, domain_id
	),
	changes AS (
		SELECT u.id, r.id AS outcome_id, u.status, CASE
				WHEN i.unconfirmed_from <> '' THEN 'unconfirmed'
				WHEN i.settle AND l.old_unconfirmed_from IS NOT NULL THEN 'confirmed'
				WHEN u.status <> l.old_status AND l.old_unconfirmed_from IS NOT NULL THEN 'reverted'
				WHEN u.status <> l.old_status THEN 'changed'
			END AS event,
			CASE WHEN i.settle THEN l.old_unconfirmed_from ELSE l.old_status END AS from_status
		FROM updated u JOIN locked l ON l.id = u.id JOIN input i ON i.id = u.id
		LEFT JOIN recorded r ON r.domain_id = u.id
		WHERE l.matched
	),
	-- Other services learn of status changes when this transaction
	-- commits, which is when PostgreSQL delivers notifications and the
	-- webhook deliveries' jobs become visible. A batch without a change
	-- makes no call.
	notified AS (
		SELECT regsync.publish_status_changes(array_agg((event, id, from_status, status, outcome_id)::regsync.status_change))
		FROM changes WHERE event IS NOT NULL HAVING count(*) > 0
	)
	SELECT i.id, l.id IS NULL, coalesce(l.matched, false), i.id IN (SELECT domain_id FROM recorded)
	FROM input i LEFT JOIN locked l ON l.id = i.id
	-- A query that no result depends on is not run: count the
	-- notifications so that they are sent.
	WHERE (SELECT count(*) FROM notified) >= 0`

// The two ways finishSyncsSQL locks: batches skip held rows, a write run
// alone waits for its row up to the lock timeout.
var (
	finishSyncsSkipLockedSQL = fmt.Sprintf(finishSyncsSQL, "FOR UPDATE OF d SKIP LOCKED")
	finishSyncsWaitSQL       = fmt.Sprintf(finishSyncsSQL, "FOR UPDATE OF d")
)

// outcomeArrayParams returns "$first::type[], ..." for outcomeColumnTypes.
func outcomeArrayParams(first int) string {
	params := make([]string, len(outcomeColumnTypes))
	for i, t := range outcomeColumnTypes {
		params[i] = fmt.Sprintf("$%d::%s[]", first+i, t)
	}
	return strings.Join(params, ", ")
}

// write runs w, batched with concurrent writes, and returns the outcome it
// recorded, or the one a run of the same job recorded before.
func (s *Store) write(ctx context.Context, w syncWrite) (Outcome, error) {
	r, err := s.syncWrites.do(ctx, w)
	if err == nil && r.skipped {
		// Held by another writer: wait for the row alone, so that only
		// this sync waits. A caller whose context ended gives up instead.
		if err = ctx.Err(); err == nil {
			err = s.inTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
				written, err := s.execSyncWritesTx(ctx, tx, []syncWrite{w}, finishSyncsWaitSQL)
				if err == nil {
					r = written[0]
				}
				return err
			})
		}
		if err == nil && r.skipped {
			err = fmt.Errorf("finish sync of domain %s: %w", w.domainID, ErrDomainNotFound)
		}
	}
	if err != nil {
		return Outcome{}, err
	}
	recorded := w.ifLost
	if r.matched {
		recorded = w.ifMatched
	}
	switch {
	case r.recorded:
		return *recorded, nil
	case recorded != nil && recorded.JobID != 0:
		// The outcome was not appended: either this job run recorded one
		// already, whose commit its caller could not see, or a required
		// compare-and-set lost.
		prior, err := s.runOutcome(ctx, recorded.ID, recorded.JobID, recorded.JobAttemptedAt)
		if err == nil || !errors.Is(err, pgx.ErrNoRows) {
			return prior, err
		}
	}
	if !r.matched && w.update.Required {
		return Outcome{}, fmt.Errorf("finish sync of domain %s at version %d: %w", w.domainID, w.update.IfVersion, ErrVersionConflict)
	}
	return Outcome{}, nil
}

// execSyncWrites runs batch with sql in a transaction bounded by the
// store's timeouts.
func (s *Store) execSyncWrites(ctx context.Context, batch []syncWrite, sql string) ([]syncWritten, error) {
	var written []syncWritten
	err := s.inTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		var err error
		written, err = s.execSyncWritesTx(ctx, tx, batch, sql)
		return err
	})
	return written, err
}

// execSyncWritesTx runs batch with sql, one of the finishSyncsSQL forms,
// in tx.
func (s *Store) execSyncWritesTx(ctx context.Context, tx pgx.Tx, batch []syncWrite, sql string) ([]syncWritten, error) {
	ids := make([]string, len(batch))
	for i, w := range batch {
		ids[i] = w.domainID
	}
	const updateParams = 12
	args := make([][]any, updateParams+len(outcomeColumnTypes)+1)
	addOutcome := func(o *Outcome, whenMatched bool) {
		if o == nil {
			return
		}
		for i, v := range outcomeArgs(*o) {
			args[updateParams+i] = append(args[updateParams+i], v)
		}
		args[len(args)-1] = append(args[len(args)-1], whenMatched)
	}
	for _, w := range batch {
		u := w.update
		var from registrar.Status
		var raw string
		if u.Unconfirmed != nil {
			from, raw = u.Unconfirmed.From, registrar.CleanText(u.Unconfirmed.Raw, registrar.MaxRawBytes)
		}
		for i, v := range []any{w.domainID, u.IfVersion, u.Required, string(u.SetStatus), string(from), raw,
			u.Settle, u.CountConfirmFailure, u.Synced, u.NextSyncAt, u.SetExpiresAt, string(u.TransferredAway)} {
			args[i] = append(args[i], v)
		}
		addOutcome(w.ifMatched, true)
		addOutcome(w.ifLost, false)
	}
	params := make([]any, len(args))
	for i := range args {
		params[i] = args[i]
	}
	rows, err := tx.Query(ctx, sql, params...)
	if err != nil {
		return nil, fmt.Errorf("finish sync of %s: %w", domainsNamed(ids), err)
	}
	byID := make(map[string]syncWritten, len(batch))
	var id string
	var r syncWritten
	_, err = pgx.ForEachRow(rows, []any{&id, &r.skipped, &r.matched, &r.recorded}, func() error {
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
