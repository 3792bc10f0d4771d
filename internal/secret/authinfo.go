package secret

import (
	"fmt"
	"unicode/utf8"
)

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
