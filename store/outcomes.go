package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/regsync/regsync/registrar"
)

// Outcome is the result of one status sync of one domain. Its JSON form is
// exactly the Hostup API v2 status-sync response: the 15 camelCase keys,
// with null where the API says string | null. The other fields are kept
// only in regsync.status_sync_outcomes.
type Outcome struct {
	ID                    string           `json:"id"`
	Name                  string           `json:"name"`
	PreviousStatus        registrar.Status `json:"previousStatus"`
	NewStatus             registrar.Status `json:"newStatus"`
	StatusChanged         bool             `json:"statusChanged"`
	StatusChangedToActive bool             `json:"statusChangedToActive"`
	SyncSuccess           bool             `json:"syncSuccess"`
	Info                  *string          `json:"info"`
	Error                 *string          `json:"error"`
	RevertAttempted       bool             `json:"revertAttempted"`
	RevertSucceeded       bool             `json:"revertSucceeded"`
	RevertError           *string          `json:"revertError"`
	DoubleSyncAttempted   bool             `json:"doubleSyncAttempted"`
	DoubleSyncSucceeded   bool             `json:"doubleSyncSucceeded"`
	DoubleSyncError       *string          `json:"doubleSyncError"`

	// Registrar is the adapter name that was read.
	Registrar string `json:"-"`
	// RawStatusFirst and RawStatusSecond are what the registrar reported on
	// the first and the confirming read; nil when that read did not happen
	// or failed.
	RawStatusFirst  *string `json:"-"`
	RawStatusSecond *string `json:"-"`
	// RegistrarRequestID is the registrar's id of the last request made.
	RegistrarRequestID *string `json:"-"`
	// ConfirmSource is the adapter that made the confirming read of a
	// guarded change, nil when there was none; ConfirmFallback says why
	// the configured second opinion did not decide, when the domain's own
	// registrar read again in its place.
	ConfirmSource   *string `json:"-"`
	ConfirmFallback *string `json:"-"`
	// Sponsor is the sponsoring registrar the read reported.
	Sponsor *string `json:"-"`
	// ExpiresAtBefore and ExpiresAtAfter are the domain's expiry date
	// before and after the sync; ExpiryError says why a reported date was
	// not applied.
	ExpiresAtBefore *time.Time `json:"-"`
	ExpiresAtAfter  *time.Time `json:"-"`
	ExpiryError     *string    `json:"-"`
	// TransferredAway: the read found the domain held by another
	// registrar, or unknown to its own.
	TransferredAway bool `json:"-"`
	// DryRun: the sync changed nothing; the other fields say what it would
	// have done.
	DryRun bool `json:"-"`
	// JobID is the River job that ran the sync; zero for a sync run from
	// the command line.
	JobID   int64 `json:"-"`
	Attempt int   `json:"-"`
	// JobAttemptedAt is when River started the job run, or the sync's
	// start for a run without a job; with JobID it names the run, and the
	// database holds at most one outcome per run.
	JobAttemptedAt time.Time `json:"-"`
	StartedAt      time.Time `json:"-"`
	FinishedAt     time.Time `json:"-"`
}

// outcomeColumns are the columns of regsync.status_sync_outcomes written
// from an [Outcome], in the order of [outcomeArgs].
const outcomeColumns = `domain_id, domain_name, registrar, previous_status, new_status,
	status_changed, status_changed_to_active, sync_success, info, error,
	revert_attempted, revert_succeeded, revert_error,
	double_sync_attempted, double_sync_succeeded, double_sync_error,
	raw_status_first, raw_status_second, registrar_request_id,
	confirm_source, confirm_fallback, sponsor, expires_at_before, expires_at_after, expiry_error, transferred_away, dry_run,
	job_id, attempt, job_attempted_at, started_at, finished_at`

// outcomeColumnTypes are the SQL types of outcomeColumns, in order.
var outcomeColumnTypes = []string{
	"text", "text", "text", "text", "text",
	"bool", "bool", "bool", "text", "text",
	"bool", "bool", "text",
	"bool", "bool", "text",
	"text", "text", "text",
	"text", "text", "text", "timestamptz", "timestamptz", "text", "bool", "bool",
	"int8", "int4", "timestamptz", "timestamptz", "timestamptz",
}

// outcomeArgs returns the values of outcomeColumns for o. Text that came
// from a registrar is cleaned and bounded again here, the last stop before
// the database, which refuses a NUL byte or invalid UTF-8. A run without a
// job is named by its own start.
func outcomeArgs(o Outcome) []any {
	var jobID *int64
	if o.JobID != 0 {
		jobID = &o.JobID
	}
	runStart := o.JobAttemptedAt
	if runStart.IsZero() {
		runStart = o.StartedAt
	}
	return []any{
		o.ID, o.Name, o.Registrar, string(o.PreviousStatus), string(o.NewStatus),
		o.StatusChanged, o.StatusChangedToActive, o.SyncSuccess, cleanMessage(o.Info), cleanMessage(o.Error),
		o.RevertAttempted, o.RevertSucceeded, cleanMessage(o.RevertError),
		o.DoubleSyncAttempted, o.DoubleSyncSucceeded, cleanMessage(o.DoubleSyncError),
		cleanText(o.RawStatusFirst, registrar.MaxRawBytes), cleanText(o.RawStatusSecond, registrar.MaxRawBytes),
		cleanText(o.RegistrarRequestID, registrar.MaxIDBytes),
		o.ConfirmSource, cleanMessage(o.ConfirmFallback), cleanText(o.Sponsor, registrar.MaxIDBytes),
		o.ExpiresAtBefore, o.ExpiresAtAfter, cleanMessage(o.ExpiryError), o.TransferredAway, o.DryRun,
		jobID, o.Attempt, runStart, o.StartedAt, o.FinishedAt,
	}
}

// cleanText returns s cleaned and cut to limit bytes by
// [registrar.CleanText]; nil stays nil.
func cleanText(s *string, limit int) *string {
	if s == nil {
		return nil
	}
	clean := registrar.CleanText(*s, limit)
	return &clean
}

// cleanMessage is cleanText for messages: info, errors and their like.
func cleanMessage(s *string) *string { return cleanText(s, registrar.MaxMessageBytes) }

// scanOutcome reads a row of outcomeColumns.
func scanOutcome(row pgx.Row) (Outcome, error) {
	var o Outcome
	var jobID *int64
	err := row.Scan(&o.ID, &o.Name, &o.Registrar, &o.PreviousStatus, &o.NewStatus,
		&o.StatusChanged, &o.StatusChangedToActive, &o.SyncSuccess, &o.Info, &o.Error,
		&o.RevertAttempted, &o.RevertSucceeded, &o.RevertError,
		&o.DoubleSyncAttempted, &o.DoubleSyncSucceeded, &o.DoubleSyncError,
		&o.RawStatusFirst, &o.RawStatusSecond, &o.RegistrarRequestID,
		&o.ConfirmSource, &o.ConfirmFallback, &o.Sponsor, &o.ExpiresAtBefore, &o.ExpiresAtAfter, &o.ExpiryError, &o.TransferredAway, &o.DryRun,
		&jobID, &o.Attempt, &o.JobAttemptedAt, &o.StartedAt, &o.FinishedAt)
	if jobID != nil {
		o.JobID = *jobID
	}
	return o, err
}

// runOutcomeSQL reads the outcome a job run recorded, by the run's key.
const runOutcomeSQL = `SELECT ` + outcomeColumns + ` FROM regsync.status_sync_outcomes
	WHERE job_attempted_at = $1 AND job_id = $2 AND domain_id = $3`

// runOutcome returns the outcome a job run recorded for the domain, or an
// error wrapping [pgx.ErrNoRows] when it recorded none.
func (s *Store) runOutcome(ctx context.Context, domainID string, jobID int64, attemptedAt time.Time) (Outcome, error) {
	o, err := scanOutcome(s.pool.QueryRow(ctx, runOutcomeSQL, attemptedAt, jobID, domainID))
	if err != nil {
		return Outcome{}, fmt.Errorf("read the outcome job %d recorded for domain %s: %w", jobID, domainID, err)
	}
	return o, nil
}
