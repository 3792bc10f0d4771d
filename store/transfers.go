package store

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/regsync/regsync/internal/secret"
	"github.com/regsync/regsync/registrar"
)

// Errors of the transfer store.
var (
	// ErrTransferNotFound means no transfer has the given id.
	ErrTransferNotFound = errors.New("transfer not found")
	// ErrTransferFinal means the transfer reached a final state and takes
	// no more changes.
	ErrTransferFinal = errors.New("transfer is in a final state")
	// ErrTransferForbidden means a reset named an account the transfer does
	// not belong to.
	ErrTransferForbidden = errors.New("transfer belongs to another account")
	// ErrTransferNotResettable means the transfer runs at the registry and
	// cannot be reset now.
	ErrTransferNotResettable = errors.New("transfer is in progress at the registry")
	// ErrAuthInfoRequired means the registry refused the transfer's authInfo
	// and a reset must supply a new one.
	ErrAuthInfoRequired = errors.New("the registry refused the transfer's authInfo; a reset must supply a new one")
)

// TransferState is the state of a blocked transfer in regsync.transfers.
type TransferState string

// The transfer states; see the migration for their meaning.
const (
	TransferBlocked         TransferState = "blocked"
	TransferWaitingAuthInfo TransferState = "waiting_auth_info"
	TransferInProgress      TransferState = "in_progress"
	TransferCompleted       TransferState = "completed"
	TransferClosed          TransferState = "closed"
	TransferForbidden       TransferState = "forbidden"
	TransferExpired         TransferState = "expired"
	TransferFailed          TransferState = "failed"
)

// TransferStates lists every transfer state.
var TransferStates = []TransferState{
	TransferBlocked, TransferWaitingAuthInfo, TransferInProgress,
	TransferCompleted, TransferClosed, TransferForbidden, TransferExpired, TransferFailed,
}

// Final reports whether the transfer takes no more retries.
func (s TransferState) Final() bool {
	switch s {
	case TransferBlocked, TransferWaitingAuthInfo, TransferInProgress:
		return false
	default:
		return true
	}
}

// BlockReasons lists why a transfer can block, as the registrar API
// describes it.
var BlockReasons = []string{
	"registry_status", "wrong_auth_info", "registered_recently", "rejected", "no_response", "already_pending", "unknown",
}

// transferIDPattern is the CHECK constraint on regsync.transfers.id.
var transferIDPattern = regexp.MustCompile(`^trf_[0-9a-z]{1,60}$`)

// ValidateTransferID returns an error saying what is wrong when id cannot
// be a transfer id.
func ValidateTransferID(id string) error {
	if !transferIDPattern.MatchString(id) {
		return fmt.Errorf("invalid transfer id %q: want trf_ followed by 1 to 60 lower-case letters or digits", id)
	}
	return nil
}

// Transfer is a row of regsync.transfers. Its authInfo stays sealed and
// is left out of its JSON form.
type Transfer struct {
	ID              string        `json:"id"`
	AccountNumber   string        `json:"accountNumber"`
	DomainName      string        `json:"domainName"`
	Registrar       string        `json:"registrar"`
	State           TransferState `json:"state"`
	BlockReason     string        `json:"blockReason"`
	RegistrarReason string        `json:"registrarReason,omitempty"`
	BlockedSince    time.Time     `json:"blockedSince"`
	// RegisteredAt is when the domain was registered or last transferred;
	// zero when unknown.
	RegisteredAt time.Time `json:"registeredAt"`
	Deadline     time.Time `json:"deadline"`
	Attempts     int       `json:"attempts"`
	Conflicts    int       `json:"conflicts"`
	NextRetryAt  time.Time `json:"nextRetryAt"`
	LastResult   string    `json:"lastResult,omitempty"`
	// AuthInfo is the current authInfo, sealed; nil when none was given.
	AuthInfo *secret.Sealed `json:"-"`
	// HasPreviousAuthInfo reports whether a value to revert to is kept.
	HasPreviousAuthInfo bool `json:"hasPreviousAuthInfo"`
	// AuthInfoUnsent is true while the current authInfo was supplied and
	// not yet sent to the registrar.
	AuthInfoUnsent  bool  `json:"authInfoUnsent"`
	AuthInfoVersion int64 `json:"authInfoVersion"`
	// Version is bumped by every write of an attempt, an authInfo or a
	// reset request; attempts write by compare-and-set on it.
	Version int64 `json:"version"`
}

// NewTransfer is a blocked transfer to add.
type NewTransfer struct {
	ID              string
	AccountNumber   string
	DomainName      string
	Registrar       string
	BlockReason     string
	RegistrarReason string
	// BlockedSince defaults to now; Deadline to BlockedSince plus 60 days.
	BlockedSince time.Time
	Deadline     time.Time
	RegisteredAt time.Time
}

const transferColumns = `id, account_number, domain_name, registrar, state, block_reason,
	coalesce(registrar_reason, ''), blocked_since, registered_at, deadline, attempts, conflicts,
	next_retry_at, coalesce(last_result, ''), auth_info_key_id, auth_info_ciphertext,
	previous_auth_info_key_id IS NOT NULL, auth_info_unsent, auth_info_version, version`

func scanTransfer(row pgx.Row) (Transfer, error) {
	var t Transfer
	var registeredAt *time.Time
	var keyID *string
	var ciphertext []byte
	err := row.Scan(&t.ID, &t.AccountNumber, &t.DomainName, &t.Registrar, &t.State, &t.BlockReason,
		&t.RegistrarReason, &t.BlockedSince, &registeredAt, &t.Deadline, &t.Attempts, &t.Conflicts,
		&t.NextRetryAt, &t.LastResult, &keyID, &ciphertext,
		&t.HasPreviousAuthInfo, &t.AuthInfoUnsent, &t.AuthInfoVersion, &t.Version)
	if registeredAt != nil {
		t.RegisteredAt = *registeredAt
	}
	if keyID != nil {
		t.AuthInfo = &secret.Sealed{KeyID: *keyID, Ciphertext: ciphertext}
	}
	return t, err
}

// AddTransfer inserts a blocked transfer, due for a retry at once.
func (s *Store) AddTransfer(ctx context.Context, t NewTransfer) error {
	_, err := s.pool.Exec(ctx, `
		INSERT INTO regsync.transfers (id, account_number, domain_name, registrar, block_reason, registrar_reason,
			blocked_since, deadline, registered_at)
		VALUES ($1, $2, $3, $4, $5, nullif($6, ''), coalesce($7, now()), $8, $9)`,
		t.ID, t.AccountNumber, t.DomainName, t.Registrar, t.BlockReason, t.RegistrarReason,
		zeroNil(t.BlockedSince), zeroNil(t.Deadline), zeroNil(t.RegisteredAt))
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.ConstraintName == "transfers_open_domain_idx" {
		return fmt.Errorf("add transfer %s: %s already has an open transfer", t.ID, t.DomainName)
	}
	if err != nil {
		return fmt.Errorf("add transfer %s: %w", t.ID, err)
	}
	return nil
}

func zeroNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// Transfer returns the transfer with the given id, or an error wrapping
// [ErrTransferNotFound].
func (s *Store) Transfer(ctx context.Context, id string) (Transfer, error) {
	t, err := scanTransfer(s.pool.QueryRow(ctx, `SELECT `+transferColumns+` FROM regsync.transfers WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Transfer{}, fmt.Errorf("transfer %s: %w", id, ErrTransferNotFound)
	}
	if err != nil {
		return Transfer{}, fmt.Errorf("read transfer %s: %w", id, err)
	}
	return t, nil
}

// Transfers lists transfers, those in state only when state is not empty,
// oldest first.
func (s *Store) Transfers(ctx context.Context, state TransferState) ([]Transfer, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+transferColumns+` FROM regsync.transfers
		WHERE $1 = '' OR state = $1 ORDER BY created_at, id`, string(state))
	if err != nil {
		return nil, fmt.Errorf("list transfers: %w", err)
	}
	transfers, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Transfer, error) { return scanTransfer(row) })
	if err != nil {
		return nil, fmt.Errorf("list transfers: %w", err)
	}
	return transfers, nil
}

// AuthInfoContext is the additional data a transfer's authInfo is sealed
// with, so that a ciphertext copied to another transfer does not open.
func AuthInfoContext(transferID string) string {
	return "regsync.transfers/" + transferID + "/auth_info"
}

// ResetRequest asks for a blocked transfer to be retried now, as the HTTP
// API's transfer reset and "regsync transfer set-auth-info" do.
type ResetRequest struct {
	// TransferID names the transfer. When it is empty, DomainName (IDNA-
	// normalized) names the domain whose open transfer is meant.
	TransferID string
	DomainName string
	// Account, when not empty, must be the account the transfer belongs to.
	Account string
	// AuthInfo is a new authInfo for the retry to send; empty sends none.
	AuthInfo string
	// Force resets a transfer that is in progress at the registry too: an
	// operator's override.
	Force bool
}

// ResetRequested is what [Store.RequestReset] did.
type ResetRequested struct {
	TransferID string
	// JobID is the retry job enqueued; zero when one was already pending.
	JobID int64
}

// RequestReset applies the reset rules to the transfer under its row lock
// and, when they allow the reset, stores the new authInfo sealed with
// keyring, keeping the current one as the value to revert to, makes the
// transfer blocked and due at once, and enqueues its retry, all in one
// transaction. The rules, each a typed error: the transfer must exist
// ([ErrTransferNotFound]), be open ([ErrTransferFinal]), belong to the
// account named ([ErrTransferForbidden]), not run at the registry unless
// forced ([ErrTransferNotResettable]), and, when the registry refused its
// authInfo, come with a new one ([ErrAuthInfoRequired]). An invalid
// authInfo stores nothing; neither it nor any part of it appears in an
// error.
func (s *Store) RequestReset(ctx context.Context, keyring *secret.Keyring, r ResetRequest) (ResetRequested, error) {
	var sealed secret.Sealed
	if r.AuthInfo != "" {
		if err := registrar.ValidateAuthInfo(r.AuthInfo); err != nil {
			return ResetRequested{}, err
		}
		if keyring == nil {
			return ResetRequested{}, errors.New("store an authInfo: no secret key configured (REGSYNC_SECRET_KEY)")
		}
	}
	var done ResetRequested
	err := s.inTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		var id, account string
		var state TransferState
		err := tx.QueryRow(ctx, `
			SELECT id, account_number, state FROM regsync.transfers
			WHERE CASE WHEN $1 <> '' THEN id = $1
				ELSE domain_name = $2 AND state IN ('blocked', 'waiting_auth_info', 'in_progress') END
			FOR UPDATE`, r.TransferID, r.DomainName).Scan(&id, &account, &state)
		name := cmp.Or(r.TransferID, "of "+r.DomainName)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			return fmt.Errorf("transfer %s: %w", name, ErrTransferNotFound)
		case err != nil:
			return fmt.Errorf("reset transfer %s: %w", name, err)
		case state.Final():
			return fmt.Errorf("transfer %s is %s: %w", id, state, ErrTransferFinal)
		case r.Account != "" && r.Account != account:
			return fmt.Errorf("transfer %s: %w", id, ErrTransferForbidden)
		case state == TransferInProgress && !r.Force:
			return fmt.Errorf("transfer %s: %w", id, ErrTransferNotResettable)
		case state == TransferWaitingAuthInfo && r.AuthInfo == "":
			return fmt.Errorf("transfer %s: %w", id, ErrAuthInfoRequired)
		}
		if r.AuthInfo != "" {
			sealed = keyring.Seal([]byte(r.AuthInfo), AuthInfoContext(id))
		}
		// A value supplied but never sent is replaced, not kept to revert
		// to: the registrar never saw it.
		_, err = tx.Exec(ctx, `
			UPDATE regsync.transfers SET
				previous_auth_info_key_id = CASE WHEN $2 = '' OR auth_info_unsent THEN previous_auth_info_key_id ELSE auth_info_key_id END,
				previous_auth_info_ciphertext = CASE WHEN $2 = '' OR auth_info_unsent THEN previous_auth_info_ciphertext ELSE auth_info_ciphertext END,
				auth_info_key_id = CASE WHEN $2 = '' THEN auth_info_key_id ELSE $2 END,
				auth_info_ciphertext = CASE WHEN $2 = '' THEN auth_info_ciphertext ELSE $3 END,
				auth_info_unsent = auth_info_unsent OR $2 <> '',
				auth_info_version = auth_info_version + CASE WHEN $2 = '' THEN 0 ELSE 1 END,
				state = 'blocked',
				next_retry_at = now(),
				version = version + 1
			WHERE id = $1`, id, sealed.KeyID, sealed.Ciphertext)
		if err != nil {
			return fmt.Errorf("reset transfer %s: %w", id, err)
		}
		var jobID *int64
		if err := tx.QueryRow(ctx, `SELECT regsync.enqueue_transfer_retry($1)`, id).Scan(&jobID); err != nil {
			return fmt.Errorf("enqueue a retry of transfer %s: %w", id, err)
		}
		done = ResetRequested{TransferID: id}
		if jobID != nil {
			done.JobID = *jobID
		}
		return nil
	})
	return done, err
}

// TransferAttempts returns the transfer's attempts, oldest first.
func (s *Store) TransferAttempts(ctx context.Context, transferID string) ([]TransferAttempt, error) {
	rows, err := s.pool.Query(ctx, transferAttemptsSQL, transferID)
	if err != nil {
		return nil, fmt.Errorf("list attempts of transfer %s: %w", transferID, err)
	}
	attempts, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (TransferAttempt, error) { return scanAttempt(row) })
	if err != nil {
		return nil, fmt.Errorf("list attempts of transfer %s: %w", transferID, err)
	}
	return attempts, nil
}

// TransferAttempt is one retry of a transfer, a row of
// regsync.transfer_attempts, and in JSON the transfer_retry job's output.
// It never holds the authInfo.
type TransferAttempt struct {
	TransferID string `json:"transferId"`
	Registrar  string `json:"registrar"`
	// Result names what the attempt found and did, for example accepted,
	// invalid, conflict or expired.
	Result string `json:"result"`
	// HTTPStatus is the reset call's status; zero when none was made.
	HTTPStatus int `json:"httpStatus,omitempty"`
	// SentNewAuthInfo reports whether the reset sent a newly supplied
	// authInfo.
	SentNewAuthInfo bool `json:"sentNewAuthInfo"`
	// TransferStatusCode and TransferStatus are the status read before the
	// reset; nil and empty when none was read.
	TransferStatusCode  *int          `json:"transferStatusCode"`
	TransferStatus      string        `json:"transferStatus,omitempty"`
	RegistrarRequestID  string        `json:"registrarRequestId,omitempty"`
	StateBefore         TransferState `json:"stateBefore"`
	StateAfter          TransferState `json:"stateAfter"`
	Error               *string       `json:"error"`
	DoubleSyncAttempted bool          `json:"doubleSyncAttempted"`
	DoubleSyncSucceeded bool          `json:"doubleSyncSucceeded"`
	DoubleSyncError     *string       `json:"doubleSyncError"`
	RevertAttempted     bool          `json:"revertAttempted"`
	RevertSucceeded     bool          `json:"revertSucceeded"`
	RevertError         *string       `json:"revertError"`
	JobID               int64         `json:"-"`
	Attempt             int           `json:"-"`
	// JobAttemptedAt is when River started the job run; with JobID it
	// names the run.
	JobAttemptedAt time.Time `json:"-"`
	StartedAt      time.Time `json:"startedAt"`
	FinishedAt     time.Time `json:"finishedAt"`
}

// TransferUpdate is what a retry attempt does to the transfer.
type TransferUpdate struct {
	// IfVersion is the transfer version the attempt read: the update is
	// made only if the transfer is still at it.
	IfVersion int64
	State     TransferState
	// CountAttempt adds one to the reset attempts; CountConflict to the
	// 409 answers.
	CountAttempt  bool
	CountConflict bool
	NextRetryAt   time.Time
	// AuthInfoSent marks the current authInfo as sent.
	AuthInfoSent bool
	// RevertAuthInfo puts back the previous authInfo: a registry rejected
	// the new one.
	RevertAuthInfo bool
}

// ErrTransferChanged means a transfer changed since an attempt read it: a
// new authInfo or reset request came in, or another run wrote first.
var ErrTransferChanged = errors.New("transfer changed since it was read")

// UpdateTransfer applies u to the transfer by compare-and-set, without
// recording an attempt, and returns the new version. An attempt calls it
// to record what must not be lost before the attempt ends, an accepted
// reset for example. A lost compare-and-set is an error wrapping
// [ErrTransferChanged].
func (s *Store) UpdateTransfer(ctx context.Context, transferID string, u TransferUpdate) (int64, error) {
	var version int64
	err := s.inTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		var err error
		version, err = updateTransfer(ctx, tx, transferID, u, "")
		return err
	})
	return version, err
}

// updateTransfer applies u to the transfer in tx and returns the new
// version; result, when not empty, becomes its last result.
func updateTransfer(ctx context.Context, tx pgx.Tx, transferID string, u TransferUpdate, result string) (int64, error) {
	var version int64
	err := tx.QueryRow(ctx, `
		UPDATE regsync.transfers SET
			auth_info_key_id = CASE WHEN $8 THEN previous_auth_info_key_id ELSE auth_info_key_id END,
			auth_info_ciphertext = CASE WHEN $8 THEN previous_auth_info_ciphertext ELSE auth_info_ciphertext END,
			previous_auth_info_key_id = CASE WHEN $8 THEN NULL ELSE previous_auth_info_key_id END,
			previous_auth_info_ciphertext = CASE WHEN $8 THEN NULL ELSE previous_auth_info_ciphertext END,
			auth_info_version = auth_info_version + CASE WHEN $8 THEN 1 ELSE 0 END,
			auth_info_unsent = auth_info_unsent AND NOT ($7 OR $8),
			state = $3,
			attempts = attempts + CASE WHEN $4 THEN 1 ELSE 0 END,
			conflicts = conflicts + CASE WHEN $5 THEN 1 ELSE 0 END,
			next_retry_at = $6,
			last_result = coalesce(nullif($9, ''), last_result),
			last_attempt_at = now(),
			version = version + 1
		WHERE id = $1 AND version = $2
		RETURNING version`, transferID, u.IfVersion, string(u.State), u.CountAttempt, u.CountConflict,
		u.NextRetryAt, u.AuthInfoSent, u.RevertAuthInfo, result).Scan(&version)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, fmt.Errorf("update transfer %s at version %d: %w", transferID, u.IfVersion, ErrTransferChanged)
	}
	if err != nil {
		return 0, fmt.Errorf("update transfer %s: %w", transferID, err)
	}
	return version, nil
}

// FinishTransferAttempt ends a retry attempt in one transaction: it
// updates the transfer as u says, by compare-and-set, and appends the
// attempt row. With u.RevertAuthInfo it sets the attempt's revert fields.
// An attempt that lost its compare-and-set (the transfer changed while it
// ran) changes nothing and is recorded as "superseded", with what it found
// kept in its error. A job run records at most one attempt: when this run
// recorded one already (the rerun of a write whose commit was in doubt),
// that one is returned and nothing changes. It returns the recorded
// attempt.
func (s *Store) FinishTransferAttempt(ctx context.Context, u TransferUpdate, a TransferAttempt) (TransferAttempt, error) {
	if a.JobAttemptedAt.IsZero() {
		a.JobAttemptedAt = a.StartedAt
	}
	err := s.inTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		var current TransferState
		err := tx.QueryRow(ctx, `SELECT state FROM regsync.transfers WHERE id = $1 FOR UPDATE`, a.TransferID).Scan(&current)
		if err != nil {
			return fmt.Errorf("lock transfer %s: %w", a.TransferID, err)
		}
		if a.JobID != 0 {
			prior, err := scanAttempt(tx.QueryRow(ctx, runAttemptSQL, a.JobAttemptedAt, a.JobID))
			switch {
			case err == nil:
				a = prior
				return nil
			case !errors.Is(err, pgx.ErrNoRows):
				return fmt.Errorf("read the attempt job %d recorded: %w", a.JobID, err)
			}
		}
		_, err = updateTransfer(ctx, tx, a.TransferID, u, a.Result)
		switch {
		case errors.Is(err, ErrTransferChanged):
			a.Error = text(fmt.Sprintf("superseded: the transfer changed while this attempt ran, so its result %q was not applied", a.Result))
			a.Result, a.StateAfter = "superseded", current
			if u.RevertAuthInfo {
				a.RevertAttempted = true
				a.RevertError = text("the transfer changed meanwhile, a newer authInfo may have been supplied; nothing was reverted")
			}
		case err != nil:
			return err
		default:
			a.StateAfter = u.State
			a.RevertAttempted, a.RevertSucceeded = u.RevertAuthInfo, u.RevertAuthInfo
		}
		return insertAttempt(ctx, tx, a)
	})
	if err != nil {
		return TransferAttempt{}, err
	}
	return a, nil
}

// The reads of transfer attempts: a transfer's, oldest first, and the one a
// job run recorded, by the run's key.
var (
	transferAttemptsSQL = `SELECT ` + attemptColumns + ` FROM regsync.transfer_attempts WHERE transfer_id = $1 ORDER BY id`
	runAttemptSQL       = `SELECT ` + attemptColumns + ` FROM regsync.transfer_attempts WHERE job_attempted_at = $1 AND job_id = $2`
)

// attemptColumns are the columns of regsync.transfer_attempts that
// [scanAttempt] reads, in the order of [TransferAttempt]'s fields.
const attemptColumns = `transfer_id, registrar, result, coalesce(http_status, 0), sent_new_auth_info,
	transfer_status_code, coalesce(transfer_status, ''), coalesce(registrar_request_id, ''),
	state_before, state_after, error, double_sync_attempted, double_sync_succeeded, double_sync_error,
	revert_attempted, revert_succeeded, revert_error, coalesce(job_id, 0), attempt,
	job_attempted_at, started_at, finished_at`

func scanAttempt(row pgx.Row) (TransferAttempt, error) {
	var a TransferAttempt
	err := row.Scan(&a.TransferID, &a.Registrar, &a.Result, &a.HTTPStatus, &a.SentNewAuthInfo,
		&a.TransferStatusCode, &a.TransferStatus, &a.RegistrarRequestID,
		&a.StateBefore, &a.StateAfter, &a.Error, &a.DoubleSyncAttempted, &a.DoubleSyncSucceeded, &a.DoubleSyncError,
		&a.RevertAttempted, &a.RevertSucceeded, &a.RevertError, &a.JobID, &a.Attempt,
		&a.JobAttemptedAt, &a.StartedAt, &a.FinishedAt)
	return a, err
}

// insertAttempt appends a, its registrar text cleaned, in tx.
func insertAttempt(ctx context.Context, tx pgx.Tx, a TransferAttempt) error {
	var jobID *int64
	if a.JobID != 0 {
		jobID = &a.JobID
	}
	var httpStatus *int
	if a.HTTPStatus != 0 {
		httpStatus = &a.HTTPStatus
	}
	_, err := tx.Exec(ctx, `
		INSERT INTO regsync.transfer_attempts (transfer_id, registrar, result, http_status, sent_new_auth_info,
			transfer_status_code, transfer_status, registrar_request_id, state_before, state_after, error,
			double_sync_attempted, double_sync_succeeded, double_sync_error,
			revert_attempted, revert_succeeded, revert_error, job_id, attempt, job_attempted_at, started_at, finished_at)
		VALUES ($1, $2, $3, $4, $5, $6, nullif($7, ''), nullif($8, ''), $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22)`,
		a.TransferID, a.Registrar, a.Result, httpStatus, a.SentNewAuthInfo,
		a.TransferStatusCode, registrar.CleanText(a.TransferStatus, registrar.MaxMessageBytes),
		registrar.CleanText(a.RegistrarRequestID, registrar.MaxIDBytes), string(a.StateBefore), string(a.StateAfter), cleanMessage(a.Error),
		a.DoubleSyncAttempted, a.DoubleSyncSucceeded, cleanMessage(a.DoubleSyncError),
		a.RevertAttempted, a.RevertSucceeded, cleanMessage(a.RevertError), jobID, a.Attempt, a.JobAttemptedAt, a.StartedAt, a.FinishedAt)
	if err != nil {
		return fmt.Errorf("record attempt of transfer %s: %w", a.TransferID, err)
	}
	return nil
}

func text(s string) *string { return &s }

// OpenAuthInfo decrypts the transfer's current authInfo with keyring.
func OpenAuthInfo(keyring *secret.Keyring, t Transfer) (string, error) {
	switch {
	case t.AuthInfo == nil:
		return "", fmt.Errorf("transfer %s has no authInfo", t.ID)
	case keyring == nil:
		return "", fmt.Errorf("open authInfo of transfer %s: no secret key configured (REGSYNC_SECRET_KEY)", t.ID)
	}
	plaintext, err := keyring.Open(*t.AuthInfo, AuthInfoContext(t.ID))
	if err != nil {
		return "", fmt.Errorf("open authInfo of transfer %s: %w", t.ID, err)
	}
	return string(plaintext), nil
}
