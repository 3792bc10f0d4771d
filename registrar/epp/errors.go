package epp

import (
	"fmt"
	"strings"
	"time"

	"github.com/regsync/regsync/registrar"
)

// The EPP result codes of RFC 5730 §3 that the client tells apart.
const (
	CodeOK                        = 1000
	CodeActionPending             = 1001
	CodeEndingSession             = 1500
	CodeUnknownCommand            = 2000
	CodeCommandSyntaxError        = 2001
	CodeCommandUseError           = 2002
	CodeRequiredParameterMissing  = 2003
	CodeParameterValueRangeError  = 2004
	CodeParameterValueSyntaxError = 2005
	CodeUnimplementedVersion      = 2100
	CodeUnimplementedCommand      = 2101
	CodeUnimplementedOption       = 2102
	CodeUnimplementedExtension    = 2103
	CodeBillingFailure            = 2104
	CodeNotEligibleForRenewal     = 2105
	CodeNotEligibleForTransfer    = 2106
	CodeAuthenticationError       = 2200
	CodeAuthorizationError        = 2201
	CodeInvalidAuthorizationInfo  = 2202
	CodePendingTransfer           = 2300
	CodeNotPendingTransfer        = 2301
	CodeObjectExists              = 2302
	CodeObjectDoesNotExist        = 2303
	CodeStatusProhibitsOperation  = 2304
	CodeAssociationProhibits      = 2305
	CodeParameterValuePolicyError = 2306
	CodeUnimplementedObject       = 2307
	CodeDataManagementPolicy      = 2308
	CodeCommandFailed             = 2400
	CodeCommandFailedClosing      = 2500
	CodeAuthenticationClosing     = 2501
	CodeSessionLimitExceeded      = 2502
)

// codeSentinels maps the error result codes of RFC 5730 §3 to the
// [registrar] sentinel each one means for regsync.
var codeSentinels = map[int]error{
	CodeUnknownCommand:            registrar.ErrInvalidRequest,
	CodeCommandSyntaxError:        registrar.ErrInvalidRequest,
	CodeCommandUseError:           registrar.ErrInvalidRequest,
	CodeRequiredParameterMissing:  registrar.ErrInvalidRequest,
	CodeParameterValueRangeError:  registrar.ErrInvalidRequest,
	CodeParameterValueSyntaxError: registrar.ErrInvalidRequest,
	CodeUnimplementedVersion:      registrar.ErrInvalidRequest,
	CodeUnimplementedCommand:      registrar.ErrInvalidRequest,
	CodeUnimplementedOption:       registrar.ErrInvalidRequest,
	CodeUnimplementedExtension:    registrar.ErrInvalidRequest,
	// The account cannot pay now: an operator tops it up, so not permanent.
	CodeBillingFailure:            registrar.ErrConflict,
	CodeNotEligibleForRenewal:     registrar.ErrConflict,
	CodeNotEligibleForTransfer:    registrar.ErrConflict,
	CodeAuthenticationError:       registrar.ErrUnauthorized,
	CodeAuthorizationError:        registrar.ErrForbidden,
	CodeInvalidAuthorizationInfo:  registrar.ErrInvalidRequest,
	CodePendingTransfer:           registrar.ErrConflict,
	CodeNotPendingTransfer:        registrar.ErrNotFound,
	CodeObjectExists:              registrar.ErrConflict,
	CodeObjectDoesNotExist:        registrar.ErrNotFound,
	CodeStatusProhibitsOperation:  registrar.ErrConflict,
	CodeAssociationProhibits:      registrar.ErrConflict,
	CodeParameterValuePolicyError: registrar.ErrInvalidRequest,
	CodeUnimplementedObject:       registrar.ErrInvalidRequest,
	CodeDataManagementPolicy:      registrar.ErrInvalidRequest,
	CodeCommandFailed:             registrar.ErrUnavailable,
	CodeCommandFailedClosing:      registrar.ErrUnavailable,
	CodeAuthenticationClosing:     registrar.ErrUnauthorized,
	CodeSessionLimitExceeded:      registrar.ErrRateLimited,
}

// Sentinel returns the [registrar] sentinel an EPP result code maps to:
// nil for a success (1000 to 1999), the table in the package documentation
// for the codes RFC 5730 defines, and for other codes the meaning of their
// range (RFC 5730 §3): 20xx protocol syntax and 21xx implementation rules
// [registrar.ErrInvalidRequest], 22xx security [registrar.ErrForbidden],
// 23xx data management [registrar.ErrConflict], 24xx and 25xx server system
// and connection management [registrar.ErrUnavailable]. Anything else is
// not an EPP result code: [registrar.ErrBadResponse].
func Sentinel(code int) error {
	if code >= 1000 && code <= 1999 {
		return nil
	}
	if s, ok := codeSentinels[code]; ok {
		return s
	}
	switch {
	case code >= 2000 && code <= 2199:
		return registrar.ErrInvalidRequest
	case code >= 2200 && code <= 2299:
		return registrar.ErrForbidden
	case code >= 2300 && code <= 2399:
		return registrar.ErrConflict
	case code >= 2400 && code <= 2599:
		return registrar.ErrUnavailable
	default:
		return registrar.ErrBadResponse
	}
}

// closesSession reports whether a result code means the server is closing
// the connection (RFC 5730 §3: 2500 to 2599).
func closesSession(code int) bool { return code >= 2500 && code <= 2599 }

// ResultError is an EPP error response (a result code from 2000 to 2999).
// It keeps what the server said so that it can be recorded; it never holds
// a password or an authInfo: text the server sent is cleared of them.
type ResultError struct {
	// Registrar is the adapter's [Config.Name], for example "epp".
	Registrar string
	// Op says what the client was doing, for example
	// `read status of "example.com"`.
	Op string
	// Code is the EPP result code, for example 2303.
	Code int
	// Message is the result's <msg>.
	Message string
	// Reason is the first <extValue><reason> of the result, if any.
	Reason string
	// ClTRID is the client transaction identifier the command carried.
	ClTRID string
	// SvTRID is the server transaction identifier, if the server sent one.
	SvTRID string
	// RetryAfter is how long to wait before the next command: set for a
	// session limit (2502) to [Config.RateLimitWait], since EPP carries no
	// wait of its own. [registrar.RetryAfter] does not see it: it reads
	// only HTTP answers.
	RetryAfter time.Duration
}

// Error describes the result in one line, prefixed with the adapter name.
func (e *ResultError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: ", e.Registrar)
	if e.Op != "" {
		fmt.Fprintf(&b, "%s: ", e.Op)
	}
	fmt.Fprintf(&b, "EPP result %d", e.Code)
	if e.Message != "" {
		fmt.Fprintf(&b, " %q", e.Message)
	}
	if e.Reason != "" {
		fmt.Fprintf(&b, " (reason %q)", e.Reason)
	}
	if e.SvTRID != "" {
		fmt.Fprintf(&b, " (svTRID %s)", e.SvTRID)
	}
	return b.String()
}

// Unwrap returns the sentinel the result code maps to, by [Sentinel], so
// that errors.Is(err, registrar.ErrNotFound) and friends work.
func (e *ResultError) Unwrap() error {
	if s := Sentinel(e.Code); s != nil {
		return s
	}
	return registrar.ErrBadResponse // a success code is no error
}
