// Package registrar defines what regsync needs from a registrar: the
// normalized [Status] type with the raw-status mapping tables, the small
// [Registrar] interface of adapters that read domain statuses, the optional
// transfer capabilities [TransferResetter] and [TransferStatusReader], typed
// errors, and the factory that builds an adapter by name. Each adapter lives
// in its own subpackage (registrar/hostup, registrar/hostway, registrar/sim)
// and passes the shared conformance suite in registrar/registrartest.
package registrar

import (
	"context"
	"time"
)

// Domain identifies a domain to a registrar adapter.
type Domain struct {
	// ID is the public domain id, for example "dom_01hxa3b4c5d6e7f8g9h0j1k2m3".
	ID string
	// Name is the IDNA-normalized domain name (A-labels, lower case).
	Name string
}

// StatusReading is one status read from a registrar.
type StatusReading struct {
	// Raw is the status exactly as the registrar reported it, kept next to
	// the normalized value for the record.
	Raw string
	// Status is Raw mapped to the normalized enum; [StatusUnknown] when the
	// raw value has no mapping.
	Status Status
	// RequestID is the registrar's request identifier, if it sent one.
	RequestID string
	// ExpiresAt is when the registration expires, as the registrar or
	// registry reports it; zero when the adapter does not report one.
	ExpiresAt time.Time
	// Sponsor identifies the registrar that sponsors the domain at the
	// registry (the EPP clID, or the IANA id of the RDAP registrar entity);
	// empty when the adapter does not report one.
	Sponsor string
}

// Named is what every adapter is: it has the name that domains and
// transfers choose it by. What an adapter can do, its capability
// interfaces say ([Registrar], [TransferResetter],
// [TransferStatusReader]); callers find them by type assertion.
type Named interface {
	// Name is the adapter name stored in a domain's or a transfer's
	// registrar column.
	Name() string
}

// Registrar reads a domain's current status from a registrar.
//
// ReadStatus must honour ctx's deadline. Its errors wrap one of this
// package's sentinels (for example [ErrNotFound], [ErrRateLimited],
// [ErrUnavailable]) and are prefixed with the adapter name.
type Registrar interface {
	Named
	// ReadStatus asks the registrar for the domain's current status.
	ReadStatus(ctx context.Context, domain Domain) (StatusReading, error)
}
