package worker

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/regsync/regsync/registrar"
	"github.com/regsync/regsync/store"
)

// Bounds of a believable expiry date. Registrars are known to send
// placeholders (0001-01-01, 1969-12-31) and corrupt dates; no registry
// took registrations before 1985 or for more than ten years ahead, plus a
// year of slack for grace periods and time zones.
var (
	earliestExpiry      = time.Date(1985, 1, 1, 0, 0, 0, 0, time.UTC)
	longestRegistration = 11 * 365 * 24 * time.Hour
)

// decideExpiry decides whether the expiry date a registrar reported
// replaces the domain's current one (nil: none known). It returns the date
// to apply, nil to keep the current one, and, when the reported date is
// not believable, why. A date moving backwards is believable only with a
// status change (a deletion and a new registration, say): otherwise it is
// the kind of registrar glitch that must not reach billing.
func decideExpiry(current *time.Time, reported time.Time, statusChanged bool, now time.Time) (apply *time.Time, problem string) {
	switch {
	case reported.IsZero():
		return nil, ""
	case reported.Before(earliestExpiry):
		return nil, fmt.Sprintf("reported expiry date %s is a placeholder or before 1985; not applied", reported.UTC().Format(time.DateOnly))
	case reported.After(now.Add(longestRegistration)):
		return nil, fmt.Sprintf("reported expiry date %s is more than 11 years ahead; not applied", reported.UTC().Format(time.DateOnly))
	case current != nil && reported.Equal(*current):
		return nil, ""
	case current != nil && reported.Before(*current) && !statusChanged:
		return nil, fmt.Sprintf("reported expiry date %s is before the known %s without a status change; not applied",
			reported.UTC().Format(time.DateOnly), current.UTC().Format(time.DateOnly))
	}
	return &reported, ""
}

// transferredAway says whether a read finds d gone from its registrar,
// and how: sponsored by a registrar that is not one of the provider's
// own (when own lists them for d's registrar), or not found by a
// registrar that held it (d was synced before). A cancelled domain, or
// one in a sticky status, is never reported away: there is nothing left
// to change.
func transferredAway(cfg SyncConfig, d store.Domain, reading registrar.StatusReading, err error) (string, bool) {
	if d.Status == registrar.StatusCancelled || slices.Contains(cfg.Sticky, d.Status) {
		return "", false
	}
	own := cfg.OwnSponsors[d.Registrar]
	switch {
	case err == nil && reading.Sponsor != "" && len(own) > 0 && !slices.Contains(own, reading.Sponsor):
		return fmt.Sprintf("the registry names %q as its sponsor, not this provider", reading.Sponsor), true
	case errors.Is(err, registrar.ErrNotFound) && d.LastSyncedAt != nil:
		return "the registrar no longer knows the domain it held", true
	}
	return "", false
}
