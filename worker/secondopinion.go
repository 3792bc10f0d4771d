package worker

import (
	"errors"
	"time"

	"github.com/regsync/regsync/registrar"
)

// decideSecondOpinion classifies the confirming read of a guarded change
// to applied made through another source than the registrar that
// reported it: the registry's RDAP server, say, confirming what the
// registrar's API said. failures and maxFailures bound failed reads as in
// [decideConfirmation].
//
// A registry sees the registration, not the registrar's or the hosting
// provider's view of the service, and it lags: a hold set at the registrar
// may reach it minutes later. So its statuses are equivalent to the
// registrar's where they describe the same state of the registration, not
// only where they are equal:
//
//   - the same status confirms;
//   - suspended at the registrar: a registry's expired (pending delete,
//     redemption) confirms (the domain is out of service either way); an
//     active registry has not seen the hold yet: not yet;
//   - expired at the registrar: a registry's hold confirms (registrars put
//     expired domains on hold); a registry's active confirms when its own
//     expiry date has passed (the auto-renew grace period, during which a
//     registry still shows the domain active), contradicts when the date
//     is in the future (renewed), and is not yet when it gives none;
//   - terminated or cancelled: a registry's expired, or the registry no
//     longer knowing the domain, confirms (the deletion has begun); any
//     other status cannot tell, since a registration lives on at the
//     registry until it is deleted;
//   - an unrecognised registry status, or a domain the source has no
//     server for, cannot tell;
//   - any other status contradicts.
//
// "Cannot tell" sends the confirmation to the domain's own registrar.
func decideSecondOpinion(applied registrar.Status, second registrar.StatusReading, err error, failures, maxFailures int, now time.Time) confirmation {
	ended := applied == registrar.StatusTerminated || applied == registrar.StatusCancelled
	switch {
	case errors.Is(err, registrar.ErrNotCovered):
		return confirmCannotTell
	case errors.Is(err, registrar.ErrNotFound) && ended:
		return confirmConfirmed
	case err != nil:
		return decideConfirmation(applied, second, err, failures, maxFailures)
	}
	registry := second.Status
	switch {
	case registry == applied:
		return confirmConfirmed
	case registry == registrar.StatusUnknown || !registry.Valid():
		return confirmCannotTell
	case ended && registry == registrar.StatusExpired:
		return confirmConfirmed
	case ended:
		return confirmCannotTell
	case applied == registrar.StatusSuspended && registry == registrar.StatusExpired:
		return confirmConfirmed
	case applied == registrar.StatusSuspended && registry == registrar.StatusActive:
		return confirmNotYet
	case applied == registrar.StatusExpired && registry == registrar.StatusSuspended:
		return confirmConfirmed
	case applied == registrar.StatusExpired && registry == registrar.StatusActive && second.ExpiresAt.IsZero():
		return confirmNotYet
	case applied == registrar.StatusExpired && registry == registrar.StatusActive && second.ExpiresAt.Before(now):
		return confirmConfirmed
	default:
		return confirmContradicted
	}
}
