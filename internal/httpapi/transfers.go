package httpapi

import (
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"regexp"
	"slices"

	"go.uber.org/zap"

	"github.com/regsync/regsync/internal/domainname"
	"github.com/regsync/regsync/registrar"
	"github.com/regsync/regsync/store"
)

// accountNumberPattern is the CHECK constraint on
// regsync.transfers.account_number.
var accountNumberPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

// resetTransfer resets the open transfer of the domain: it stores a
// supplied authInfo, sealed, and enqueues a retry, answering 202.
func (a *api) resetTransfer(w http.ResponseWriter, r *http.Request) {
	body, errs := readBody(w, r)
	var authInfo string
	var hasAuthInfo bool
	if errs == nil {
		authInfo, hasAuthInfo, errs = decodeResetBody(body)
	}
	account := r.PathValue("accountNumber")
	if !accountNumberPattern.MatchString(account) {
		errs = append(errs, registrar.FieldError{Pointer: "/accountNumber", Code: fieldInvalidValue,
			Detail: "The account number must be 1 to 64 letters, digits, '_', '.' or '-', starting with a letter or digit."})
	}
	domain, err := domainname.Normalize(r.PathValue("domainName"))
	if err != nil {
		errs = append(errs, registrar.FieldError{Pointer: "/domainName", Code: fieldInvalidValue, Detail: err.Error()})
	}
	if errs != nil {
		a.problem(w, r, codeInvalidRequest, "The request is invalid; see errors.", errs)
		return
	}
	if hasAuthInfo && a.keyring == nil {
		a.problem(w, r, codeAuthInfoUnavailable, "This server has no secret key to store an authInfo with; retry later or without one.", nil)
		return
	}

	done, err := a.store.RequestReset(r.Context(), a.keyring, store.ResetRequest{DomainName: domain, Account: account, AuthInfo: authInfo})
	switch {
	case errors.Is(err, store.ErrTransferNotFound), errors.Is(err, store.ErrTransferFinal):
		a.problem(w, r, codeTransferNotFound, "No pending transfer of this domain.", nil)
		return
	case errors.Is(err, store.ErrTransferForbidden):
		a.problem(w, r, codeTransferForbidden, "The transfer of this domain does not belong to this account.", nil)
		return
	case errors.Is(err, store.ErrTransferNotResettable):
		a.problem(w, r, codeTransferNotResettable, "The transfer is running at the registry and cannot be reset now.", nil)
		return
	case errors.Is(err, store.ErrAuthInfoRequired):
		a.problem(w, r, codeTransferNotResettable, "The registry refused the transfer's authInfo: a reset must supply a new one.", nil)
		return
	case err != nil:
		a.internal(w, r, err)
		return
	}
	requestOf(r).logger.Info("transfer reset", zap.String("transfer_id", done.TransferID),
		zap.Bool("new_auth_info", hasAuthInfo), zap.Int64("job_id", done.JobID), zap.Bool("already_pending", done.JobID == 0))
	w.WriteHeader(http.StatusAccepted)
}

// decodeResetBody decodes a transfer reset's body: empty, or a JSON object
// with at most the field authInfo, a valid authInfo. The errors never
// quote the body.
func decodeResetBody(body []byte) (authInfo string, ok bool, errs []registrar.FieldError) {
	fields, errs := decodeObject(body)
	for _, name := range slices.Sorted(maps.Keys(fields)) {
		raw := fields[name]
		if name != "authInfo" {
			errs = append(errs, registrar.FieldError{Pointer: pointerTo(name), Code: fieldUnknownField, Detail: "The only field is authInfo."})
			continue
		}
		if err := json.Unmarshal(raw, &authInfo); err != nil || string(raw) == "null" {
			errs = append(errs, registrar.FieldError{Pointer: "/authInfo", Code: fieldInvalidType, Detail: "authInfo must be a string."})
			continue
		}
		if err := registrar.ValidateAuthInfo(authInfo); err != nil {
			errs = append(errs, registrar.FieldError{Pointer: "/authInfo", Code: fieldInvalidValue, Detail: err.Error()})
			continue
		}
		ok = true
	}
	if errs != nil {
		return "", false, errs
	}
	return authInfo, ok, nil
}
