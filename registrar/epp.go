package registrar

import (
	"maps"
	"slices"
)

// eppStatuses maps the status values of an EPP domain (RFC 5731 §2.3) and of
// the Registry Grace Period extension (RFC 3915) to the [Status] each one
// signals. An adapter passes a domain's <domain:status> values and its
// <rgp:rgpStatus> values together, as one set.
//
// Prohibitions, grace periods and pending operations that leave the domain
// working map to [StatusActive]: they are set on registered domains and,
// active being the weakest in [precedence], never outweigh a stronger value
// beside them. Values are matched exactly, as the EPP schemas spell them.
var eppStatuses = map[string]Status{
	// RFC 5731 §2.3.
	"ok": StatusActive,
	// No nameservers: the domain is registered and renews as usual; it is
	// only not delegated in DNS, which is not a registration status.
	"inactive":   StatusActive,
	"clientHold": StatusSuspended,
	"serverHold": StatusSuspended,

	"clientDeleteProhibited":   StatusActive,
	"clientRenewProhibited":    StatusActive,
	"clientTransferProhibited": StatusActive,
	"clientUpdateProhibited":   StatusActive,
	"serverDeleteProhibited":   StatusActive,
	"serverRenewProhibited":    StatusActive,
	"serverTransferProhibited": StatusActive,
	"serverUpdateProhibited":   StatusActive,

	"pendingCreate": StatusPending,
	// Also an RFC 3915 rgpStatus: the redemption period is over and the
	// domain is about to be purged.
	"pendingDelete": StatusExpired,
	"pendingRenew":  StatusActive,
	// Outbound: the domain stays with its sponsor, and working, until the
	// transfer completes. [MapEPPInbound] reads it as pending.
	"pendingTransfer": StatusActive,
	"pendingUpdate":   StatusActive,

	// RFC 3915 rgpStatus values.
	"addPeriod":        StatusActive,
	"autoRenewPeriod":  StatusActive,
	"renewPeriod":      StatusActive,
	"transferPeriod":   StatusActive,
	"redemptionPeriod": StatusExpired,
	"pendingRestore":   StatusExpired,
}

// rdapStatuses maps the RDAP status values of a domain to the [Status] each
// one signals, by the same rules as [eppStatuses]: RFC 8056 maps every EPP
// domain status above to its RDAP spelling here.
//
// RFC 9083 §10.2.2 also registers values that describe the record rather
// than the service: "validated", "proxy", "private", "removed",
// "obscured", "associated", and the prohibitions "locked" and
// "... prohibited". A registry may set them on a registered domain, so they
// map to [StatusActive] like the EPP prohibitions.
var rdapStatuses = map[string]Status{
	// RFC 8056, the RDAP spelling of each EPP value.
	"active":      StatusActive, // EPP "ok".
	"inactive":    StatusActive,
	"client hold": StatusSuspended,
	"server hold": StatusSuspended,

	"client delete prohibited":   StatusActive,
	"client renew prohibited":    StatusActive,
	"client transfer prohibited": StatusActive,
	"client update prohibited":   StatusActive,
	"server delete prohibited":   StatusActive,
	"server renew prohibited":    StatusActive,
	"server transfer prohibited": StatusActive,
	"server update prohibited":   StatusActive,

	"pending create":   StatusPending,
	"pending delete":   StatusExpired,
	"pending renew":    StatusActive,
	"pending transfer": StatusActive, // Outbound; [MapRDAPInbound] reads it as pending.
	"pending update":   StatusActive,

	"add period":        StatusActive,
	"auto renew period": StatusActive,
	"renew period":      StatusActive,
	"transfer period":   StatusActive,
	"redemption period": StatusExpired,
	"pending restore":   StatusExpired,

	// RFC 9083 §10.2.2 values with no EPP domain status behind them.
	"validated":           StatusActive,
	"renew prohibited":    StatusActive,
	"update prohibited":   StatusActive,
	"transfer prohibited": StatusActive,
	"delete prohibited":   StatusActive,
	"proxy":               StatusActive,
	"private":             StatusActive,
	"removed":             StatusActive,
	"obscured":            StatusActive,
	"associated":          StatusActive,
	"locked":              StatusActive,
}

// The tables for a domain being transferred in: until the transfer
// completes, the domain is not yet the customer's working domain.
var (
	eppInboundStatuses  = withPending(eppStatuses, "pendingTransfer")
	rdapInboundStatuses = withPending(rdapStatuses, "pending transfer")
)

// precedence lists the statuses the tables hold, strongest first. When a
// domain has several raw values, the strongest status among them wins.
var precedence = []Status{StatusExpired, StatusSuspended, StatusPending, StatusActive}

// MapEPP maps an EPP domain's set of status values, its RFC 5731
// <domain:status> values together with any RFC 3915 <rgp:rgpStatus> values,
// to a [Status]. A pendingTransfer is read as outbound, leaving the domain
// active; use [MapEPPInbound] for a domain being transferred in.
//
// Holds map to [StatusSuspended]; redemptionPeriod, pendingRestore and
// pendingDelete to [StatusExpired]; pendingCreate to [StatusPending]; ok,
// inactive, prohibitions, grace periods and the other pending operations to
// [StatusActive]. When several values are present, expired outweighs
// suspended, which outweighs pending, which outweighs active, so the order
// of raw does not matter.
//
// An empty set, or any value the RFCs do not define, gives [StatusUnknown]:
// a status the table does not know might be the one that matters. Values
// are case-sensitive, as in the EPP schemas. MapEPP never returns
// [StatusFraud].
func MapEPP(raw []string) Status { return mapRaw(eppStatuses, raw) }

// MapEPPInbound is [MapEPP] for a domain being transferred in to the
// customer: pendingTransfer maps to [StatusPending] until the transfer
// completes and the registry drops it.
func MapEPPInbound(raw []string) Status { return mapRaw(eppInboundStatuses, raw) }

// MapRDAP maps an RDAP domain's status values (RFC 9083 §10.2.2, with the
// RFC 8056 spellings of the EPP statuses) to a [Status], by the rules of
// [MapEPP]: "client hold" is suspended, "redemption period" expired, and
// so on. A "pending transfer" is read as outbound; use [MapRDAPInbound] for
// a domain being transferred in.
//
// The RFC 9083 values that describe the record rather than the domain's
// service ("validated", "proxy", "private", "removed", "obscured",
// "associated", "locked" and the "... prohibited" values) leave the status
// active. An empty set, or any value not registered for RDAP, gives
// [StatusUnknown]; values are case-sensitive, as registered. MapRDAP never
// returns [StatusFraud].
func MapRDAP(raw []string) Status { return mapRaw(rdapStatuses, raw) }

// MapRDAPInbound is [MapRDAP] for a domain being transferred in to the
// customer: "pending transfer" maps to [StatusPending].
func MapRDAPInbound(raw []string) Status { return mapRaw(rdapInboundStatuses, raw) }

// mapRaw returns the strongest status, by [precedence], that table gives the
// values of raw, or [StatusUnknown] when raw is empty or table lacks one of
// its values.
func mapRaw(table map[string]Status, raw []string) Status {
	if len(raw) == 0 {
		return StatusUnknown
	}
	strongest := len(precedence) - 1
	for _, v := range raw {
		s, ok := table[v]
		if !ok {
			return StatusUnknown
		}
		strongest = min(strongest, slices.Index(precedence, s))
	}
	return precedence[strongest]
}

// withPending returns a copy of table in which pendingTransfer maps to
// [StatusPending].
func withPending(table map[string]Status, pendingTransfer string) map[string]Status {
	t := maps.Clone(table)
	t[pendingTransfer] = StatusPending
	return t
}
