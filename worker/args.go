package worker

import (
	"encoding/json"
	"fmt"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/regsync/regsync/store"
)

// Queues regsync's workers take jobs from.
const (
	// QueueStatusSync holds the status_sync jobs inserted without knowing
	// their domain's registrar (by River's Go client, or before the queues
	// of [StatusSyncQueue]); the sweep and the SQL enqueue use those.
	QueueStatusSync = "status_sync"
	// QueueTransferRetry holds the transfer_retry jobs.
	QueueTransferRetry = "transfer_retry"
	// QueueSweep holds the periodic sweeps.
	QueueSweep = "sweep"
)

// StatusSyncQueue is the queue of the status syncs of a registrar's
// domains, as regsync.status_sync_queue names it in SQL. One queue per
// registrar keeps a registrar's backlog, and its jobs waiting for its rate
// limit, from holding up another registrar's syncs.
func StatusSyncQueue(registrar string) string { return QueueStatusSync + "_" + registrar }

// Priorities of status_sync jobs: a sync someone asked for goes before the
// sweep's routine ones.
const (
	PriorityOnDemand = 1
	PrioritySweep    = 2
)

// pendingStates are the job states in which a job counts as already
// pending for uniqueness. Completed is left out on purpose: River keeps
// completed jobs for a day, and a finished sync must not block the next.
var pendingStates = []rivertype.JobState{
	rivertype.JobStateAvailable,
	rivertype.JobStatePending,
	rivertype.JobStateRetryable,
	rivertype.JobStateRunning,
	rivertype.JobStateScheduled,
}

// StatusSyncArgs are the args of a status_sync job. Their JSON form,
// {"domain_id": "dom_..."}, is a public contract: regsync.enqueue_status_sync
// builds the same job in SQL, with the same unique key.
type StatusSyncArgs struct {
	DomainID string `json:"domain_id" river:"unique"`
}

// Kind is the River job kind.
func (StatusSyncArgs) Kind() string { return "status_sync" }

// InsertOpts makes at most one status_sync job per domain pending at a
// time, across every process and the SQL enqueue function.
func (StatusSyncArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{
		Queue:       QueueStatusSync,
		MaxAttempts: 10,
		Priority:    PriorityOnDemand,
		UniqueOpts:  river.UniqueOpts{ByArgs: true, ByState: pendingStates},
	}
}

// InvalidArgsError means a job's args could not be decoded or are invalid.
// Such a job is cancelled at once: running it again cannot help.
type InvalidArgsError struct {
	Kind string
	Err  error
}

func (e *InvalidArgsError) Error() string {
	return fmt.Sprintf("invalid %s job args: %v", e.Kind, e.Err)
}

func (e *InvalidArgsError) Unwrap() error { return e.Err }

// UnmarshalJSON decodes the args strictly (no unknown fields, a string
// domain id) and validates the id, returning an [*InvalidArgsError].
func (a *StatusSyncArgs) UnmarshalJSON(data []byte) error {
	id, err := decodeIDArgs(data, a.Kind(), "domain_id", store.ValidateDomainID)
	a.DomainID = id
	return err
}

// decodeIDArgs decodes job args that are exactly {"<field>": "<id>"} and
// validates the id, returning an [*InvalidArgsError] saying what is wrong.
func decodeIDArgs(data []byte, kind, field string, validate func(string) error) (string, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(data, &fields); err != nil {
		return "", &InvalidArgsError{Kind: kind, Err: err}
	}
	for name := range fields {
		if name != field {
			return "", &InvalidArgsError{Kind: kind, Err: fmt.Errorf("unknown field %q", name)}
		}
	}
	raw, ok := fields[field]
	if !ok || string(raw) == "null" {
		return "", &InvalidArgsError{Kind: kind, Err: fmt.Errorf("missing %q", field)}
	}
	var id string
	if err := json.Unmarshal(raw, &id); err != nil {
		return "", &InvalidArgsError{Kind: kind, Err: fmt.Errorf("%q: %w", field, err)}
	}
	if err := validate(id); err != nil {
		return "", &InvalidArgsError{Kind: kind, Err: err}
	}
	return id, nil
}

// TransferRetryArgs are the args of a transfer_retry job, {"transfer_id":
// "trf_..."}, a public contract like [StatusSyncArgs]: the SQL function
// regsync.enqueue_transfer_retry builds the same job. A new authInfo never
// travels in job args; it is stored encrypted first.
type TransferRetryArgs struct {
	TransferID string `json:"transfer_id" river:"unique"`
}

// Kind is the River job kind.
func (TransferRetryArgs) Kind() string { return "transfer_retry" }

// InsertOpts makes at most one transfer_retry job per transfer pending.
func (TransferRetryArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{
		Queue:       QueueTransferRetry,
		MaxAttempts: 10,
		Priority:    PriorityOnDemand,
		UniqueOpts:  river.UniqueOpts{ByArgs: true, ByState: pendingStates},
	}
}

// UnmarshalJSON decodes and validates the args like
// [StatusSyncArgs.UnmarshalJSON].
func (a *TransferRetryArgs) UnmarshalJSON(data []byte) error {
	id, err := decodeIDArgs(data, a.Kind(), "transfer_id", store.ValidateTransferID)
	a.TransferID = id
	return err
}
