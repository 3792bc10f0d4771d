package registrar

import (
	"context"
	"fmt"
	"slices"
	"unicode/utf8"
)

// Transfer identifies a domain transfer order at a registrar.
type Transfer struct {
	// Account is the customer's account number at the registrar, for
	// example "acct12345".
	Account string
	// DomainName is the IDNA-normalized name of the domain being transferred
	// (A-labels, lower case).
	DomainName string
}

// TransferResetter is the optional capability of an adapter that can retry a
// blocked domain transfer. Callers find it with a type assertion on the
// adapter.
//
// ResetTransfer must honour ctx's deadline and sends exactly one request: it
// does not retry on its own. Any 2xx answer is a success; every other answer
// is an error wrapping one of this package's sentinels and prefixed with the
// adapter name. An answer the adapter does not expect wraps
// [ErrBadResponse]: it is never a success. The authInfo is a secret: it only
// travels in the request body, never in a URL, a log or an error.
type TransferResetter interface {
	// ResetTransfer asks the registrar to retry a blocked transfer, with a new
	// authInfo or, when authInfo is empty, the one it already has.
	ResetTransfer(ctx context.Context, t Transfer, authInfo string) (ResetResult, error)
}

// ResetResult is a registrar's acceptance of a transfer reset.
type ResetResult struct {
	// Status is the 2xx HTTP status the registrar answered.
	Status int
	// RequestID is the registrar's request identifier, if it sent one.
	RequestID string
}

// TransferStatusReader is the optional capability of an adapter that can read
// the status of a domain transfer order, so that a caller can reset only a
// transfer that can be reset and confirm a reset afterwards. It follows the
// error conventions of [TransferResetter].
type TransferStatusReader interface {
	// ReadTransferStatus asks the registrar for the transfer order's status.
	ReadTransferStatus(ctx context.Context, t Transfer) (TransferStatus, error)
}

// TransferStatus is one read of a transfer order's status.
type TransferStatus struct {
	// Code is the registrar's transfer-order status code.
	Code int
	// Description is the registrar's text for Code.
	Description string
	// State is Code mapped to the normalized transfer state.
	State TransferState
	// CanBeReset reports whether the registrar says the transfer can be
	// reset now.
	CanBeReset bool
	// RequestID is the registrar's request identifier, if it sent one.
	RequestID string
}

// TransferState is a transfer order's normalized state.
type TransferState string

// The normalized transfer states.
const (
	// TransferPending means the transfer is in progress: awaiting a
	// confirmation, the registry or the losing registrar.
	TransferPending TransferState = "pending"
	// TransferBlocked means the transfer stopped on an impediment (a registry
	// lock, a rejected authInfo, the 60-day lock, a NACK, no answer from the
	// authorized contact) and waits to be reset.
	TransferBlocked TransferState = "blocked"
	// TransferCompleted means the domain was transferred.
	TransferCompleted TransferState = "completed"
	// TransferCancelled means the transfer order was cancelled and will not
	// go on.
	TransferCancelled TransferState = "cancelled"
	// TransferUnknown means the registrar reported a status this package
	// does not know.
	TransferUnknown TransferState = "unknown"
)

// TransferStates lists every normalized transfer state.
var TransferStates = []TransferState{
	TransferPending, TransferBlocked, TransferCompleted, TransferCancelled, TransferUnknown,
}

// Valid reports whether s is one of [TransferStates].
func (s TransferState) Valid() bool { return slices.Contains(TransferStates, s) }

// MapEnomTransfer maps an eNom-style transfer-order status code, which
// Hostway's transfer status follows, to a [TransferState]. The table is
// regsync's reading of eNom's transfer-order codes: eNom documents several
// overlapping code lists, and this one keeps one code per situation the
// transfer-retry design tells apart.
//
//	0   awaiting confirmation from the authorized contact   pending
//	1   confirmed, awaiting submission to the registry      pending
//	2   submitted to the registry                           pending
//	3   awaiting response from the losing registrar         pending
//	4   blocked by the registry status (locked,             blocked
//	    redemptionPeriod, already pending transfer)
//	5   blocked: the registry rejected the authInfo         blocked
//	6   blocked: registered less than 60 days ago           blocked
//	7   blocked: no response from the authorized contact    blocked
//	8   rejected by the losing registrar or the registrant  blocked
//	9   completed                                           completed
//	10  cancelled                                           cancelled
//
// Any other code maps to [TransferUnknown].
func MapEnomTransfer(code int) TransferState {
	if code < 0 || code >= len(enomTransferStates) {
		return TransferUnknown
	}
	return enomTransferStates[code]
}

// enomTransferStates is the table of [MapEnomTransfer], indexed by code.
var enomTransferStates = []TransferState{
	TransferPending, TransferPending, TransferPending, TransferPending,
	TransferBlocked, TransferBlocked, TransferBlocked, TransferBlocked, TransferBlocked,
	TransferCompleted,
	TransferCancelled,
}

// The length limits of an authInfo, in characters, set by the Hostway API.
const (
	minAuthInfo = 6
	maxAuthInfo = 16
)

// ValidateAuthInfo checks an authInfo, the EPP transfer code, before it is
// sent to a registrar: it must be 6 to 16 characters of printable ASCII,
// U+0021 '!' to U+007E '~', with no spaces or control characters. The
// length limits are the Hostway API's; the character set is what EPP
// authInfo passwords, tokens in RFC 5733, hold in practice, since
// registries commonly restrict them to printable ASCII.
//
// The error says what is wrong: the length, counted in Unicode code points,
// or the position, from 1, of the first character outside printable ASCII.
// It never contains the authInfo or any part of it.
func ValidateAuthInfo(s string) error {
	if n := utf8.RuneCountInString(s); n < minAuthInfo || n > maxAuthInfo {
		return fmt.Errorf("authInfo must be %d to %d characters, got %d", minAuthInfo, maxAuthInfo, n)
	}
	pos := 0
	for _, r := range s {
		pos++
		if r < '!' || r > '~' {
			return fmt.Errorf("authInfo contains a character outside printable ASCII at position %d", pos)
		}
	}
	return nil
}
