package registrar

import (
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// mapper is one raw-status table with the functions reading it.
type mapper struct {
	name            string
	table           map[string]Status
	pendingTransfer string
	outbound        func([]string) Status
	inbound         func([]string) Status
}

var (
	eppMapper  = mapper{"EPP", eppStatuses, "pendingTransfer", MapEPP, MapEPPInbound}
	rdapMapper = mapper{"RDAP", rdapStatuses, "pending transfer", MapRDAP, MapRDAPInbound}
)

// valueTest is the expected reading of one raw value on its own.
type valueTest struct {
	raw         string
	want        Status
	wantInbound Status
}

func TestMapEPPValues(t *testing.T) {
	t.Parallel()
	testValues(t, eppMapper, []valueTest{
		{"ok", StatusActive, StatusActive},
		{"inactive", StatusActive, StatusActive},
		{"clientHold", StatusSuspended, StatusSuspended},
		{"serverHold", StatusSuspended, StatusSuspended},
		{"clientDeleteProhibited", StatusActive, StatusActive},
		{"clientRenewProhibited", StatusActive, StatusActive},
		{"clientTransferProhibited", StatusActive, StatusActive},
		{"clientUpdateProhibited", StatusActive, StatusActive},
		{"serverDeleteProhibited", StatusActive, StatusActive},
		{"serverRenewProhibited", StatusActive, StatusActive},
		{"serverTransferProhibited", StatusActive, StatusActive},
		{"serverUpdateProhibited", StatusActive, StatusActive},
		{"pendingCreate", StatusPending, StatusPending},
		{"pendingDelete", StatusExpired, StatusExpired},
		{"pendingRenew", StatusActive, StatusActive},
		{"pendingTransfer", StatusActive, StatusPending},
		{"pendingUpdate", StatusActive, StatusActive},
		{"addPeriod", StatusActive, StatusActive},
		{"autoRenewPeriod", StatusActive, StatusActive},
		{"renewPeriod", StatusActive, StatusActive},
		{"transferPeriod", StatusActive, StatusActive},
		{"redemptionPeriod", StatusExpired, StatusExpired},
		{"pendingRestore", StatusExpired, StatusExpired},
	})
}

func TestMapRDAPValues(t *testing.T) {
	t.Parallel()
	testValues(t, rdapMapper, []valueTest{
		{"active", StatusActive, StatusActive},
		{"inactive", StatusActive, StatusActive},
		{"client hold", StatusSuspended, StatusSuspended},
		{"server hold", StatusSuspended, StatusSuspended},
		{"client delete prohibited", StatusActive, StatusActive},
		{"client renew prohibited", StatusActive, StatusActive},
		{"client transfer prohibited", StatusActive, StatusActive},
		{"client update prohibited", StatusActive, StatusActive},
		{"server delete prohibited", StatusActive, StatusActive},
		{"server renew prohibited", StatusActive, StatusActive},
		{"server transfer prohibited", StatusActive, StatusActive},
		{"server update prohibited", StatusActive, StatusActive},
		{"pending create", StatusPending, StatusPending},
		{"pending delete", StatusExpired, StatusExpired},
		{"pending renew", StatusActive, StatusActive},
		{"pending transfer", StatusActive, StatusPending},
		{"pending update", StatusActive, StatusActive},
		{"add period", StatusActive, StatusActive},
		{"auto renew period", StatusActive, StatusActive},
		{"renew period", StatusActive, StatusActive},
		{"transfer period", StatusActive, StatusActive},
		{"redemption period", StatusExpired, StatusExpired},
		{"pending restore", StatusExpired, StatusExpired},
		{"validated", StatusActive, StatusActive},
		{"renew prohibited", StatusActive, StatusActive},
		{"update prohibited", StatusActive, StatusActive},
		{"transfer prohibited", StatusActive, StatusActive},
		{"delete prohibited", StatusActive, StatusActive},
		{"proxy", StatusActive, StatusActive},
		{"private", StatusActive, StatusActive},
		{"removed", StatusActive, StatusActive},
		{"obscured", StatusActive, StatusActive},
		{"associated", StatusActive, StatusActive},
		{"locked", StatusActive, StatusActive},
	})
}

// testValues checks each value on its own, and that tests cover every entry
// of m's table.
func testValues(t *testing.T, m mapper, tests []valueTest) {
	t.Helper()
	var covered []string
	for _, tt := range tests {
		covered = append(covered, tt.raw)
		t.Run(tt.raw, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, m.outbound([]string{tt.raw}))
			require.Equal(t, tt.wantInbound, m.inbound([]string{tt.raw}))
		})
	}
	require.ElementsMatch(t, slices.Collect(maps.Keys(m.table)), covered, "tests and %s table differ", m.name)
}

// setTest is the expected reading of a set of raw values.
type setTest struct {
	name        string
	raw         []string
	want        Status
	wantInbound Status
}

func TestMapEPPSets(t *testing.T) {
	t.Parallel()
	testSets(t, eppMapper, []setTest{
		{"nil", nil, StatusUnknown, StatusUnknown},
		{"empty", []string{}, StatusUnknown, StatusUnknown},
		{"empty value", []string{""}, StatusUnknown, StatusUnknown},
		{"unknown value", []string{"bogus"}, StatusUnknown, StatusUnknown},
		{"unknown value beside known", []string{"ok", "bogus"}, StatusUnknown, StatusUnknown},
		{"unknown value beside expired", []string{"redemptionPeriod", "bogus"}, StatusUnknown, StatusUnknown},
		{"case-sensitive", []string{"OK"}, StatusUnknown, StatusUnknown},
		{"case-sensitive camel", []string{"clienthold"}, StatusUnknown, StatusUnknown},
		{"no trimming", []string{" ok"}, StatusUnknown, StatusUnknown},
		{"RDAP spelling", []string{"client hold"}, StatusUnknown, StatusUnknown},
		{"RDAP active", []string{"active"}, StatusUnknown, StatusUnknown},
		{"fraud is no EPP value", []string{"fraud"}, StatusUnknown, StatusUnknown},
		{"host status linked", []string{"linked"}, StatusUnknown, StatusUnknown},
		{"duplicates", []string{"ok", "ok"}, StatusActive, StatusActive},
		{"prohibitions only", []string{"clientTransferProhibited", "serverDeleteProhibited"}, StatusActive, StatusActive},
		{"inactive in add period", []string{"inactive", "addPeriod"}, StatusActive, StatusActive},
		{"expired over suspended", []string{"clientHold", "redemptionPeriod"}, StatusExpired, StatusExpired},
		{"expired over pending", []string{"pendingCreate", "pendingDelete"}, StatusExpired, StatusExpired},
		{"expired over active", []string{"pendingDelete", "redemptionPeriod", "clientTransferProhibited"}, StatusExpired, StatusExpired},
		{"suspended over pending", []string{"pendingCreate", "serverHold"}, StatusSuspended, StatusSuspended},
		{"suspended over active", []string{"clientHold", "clientTransferProhibited", "autoRenewPeriod"}, StatusSuspended, StatusSuspended},
		{"pending over active", []string{"pendingCreate", "clientTransferProhibited"}, StatusPending, StatusPending},
		{"transfer with prohibition", []string{"pendingTransfer", "clientUpdateProhibited"}, StatusActive, StatusPending},
		{"transfer of a held domain", []string{"pendingTransfer", "clientHold"}, StatusSuspended, StatusSuspended},
		{"transfer in redemption", []string{"pendingTransfer", "redemptionPeriod"}, StatusExpired, StatusExpired},
		{"restore requested", []string{"redemptionPeriod", "pendingRestore"}, StatusExpired, StatusExpired},
	})
}

func TestMapRDAPSets(t *testing.T) {
	t.Parallel()
	testSets(t, rdapMapper, []setTest{
		{"nil", nil, StatusUnknown, StatusUnknown},
		{"empty", []string{}, StatusUnknown, StatusUnknown},
		{"empty value", []string{""}, StatusUnknown, StatusUnknown},
		{"unknown value", []string{"bogus"}, StatusUnknown, StatusUnknown},
		{"unknown value beside known", []string{"active", "bogus"}, StatusUnknown, StatusUnknown},
		{"case-sensitive", []string{"Active"}, StatusUnknown, StatusUnknown},
		{"case-sensitive words", []string{"Client Hold"}, StatusUnknown, StatusUnknown},
		{"no trimming", []string{"active "}, StatusUnknown, StatusUnknown},
		{"EPP spelling", []string{"clientHold"}, StatusUnknown, StatusUnknown},
		{"EPP ok", []string{"ok"}, StatusUnknown, StatusUnknown},
		{"fraud is no RDAP value", []string{"fraud"}, StatusUnknown, StatusUnknown},
		{"duplicates", []string{"active", "active"}, StatusActive, StatusActive},
		{"record descriptions only", []string{"validated", "proxy", "private", "removed", "obscured", "associated", "locked"}, StatusActive, StatusActive},
		{"active and locked", []string{"active", "locked", "client transfer prohibited"}, StatusActive, StatusActive},
		{"expired over suspended", []string{"client hold", "redemption period"}, StatusExpired, StatusExpired},
		{"expired over pending", []string{"pending create", "pending delete"}, StatusExpired, StatusExpired},
		{"suspended over pending", []string{"pending create", "server hold"}, StatusSuspended, StatusSuspended},
		{"suspended over active", []string{"active", "client hold"}, StatusSuspended, StatusSuspended},
		{"pending over active", []string{"pending create", "client transfer prohibited"}, StatusPending, StatusPending},
		{"transfer with prohibition", []string{"pending transfer", "client update prohibited"}, StatusActive, StatusPending},
		{"transfer of a held domain", []string{"pending transfer", "server hold"}, StatusSuspended, StatusSuspended},
		{"restore requested", []string{"redemption period", "pending restore"}, StatusExpired, StatusExpired},
	})
}

func testSets(t *testing.T, m mapper, tests []setTest) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, m.outbound(tt.raw))
			require.Equal(t, tt.wantInbound, m.inbound(tt.raw))
		})
	}
}

// TestTablesHoldOnlyRankedStatuses pins that every table value has a place in
// precedence, which mapRaw relies on, and so is never fraud or unknown.
func TestTablesHoldOnlyRankedStatuses(t *testing.T) {
	t.Parallel()
	tables := map[string]map[string]Status{
		"EPP":          eppStatuses,
		"EPP inbound":  eppInboundStatuses,
		"RDAP":         rdapStatuses,
		"RDAP inbound": rdapInboundStatuses,
	}
	for name, table := range tables {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			for raw, s := range table {
				require.Contains(t, precedence, s, "%s value %q", name, raw)
			}
		})
	}
}

func FuzzMapEPP(f *testing.F) { fuzzMapper(f, eppMapper) }

func FuzzMapRDAP(f *testing.F) { fuzzMapper(f, rdapMapper) }

// fuzzMapper checks m's functions on sets of values joined by commas: the
// result is a valid status and never fraud, it is the same on every call
// and in any order of the values, it is unknown exactly when the set is
// empty or holds a value m's table lacks, and outbound and inbound readings
// differ only when the set holds a pending transfer.
func fuzzMapper(f *testing.F, m mapper) {
	keys := slices.Sorted(maps.Keys(m.table))
	for _, k := range keys {
		f.Add(k, uint8(0))
	}
	f.Add("", uint8(0))
	f.Add(strings.Join(keys, ","), uint8(7))
	f.Add(m.pendingTransfer+","+keys[0], uint8(1))
	f.Add(keys[0]+",bogus,"+keys[1], uint8(2))

	f.Fuzz(func(t *testing.T, joined string, shift uint8) {
		var raw []string
		if joined != "" {
			raw = strings.Split(joined, ",")
		}
		known := len(raw) > 0
		for _, v := range raw {
			if _, ok := m.table[v]; !ok {
				known = false
			}
		}

		reversed := slices.Clone(raw)
		slices.Reverse(reversed)
		sorted := slices.Sorted(slices.Values(raw))
		rotated := slices.Clone(raw)
		if len(raw) > 0 {
			n := int(shift) % len(raw)
			rotated = append(rotated[n:], rotated[:n]...)
		}

		for _, mapFn := range []func([]string) Status{m.outbound, m.inbound} {
			got := mapFn(raw)
			require.True(t, got.Valid(), "invalid status %q", got)
			require.NotEqual(t, StatusFraud, got)
			require.Equal(t, !known, got == StatusUnknown, "raw %q gave %q", raw, got)
			require.Equal(t, got, mapFn(raw), "not deterministic")
			require.Equal(t, got, mapFn(reversed), "reversed %q", reversed)
			require.Equal(t, got, mapFn(sorted), "sorted %q", sorted)
			require.Equal(t, got, mapFn(rotated), "rotated %q", rotated)
		}
		if !slices.Contains(raw, m.pendingTransfer) {
			require.Equal(t, m.outbound(raw), m.inbound(raw))
		}
	})
}
