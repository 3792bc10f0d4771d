// Package domainname normalizes the domain names customers give to the one
// form regsync stores and sends to registrars.
package domainname

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/idna"
	"golang.org/x/net/publicsuffix"
)

// maxLength is the longest domain name DNS allows, in octets, without the
// trailing dot (RFC 1035 §2.3.4).
const maxLength = 253

// maxLabelLength is the longest label DNS allows, in octets.
const maxLabelLength = 63

// maxInput bounds the bytes Normalize reads, so that its errors, which
// quote the name, stay short. It leaves room for Unicode forms and for
// characters that IDNA mapping removes.
const maxInput = 1024

// profile converts names for lookup: it maps upper case and other variants
// to their lookup form, then checks labels strictly (hyphens, joiners,
// bidirectional text, letters, digits and hyphens only) and their lengths.
var profile = idna.New(
	idna.MapForLookup(),
	idna.BidiRule(),
	idna.ValidateLabels(true),
	idna.StrictDomainName(true),
	idna.VerifyDNSLength(true),
)

// Normalize returns the form of a customer's domain name that regsync
// stores: IDNA A-labels, lower case, no trailing dot. "Bücher.DE." becomes
// "xn--bcher-kva.de".
//
// The name must be exactly a domain registered at a registry: one label
// under a public suffix from the ICANN section of the public suffix list,
// such as example.com or example.co.uk. Normalize rejects a bare suffix
// ("com", "co.uk"), a top-level domain the list does not know, and a
// subdomain ("www.example.com", or "foo.blogspot.com" under the private
// suffix blogspot.com), since registrars know only the registered domain;
// the error names it. A private suffix itself, such as blogspot.com, is a
// domain registered under com and is accepted.
//
// It also rejects an empty name, an IP address, names longer than 253
// octets or with a label longer than 63, labels that begin or end with a
// hyphen, and characters domain names cannot hold, such as spaces and
// underscores. The error says what is wrong.
func Normalize(name string) (string, error) {
	if name == "" {
		return "", errors.New("domain name is empty")
	}
	if len(name) > maxInput {
		return "", fmt.Errorf("invalid domain name of %d bytes: a domain name has at most %d octets", len(name), maxLength)
	}
	// x/net/idna reads invalid UTF-8 as U+FFFD and encodes it without error.
	if !utf8.ValidString(name) {
		return "", fmt.Errorf("invalid domain name %q: it is not valid UTF-8", name)
	}
	if _, err := netip.ParseAddr(strings.TrimSuffix(name, ".")); err == nil {
		return "", fmt.Errorf("invalid domain name %q: it is an IP address", name)
	}
	// x/net/idna decodes an xn-- label holding non-ASCII characters instead
	// of rejecting it, turning it into some other name (golang/go#81116).
	for _, label := range strings.FieldsFunc(name, isLabelSeparator) {
		if strings.HasPrefix(strings.ToLower(label), "xn--") && !isASCII(label) {
			return "", fmt.Errorf("invalid domain name %q: label %q begins with xn-- but is not ASCII", name, label)
		}
	}
	ascii, err := profile.ToASCII(name)
	// A single trailing dot names the DNS root; it is not part of the name.
	ascii = strings.TrimSuffix(ascii, ".")
	if err != nil {
		if problem := labelProblem(ascii); problem != "" {
			return "", fmt.Errorf("invalid domain name %q: %s: %w", name, problem, err)
		}
		return "", fmt.Errorf("invalid domain name %q: %w", name, err)
	}
	if ascii == "" || strings.HasSuffix(ascii, ".") {
		return "", fmt.Errorf("invalid domain name %q: it has an empty label", name)
	}
	// x/net/idna checks the Bidi rule before mapping, so it can accept a
	// name whose A-label form it then rejects (golang/go#81525). Checking the
	// result again keeps Normalize's output a valid input.
	if _, err := profile.ToASCII(ascii); err != nil {
		return "", fmt.Errorf("invalid domain name %q: its A-label form %q is not a valid name: %w", name, ascii, err)
	}
	if err := checkRegistrable(ascii); err != nil {
		return "", fmt.Errorf("invalid domain name %q: %w", name, err)
	}
	return ascii, nil
}

// isLabelSeparator reports whether r separates labels in a name before IDNA
// mapping: the full stop and the dots UTS #46 maps to it.
func isLabelSeparator(r rune) bool {
	switch r {
	case '.', '\u3002', '\uff0e', '\uff61':
		return true
	default:
		return false
	}
}

// labelProblem says in words what makes ascii, the output of a failed IDNA
// conversion, invalid, or returns "" when it finds nothing plainer to say
// than the IDNA error.
func labelProblem(ascii string) string {
	if len(ascii) > maxLength && isASCII(ascii) {
		return fmt.Sprintf("it is longer than %d octets", maxLength)
	}
	for label := range strings.SplitSeq(ascii, ".") {
		switch {
		case label == "":
			return "it has an empty label"
		case len(label) > maxLabelLength && isASCII(label):
			return fmt.Sprintf("label %q is longer than %d octets", label, maxLabelLength)
		case strings.HasPrefix(label, "-") || strings.HasSuffix(label, "-"):
			return fmt.Sprintf("label %q begins or ends with a hyphen", label)
		case len(label) >= 4 && label[2:4] == "--" && !strings.HasPrefix(label, "xn--"):
			return fmt.Sprintf("label %q has hyphens in the third and fourth positions, which only IDNA's xn-- may use", label)
		}
		if i := strings.IndexFunc(label, notLDH); i >= 0 {
			return fmt.Sprintf("%q is not allowed in a domain name", label[i:i+1])
		}
	}
	return ""
}

// isASCII reports whether s holds only ASCII characters, whose lengths
// [labelProblem] may judge.
func isASCII(s string) bool {
	return strings.IndexFunc(s, func(r rune) bool { return r >= utf8.RuneSelf }) < 0
}

// notLDH reports whether r is an ASCII character other than a letter, digit
// or hyphen. Other runes are left to the IDNA error to describe.
func notLDH(r rune) bool {
	switch {
	case r >= utf8.RuneSelf:
		return false
	case 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z', '0' <= r && r <= '9', r == '-':
		return false
	default:
		return true
	}
}

// checkRegistrable returns an error unless ascii is exactly one label under
// the longest ICANN public suffix that ends it.
func checkRegistrable(ascii string) error {
	suffix, icann := publicsuffix.PublicSuffix(ascii)
	private := ""
	if !icann {
		private = suffix
	}
	// A private suffix lies under an ICANN one: look for it above.
	for !icann {
		_, parent, ok := strings.Cut(suffix, ".")
		if !ok {
			return fmt.Errorf("top-level domain %q is not in the public suffix list", suffix)
		}
		suffix, icann = publicsuffix.PublicSuffix(parent)
	}
	if ascii == suffix {
		return errors.New("it is a public suffix, not a registered domain")
	}
	rest := strings.TrimSuffix(ascii, "."+suffix)
	registered := rest[strings.LastIndexByte(rest, '.')+1:] + "." + suffix
	switch {
	case ascii == registered:
		return nil
	case private != "" && private != ascii:
		return fmt.Errorf("it is a name under the private suffix %q, not a registered domain; the registered domain is %q", private, registered)
	default:
		return fmt.Errorf("it is a subdomain; the registered domain is %q", registered)
	}
}
