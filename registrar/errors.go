package registrar

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Sentinel errors an adapter's errors wrap, so callers can branch with
// [errors.Is] whatever the registrar's wire format.
var (
	// ErrNotFound means the registrar does not know the domain (or transfer).
	ErrNotFound = errors.New("not found at registrar")
	// ErrUnauthorized means the registrar refused the adapter's credentials
	// (HTTP 401, an EPP authentication error). It is the operator's problem,
	// not the object's: a rotated or missing token refuses every request
	// alike, so callers retry later and alert rather than give up on the
	// domain or transfer.
	ErrUnauthorized = errors.New("credentials refused by registrar")
	// ErrForbidden means the registrar accepted the credentials but says the
	// account may not act on this object (HTTP 403, an EPP authorization
	// error): a transfer that belongs to another account, for example.
	ErrForbidden = errors.New("forbidden by registrar")
	// ErrRateLimited means the registrar asked the caller to slow down.
	ErrRateLimited = errors.New("rate limited by registrar")
	// ErrInvalidRequest means the registrar rejected the request as malformed;
	// sending the same request again cannot succeed.
	ErrInvalidRequest = errors.New("request rejected by registrar as invalid")
	// ErrConflict means the object is not in a state that allows the request now.
	ErrConflict = errors.New("conflicting state at registrar")
	// ErrBadResponse means the registrar answered something that could not be
	// understood: a body that is not the documented shape, or too large.
	ErrBadResponse = errors.New("unreadable response from registrar")
	// ErrUnavailable means the registrar failed or could not be reached
	// (5xx, timeouts, connection errors).
	ErrUnavailable = errors.New("registrar unavailable")
	// ErrNotCovered means the adapter has no source for this domain at all:
	// an RDAP adapter that knows no server for its top-level domain, say.
	// A caller with another source for the domain falls back to it.
	ErrNotCovered = errors.New("no source for this domain")
)

// FieldError is one entry of a [Problem]'s errors: what is wrong where in
// the request.
type FieldError struct {
	// Pointer is a JSON pointer into the request: "" for the whole body.
	Pointer string `json:"pointer"`
	Detail  string `json:"detail"`
	Code    string `json:"code"`
}

// Problem is an RFC 7807 problem document as the Hostup API v2 writes it.
// The simulator answers with it, and so does regsync's own API, which
// serves the same calls.
type Problem struct {
	Type      string       `json:"type"`
	Title     string       `json:"title"`
	Status    int          `json:"status"`
	Detail    string       `json:"detail"`
	Code      string       `json:"code"`
	Instance  string       `json:"instance"`
	RequestID string       `json:"requestId"`
	Timestamp string       `json:"timestamp"`
	Errors    []FieldError `json:"errors,omitempty"`
}

// ProblemTimestampLayout is the layout of [Problem].Timestamp: RFC 3339 in
// UTC with milliseconds.
const ProblemTimestampLayout = "2006-01-02T15:04:05.000Z"

// APIError is an error answer from a registrar's API. It keeps what the
// registrar said so that it can be recorded; it never holds request secrets.
type APIError struct {
	// Registrar is the adapter name, for example "hostup".
	Registrar string
	// Status is the HTTP status code of the answer.
	Status int
	// Code is the registrar's stable machine-readable error code, if any.
	Code string
	// Detail is the registrar's human-readable explanation, if any.
	Detail string
	// RequestID is the registrar's request identifier, if any.
	RequestID string
	// RetryAfter is how long the registrar asked the caller to wait; zero when
	// it did not say.
	RetryAfter time.Duration
	// FieldErrors are the registrar's field-level validation errors.
	FieldErrors []FieldError
}

// Error describes the answer in one line, prefixed with the adapter name.
func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: HTTP %d", e.Registrar, e.Status)
	if e.Code != "" {
		fmt.Fprintf(&b, " %s", e.Code)
	}
	if e.Detail != "" {
		fmt.Fprintf(&b, ": %s", e.Detail)
	}
	if e.RequestID != "" {
		fmt.Fprintf(&b, " (request %s)", e.RequestID)
	}
	return b.String()
}

// Unwrap returns the sentinel that matches the answer's HTTP status, so that
// errors.Is(err, ErrNotFound) and friends work on any adapter's APIError.
func (e *APIError) Unwrap() error {
	switch {
	case e.Status == http.StatusNotFound:
		return ErrNotFound
	case e.Status == http.StatusUnauthorized:
		return ErrUnauthorized
	case e.Status == http.StatusForbidden:
		return ErrForbidden
	case e.Status == http.StatusTooManyRequests:
		return ErrRateLimited
	case e.Status == http.StatusConflict:
		return ErrConflict
	case e.Status == http.StatusRequestTimeout || e.Status >= 500:
		return ErrUnavailable
	case e.Status >= 400:
		return ErrInvalidRequest
	default:
		return ErrBadResponse
	}
}

// IsPermanent reports whether retrying the same request cannot help: the
// object is unknown, the account may not act on it, or the request is
// invalid. Refused credentials, rate limits, conflicts, unreadable answers
// and outages are not permanent: they pass, or an operator fixes them.
func IsPermanent(err error) bool {
	return errors.Is(err, ErrNotFound) || errors.Is(err, ErrForbidden) || errors.Is(err, ErrInvalidRequest)
}

// RetryAfter returns how long the registrar asked to wait before the next
// request, when err is a rate limit that carried a wait time.
func RetryAfter(err error) (time.Duration, bool) {
	var apiErr *APIError
	if errors.As(err, &apiErr) && errors.Is(err, ErrRateLimited) && apiErr.RetryAfter > 0 {
		return apiErr.RetryAfter, true
	}
	return 0, false
}

// ParseRetryAfter returns the wait a Retry-After header value asks for, in
// delay-seconds or as an HTTP-date relative to now; zero when the value is
// absent, invalid or in the past.
func ParseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 32); err == nil {
		return max(time.Duration(secs)*time.Second, 0)
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0)
	}
	return 0
}

// ValidateHTTPConfig checks the settings every HTTP adapter has: an
// absolute http or https base URL, a bearer token without spaces or
// control characters, and positive limits. Errors are prefixed with the
// adapter name and never contain the token.
func ValidateHTTPConfig(adapter, baseURL, token string, timeout time.Duration, maxResponseBytes int64) error {
	u, err := url.Parse(baseURL)
	switch {
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return fmt.Errorf("%s: base url %q is not an absolute http or https url", adapter, baseURL)
	case token == "":
		return fmt.Errorf("%s: token is empty", adapter)
	case strings.ContainsFunc(token, func(r rune) bool { return r <= ' ' || r == 0x7f }):
		return fmt.Errorf("%s: token contains spaces or control characters", adapter)
	case timeout <= 0:
		return fmt.Errorf("%s: timeout %s is not positive", adapter, timeout)
	case maxResponseBytes <= 0:
		return fmt.Errorf("%s: max response bytes %d is not positive", adapter, maxResponseBytes)
	}
	return nil
}
