package sim

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/regsync/regsync/registrar"
)

var (
	_ registrar.TransferResetter     = (*Sim)(nil)
	_ registrar.TransferStatusReader = (*Sim)(nil)
)

// transferScript is one transfer order's scripted answers and what the
// registrar remembers of it.
type transferScript struct {
	owner      string
	resets     []transferStep
	statuses   []transferStep
	nextReset  int
	nextStatus int
	authInfo   string // the last authInfo of an accepted reset
	hasAuth    bool
}

// transferStep is one parsed reset or status entry, or an answer the
// registrar gives before reaching the script.
type transferStep struct {
	timeout    bool          // never answer
	status     int           // the HTTP status; 200 for a status entry
	bad404     bool          // the seed's "404 Bad Request" for an invalid request
	retryAfter time.Duration // the wait a 429 asks for
	state      registrar.TransferState
	canBeReset bool
}

// transferStateCodes gives, for each state a status entry may name, the
// eNom-style transfer-order code and text the simulator reports; the codes
// map back to the state with [registrar.MapEnomTransfer].
var transferStateCodes = map[registrar.TransferState]struct {
	code int
	text string
}{
	registrar.TransferPending:   {3, "Awaiting response from losing registrar"},
	registrar.TransferBlocked:   {4, "Blocked by the domain's status at the registry"},
	registrar.TransferCompleted: {9, "Transfer completed"},
	registrar.TransferCancelled: {10, "Transfer order cancelled"},
	registrar.TransferUnknown:   {99, "Awaiting manual review"},
}

// Fixed answers the registrar gives before reaching a transfer's script.
var (
	invalidStep   = transferStep{status: http.StatusNotFound, bad404: true}
	notFoundStep  = transferStep{status: http.StatusNotFound}
	forbiddenStep = transferStep{status: http.StatusForbidden}
)

// ScriptTransfer sets how the registrar answers resets and status reads of
// the transfer order for t.DomainName, as described in the package
// documentation, replacing any earlier script of that domain's transfer and
// resetting its reset count and remembered authInfo. owner is the account
// the transfer belongs to, t.Account when empty; requests naming another
// account answer 403. An empty resets answers 202 and an empty statuses
// reads pending.
func (s *Sim) ScriptTransfer(t registrar.Transfer, owner string, resets, statuses []string) error {
	owner = cmp.Or(owner, t.Account)
	switch {
	case t.DomainName == "":
		return errors.New("sim: script transfer: domain name is empty")
	case owner == "":
		return fmt.Errorf("sim: script transfer of %s: owner and account are empty", t.DomainName)
	}
	if len(resets) == 0 {
		resets = []string{"202"}
	}
	if len(statuses) == 0 {
		statuses = []string{"pending"}
	}
	sc := &transferScript{owner: owner}
	var err error
	if sc.resets, err = parseTransferEntries(resets, false); err != nil {
		return fmt.Errorf("sim: script transfer of %s: resets: %w", t.DomainName, err)
	}
	if sc.statuses, err = parseTransferEntries(statuses, true); err != nil {
		return fmt.Errorf("sim: script transfer of %s: statuses: %w", t.DomainName, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.transfers[t.DomainName] = sc
	s.resetCounts[t.DomainName] = 0
	return nil
}

// parseTransferEntries parses reset entries, or status entries when
// statuses is set.
func parseTransferEntries(entries []string, statuses bool) ([]transferStep, error) {
	steps := make([]transferStep, len(entries))
	for i, e := range entries {
		st, err := parseTransferEntry(e, statuses)
		if err != nil {
			return nil, fmt.Errorf("entry %d: %w", i, err)
		}
		steps[i] = st
	}
	return steps, nil
}

// parseTransferEntry parses one reset entry, or one status entry when
// statuses is set.
func parseTransferEntry(e string, statuses bool) (transferStep, error) {
	if statuses {
		state, resettable := strings.CutSuffix(e, ":resettable")
		if _, ok := transferStateCodes[registrar.TransferState(state)]; ok {
			if resettable && state != string(registrar.TransferBlocked) {
				return transferStep{}, fmt.Errorf("status %q: only a blocked transfer can be resettable", e)
			}
			return transferStep{status: http.StatusOK, state: registrar.TransferState(state), canBeReset: resettable}, nil
		}
	}
	switch e {
	case "!timeout":
		return transferStep{timeout: true}, nil
	case "404bad":
		return invalidStep, nil
	case "!429":
		return transferStep{status: http.StatusTooManyRequests, retryAfter: time.Second}, nil
	}
	if wait, ok := strings.CutPrefix(e, "!429:"); ok {
		d, err := time.ParseDuration(wait)
		if err != nil || d <= 0 {
			return transferStep{}, fmt.Errorf("entry %q: retry-after %q is not a positive duration", e, wait)
		}
		return transferStep{status: http.StatusTooManyRequests, retryAfter: d}, nil
	}
	lowest := 200
	if statuses {
		lowest = 300 // a 2xx status read is a status entry
	}
	status, err := strconv.Atoi(e)
	if err != nil || len(e) != 3 || status < lowest || status > 599 {
		want := "an HTTP status from 200 to 599, 404bad, !429[:duration] or !timeout"
		if statuses {
			want = "pending, blocked[:resettable], completed, cancelled, unknown, an HTTP status from 300 to 599, 404bad, !429[:duration] or !timeout"
		}
		return transferStep{}, fmt.Errorf("unknown entry %q: want %s", e, want)
	}
	return transferStep{status: status}, nil
}

// TransferAuthInfo returns the authInfo of the last accepted reset of the
// transfer for t.DomainName since it was scripted, and whether there was
// one. A rejected reset leaves it unchanged: the registrar keeps the last
// authInfo it accepted.
func (s *Sim) TransferAuthInfo(t registrar.Transfer) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sc, ok := s.transfers[t.DomainName]
	if !ok {
		return "", false
	}
	return sc.authInfo, sc.hasAuth
}

// TransferResets returns how many reset requests for t.DomainName reached
// the registrar since the transfer was last scripted, whatever account they
// named and whatever the answer.
func (s *Sim) TransferResets(t registrar.Transfer) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.resetCounts[t.DomainName]
}

// ResetTransfer plays the transfer's next reset answer. A 2xx answer is a
// success and, with a non-empty authInfo, makes the registrar remember it.
// An authInfo that [registrar.ValidateAuthInfo] rejects, or an empty account
// or domain name, answers the invalid request of the seed ("404 Bad
// Request"). A !timeout entry blocks until ctx is done, so callers must give
// it a deadline.
func (s *Sim) ResetTransfer(ctx context.Context, t registrar.Transfer, authInfo string) (registrar.ResetResult, error) {
	op := "reset transfer of " + describeTransfer(t)
	st, requestID, err := s.reset(ctx, t, authInfo, op)
	if err != nil {
		return registrar.ResetResult{}, err
	}
	if err := s.transferError(ctx, st, requestID, op); err != nil {
		return registrar.ResetResult{}, err
	}
	return registrar.ResetResult{Status: st.status, RequestID: requestID}, nil
}

// ReadTransferStatus plays the transfer's next status entry. A !timeout
// entry blocks until ctx is done, so callers must give it a deadline.
func (s *Sim) ReadTransferStatus(ctx context.Context, t registrar.Transfer) (registrar.TransferStatus, error) {
	op := "read transfer status of " + describeTransfer(t)
	st, requestID, err := s.readTransfer(ctx, t, op)
	if err != nil {
		return registrar.TransferStatus{}, err
	}
	if err := s.transferError(ctx, st, requestID, op); err != nil {
		return registrar.TransferStatus{}, err
	}
	return transferStatus(st, requestID), nil
}

// transferStatus is the status a status entry reports.
func transferStatus(st transferStep, requestID string) registrar.TransferStatus {
	c := transferStateCodes[st.state]
	return registrar.TransferStatus{
		Code:        c.code,
		Description: c.text,
		State:       registrar.MapEnomTransfer(c.code),
		CanBeReset:  st.canBeReset,
		RequestID:   requestID,
	}
}

// describeTransfer names a transfer in errors.
func describeTransfer(t registrar.Transfer) string {
	return strconv.Quote(t.DomainName) + " for account " + strconv.Quote(t.Account)
}

// reset waits for the configured latency, counts the reset and decides its
// answer, remembering authInfo when the answer accepts it.
func (s *Sim) reset(ctx context.Context, t registrar.Transfer, authInfo, op string) (transferStep, string, error) {
	if err := s.wait(ctx, op); err != nil {
		return transferStep{}, "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.resetCounts[t.DomainName]++
	requestID := s.newRequestIDLocked()
	if authInfo != "" && registrar.ValidateAuthInfo(authInfo) != nil {
		return invalidStep, requestID, nil
	}
	sc, st := s.transferLocked(t)
	if sc == nil {
		return st, requestID, nil
	}
	st = sc.resets[sc.nextReset]
	sc.nextReset = min(sc.nextReset+1, len(sc.resets)-1)
	if st.status >= 200 && st.status <= 299 && authInfo != "" {
		sc.authInfo, sc.hasAuth = authInfo, true
	}
	return st, requestID, nil
}

// readTransfer waits for the configured latency and decides the answer of a
// status read.
func (s *Sim) readTransfer(ctx context.Context, t registrar.Transfer, op string) (transferStep, string, error) {
	if err := s.wait(ctx, op); err != nil {
		return transferStep{}, "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	requestID := s.newRequestIDLocked()
	sc, st := s.transferLocked(t)
	if sc == nil {
		return st, requestID, nil
	}
	st = sc.statuses[sc.nextStatus]
	sc.nextStatus = min(sc.nextStatus+1, len(sc.statuses)-1)
	return st, requestID, nil
}

// transferLocked returns the script of t's transfer, or nil and the answer
// the registrar gives before reaching it: an invalid request, no such
// transfer, or a transfer of another account. s.mu must be held.
func (s *Sim) transferLocked(t registrar.Transfer) (*transferScript, transferStep) {
	if t.Account == "" || t.DomainName == "" {
		return nil, invalidStep
	}
	sc, ok := s.transfers[t.DomainName]
	switch {
	case !ok:
		return nil, notFoundStep
	case sc.owner != t.Account:
		return nil, forbiddenStep
	}
	return sc, transferStep{}
}

// transferError returns nil for a status entry or a 2xx answer, and
// otherwise the error the hostway adapter reports for the same answer. A
// !timeout step blocks until ctx is done.
func (s *Sim) transferError(ctx context.Context, st transferStep, requestID, op string) error {
	if st.timeout {
		<-ctx.Done()
		return fmt.Errorf("%s: %s timed out: %w: %w", s.cfg.Name, op, registrar.ErrUnavailable, ctx.Err())
	}
	if st.status >= 200 && st.status <= 299 {
		return nil
	}
	apiErr := &registrar.APIError{Registrar: s.cfg.Name, Status: st.status, RequestID: requestID}
	switch {
	case st.bad404:
		apiErr.Status = http.StatusBadRequest
		apiErr.Code = "bad_request"
		apiErr.Detail = `answered "404 Bad Request"`
	case st.status == http.StatusBadRequest:
		apiErr.Code = "bad_request"
	case st.status == http.StatusNotFound:
		apiErr.Code = "not_found"
	case st.status == http.StatusUnauthorized:
		apiErr.Code = "unauthorized"
	case st.status == http.StatusForbidden:
		apiErr.Code = "forbidden"
	case st.status == http.StatusConflict:
		apiErr.Code = "conflict"
	case st.status == http.StatusTooManyRequests:
		apiErr.Code = "rate_limited"
		apiErr.RetryAfter = st.retryAfter
	case st.status >= 500:
		apiErr.Code = "server_error"
	default:
		return fmt.Errorf("%s: %s: unexpected status %q (request %s): %w", s.cfg.Name, op, strconv.Itoa(st.status)+" "+http.StatusText(st.status), requestID, registrar.ErrBadResponse)
	}
	return apiErr
}
