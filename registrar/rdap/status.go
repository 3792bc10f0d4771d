package rdap

import (
	"strings"
	"unicode"

	"github.com/regsync/regsync/registrar"
)

// mapStatuses maps a domain's RDAP status values with [registrar.MapRDAP]
// after canonicalizing each one with [canonicalStatus].
func mapStatuses(values []string) registrar.Status {
	canonical := make([]string, len(values))
	for i, v := range values {
		canonical[i] = canonicalStatus(v)
	}
	return registrar.MapRDAP(canonical)
}

// canonicalStatus returns the registered RDAP spelling of a status value
// that some servers spell otherwise, or v itself:
//
//   - a registered value is kept as it is;
//   - a value that is registered once upper case is lowered and runs of
//     white space are made single spaces ("Client Hold", "client  hold");
//   - an EPP spelling of RFC 5731 or RFC 3915 becomes its RFC 8056 RDAP
//     spelling ("clientHold" → "client hold", "ok" → "active"), matched
//     without regard to case.
//
// Anything else is returned unchanged and maps to [registrar.StatusUnknown],
// so a value no rule recognizes is never guessed at.
func canonicalStatus(v string) string {
	if registered(v) {
		return v
	}
	if folded := strings.ToLower(strings.Join(strings.Fields(v), " ")); registered(folded) {
		return folded
	}
	if rdap, ok := eppSpelling(strings.TrimSpace(v)); ok && registered(rdap) {
		return rdap
	}
	return v
}

// registered reports whether v is an RDAP status value the mapping table
// knows.
func registered(v string) bool {
	return registrar.MapRDAP([]string{v}) != registrar.StatusUnknown
}

// eppSpelling returns the RFC 8056 RDAP spelling of an EPP status value:
// "ok" is "active", and any other value's camel-case words are separated
// by spaces and lowered ("pendingDelete" is "pending delete"). It reports
// false for a value that is not a single word of ASCII letters, which no
// EPP status is.
func eppSpelling(v string) (string, bool) {
	if strings.EqualFold(v, "ok") {
		return "active", true
	}
	if v == "" {
		return "", false
	}
	var b strings.Builder
	for i, r := range v {
		if r > unicode.MaxASCII || !unicode.IsLetter(r) {
			return "", false
		}
		if unicode.IsUpper(r) && i > 0 {
			b.WriteByte(' ')
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String(), true
}
