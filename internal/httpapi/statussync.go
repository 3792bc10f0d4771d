package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"

	"github.com/riverqueue/river/rivertype"
	"go.uber.org/zap"

	"github.com/regsync/regsync/registrar"
	"github.com/regsync/regsync/store"
)

// statusSync enqueues a status sync of the domain, or joins the one
// already pending, waits for its result and answers it: the 15 keys of
// the Hostup API's response.
func (a *api) statusSync(w http.ResponseWriter, r *http.Request) {
	body, errs := readBody(w, r)
	if errs == nil {
		errs = checkEmptyObject(body)
	}
	if errs != nil {
		a.problem(w, r, codeInvalidRequest, "The body must be absent or an empty JSON object.", errs)
		return
	}
	id := r.PathValue("id")
	if store.ValidateDomainID(id) != nil {
		a.problem(w, r, codeDomainNotFound, "No domain has this id.", nil)
		return
	}

	ctx, cancel := context.WithTimeout(r.Context(), a.syncTimeout)
	defer cancel()
	job, err := a.pendingSync(ctx, id)
	if err == nil {
		requestOf(r).logger.Debug("waiting for status sync", zap.Int64("job_id", job.ID), zap.String("job_state", string(job.State)))
		var output json.RawMessage
		output, err = waitForOutput(ctx, a.jobs, job)
		if err == nil {
			a.writeOutcome(w, r, output)
			return
		}
	}
	switch {
	case ctx.Err() != nil:
		a.problem(w, r, codeSyncTimeout, fmt.Sprintf("The status sync did not finish within %s; it goes on, and a new request joins it.", a.syncTimeout), nil)
	case errors.Is(err, store.ErrDomainNotFound):
		a.problem(w, r, codeDomainNotFound, "No domain has this id.", nil)
	default:
		a.internal(w, r, err)
	}
}

// pendingSync enqueues a status sync of the domain and returns its job,
// or the job of the sync already pending.
func (a *api) pendingSync(ctx context.Context, domainID string) (jobRun, error) {
	for {
		jobID, inserted, err := a.store.EnqueueStatusSync(ctx, domainID)
		if err != nil {
			return jobRun{}, err
		}
		if inserted {
			return jobRun{ID: jobID, State: rivertype.JobStateAvailable}, nil
		}
		job, err := pendingStatusSync(ctx, a.jobs, domainID)
		// The pending sync may have ended in between: enqueue again.
		if !errors.Is(err, errNoPendingJob) {
			return job, err
		}
	}
}

// writeOutcome answers 200 with a sync's recorded output, which must be a
// status-sync outcome: decoded and encoded again, it has exactly the
// response's keys.
func (a *api) writeOutcome(w http.ResponseWriter, r *http.Request, output json.RawMessage) {
	var outcome store.Outcome
	dec := json.NewDecoder(bytes.NewReader(output))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&outcome); err != nil {
		a.internal(w, r, fmt.Errorf("decode the status sync's output: %w", err))
		return
	}
	// Marshal cannot fail on strings, booleans and their pointers.
	body, _ := json.Marshal(outcome)
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(body)
}

// readBody reads the request body, at most maxBody bytes; a longer body is
// a field error.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, []registrar.FieldError) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return nil, []registrar.FieldError{{Pointer: "", Code: fieldTooLarge, Detail: fmt.Sprintf("The body is larger than %d bytes.", maxBody)}}
	case err != nil:
		return nil, []registrar.FieldError{{Pointer: "", Code: fieldInvalidJSON, Detail: "The body could not be read."}}
	}
	return body, nil
}

// checkEmptyObject returns the field errors of a body that is neither
// empty nor an empty JSON object.
func checkEmptyObject(body []byte) []registrar.FieldError {
	fields, errs := decodeObject(body)
	for _, name := range slices.Sorted(maps.Keys(fields)) {
		errs = append(errs, registrar.FieldError{Pointer: pointerTo(name), Code: fieldUnknownField, Detail: "The body takes no fields."})
	}
	return errs
}

// decodeObject decodes a body that is empty (nil fields) or one JSON
// object. The errors never quote the body.
func decodeObject(body []byte) (map[string]json.RawMessage, []registrar.FieldError) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, nil
	}
	if !json.Valid(body) {
		return nil, []registrar.FieldError{{Pointer: "", Code: fieldInvalidJSON, Detail: "The body is not valid JSON."}}
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil || fields == nil {
		return nil, []registrar.FieldError{{Pointer: "", Code: fieldInvalidType, Detail: "The body must be a JSON object."}}
	}
	return fields, nil
}
