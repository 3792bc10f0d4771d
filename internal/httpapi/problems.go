package httpapi

import (
	"encoding/json"
	"net/http"
	"strings"

	"go.uber.org/zap"

	"github.com/regsync/regsync/registrar"
)

// The problem codes; the package documentation lists them with their
// statuses and meanings.
const (
	codeInvalidRequest        = "invalid_request"
	codeUnauthorized          = "unauthorized"
	codeInsufficientScope     = "insufficient_scope"
	codeTransferForbidden     = "transfer_forbidden"
	codeNotFound              = "not_found"
	codeDomainNotFound        = "domain_not_found"
	codeTransferNotFound      = "transfer_not_found"
	codeMethodNotAllowed      = "method_not_allowed"
	codeTransferNotResettable = "transfer_not_resettable"
	codeRateLimited           = "rate_limited"
	codeInternal              = "internal_error"
	codeAuthInfoUnavailable   = "auth_info_unavailable"
	codeSyncTimeout           = "sync_timeout"
)

// problemKind is the status and title that go with a problem code.
type problemKind struct {
	status int
	title  string
}

// problemKinds gives every problem code's status and title.
var problemKinds = map[string]problemKind{
	codeInvalidRequest:        {http.StatusBadRequest, "Validation failed"},
	codeUnauthorized:          {http.StatusUnauthorized, "Unauthorized"},
	codeInsufficientScope:     {http.StatusForbidden, "Insufficient scope"},
	codeTransferForbidden:     {http.StatusForbidden, "Transfer belongs to another account"},
	codeNotFound:              {http.StatusNotFound, "Not found"},
	codeDomainNotFound:        {http.StatusNotFound, "Domain not found"},
	codeTransferNotFound:      {http.StatusNotFound, "Transfer not found"},
	codeMethodNotAllowed:      {http.StatusMethodNotAllowed, "Method not allowed"},
	codeTransferNotResettable: {http.StatusConflict, "Transfer cannot be reset"},
	codeRateLimited:           {http.StatusTooManyRequests, "Too many requests"},
	codeInternal:              {http.StatusInternalServerError, "Internal error"},
	codeAuthInfoUnavailable:   {http.StatusServiceUnavailable, "authInfo cannot be stored"},
	codeSyncTimeout:           {http.StatusGatewayTimeout, "Status sync timed out"},
}

// problemTypeBase prefixes a problem's type URI, followed by its code. The
// URI identifies the problem; nothing is served there.
const problemTypeBase = "https://regsync.invalid/problems/"

// The codes of field errors.
const (
	fieldInvalidJSON  = "invalid_json"
	fieldInvalidType  = "invalid_type"
	fieldUnknownField = "unknown_field"
	fieldInvalidValue = "invalid_value"
	fieldTooLarge     = "too_large"
)

// problem answers the problem with code, detail saying what happened in
// this request and errors saying where. Neither may hold a secret.
func (a *api) problem(w http.ResponseWriter, r *http.Request, code, detail string, errs []registrar.FieldError) {
	kind := problemKinds[code]
	req := requestOf(r)
	req.code = code
	// Marshal cannot fail on strings and numbers.
	body, _ := json.Marshal(registrar.Problem{
		Type: problemTypeBase + code, Title: kind.title, Status: kind.status, Detail: detail, Code: code,
		Instance: r.URL.EscapedPath(), RequestID: req.id, Timestamp: a.now().UTC().Format(registrar.ProblemTimestampLayout), Errors: errs,
	})
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(kind.status)
	_, _ = w.Write(body)
}

// pointerTo returns the JSON pointer to the body field name.
func pointerTo(name string) string {
	return "/" + strings.NewReplacer("~", "~0", "/", "~1").Replace(name)
}

// internal logs err and answers 500 internal_error, which tells the client
// nothing more than the request id to quote.
func (a *api) internal(w http.ResponseWriter, r *http.Request, err error) {
	requestOf(r).logger.Error("request failed", zap.Error(err))
	a.problem(w, r, codeInternal, "An unexpected error occurred; quote the requestId when reporting it.", nil)
}
