package registrar

import (
	"fmt"
	"slices"
)

// Status is a domain's normalized service status, exactly the enum of the
// Hostup API v2 status-sync response.
type Status string

// The normalized statuses.
const (
	StatusPending    Status = "pending"
	StatusActive     Status = "active"
	StatusSuspended  Status = "suspended"
	StatusTerminated Status = "terminated"
	StatusCancelled  Status = "cancelled"
	StatusExpired    Status = "expired"
	StatusFraud      Status = "fraud"
	StatusUnknown    Status = "unknown"
)

// Statuses lists every normalized status in the order the API documents them.
var Statuses = []Status{
	StatusPending, StatusActive, StatusSuspended, StatusTerminated,
	StatusCancelled, StatusExpired, StatusFraud, StatusUnknown,
}

// Valid reports whether s is one of [Statuses].
func (s Status) Valid() bool { return slices.Contains(Statuses, s) }

// ParseStatus returns the normalized status spelled exactly as s, or an error
// naming the value when s is not one of [Statuses].
func ParseStatus(s string) (Status, error) {
	st := Status(s)
	if !st.Valid() {
		return "", fmt.Errorf("invalid status %q: want one of pending, active, suspended, terminated, cancelled, expired, fraud, unknown", s)
	}
	return st, nil
}
