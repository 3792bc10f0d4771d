package domainname_test

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/regsync/regsync/internal/domainname"
)

// schemaNamePattern is the CHECK on regsync.domains.name in
// migrations/sql/001_domains.sql, copied verbatim: every name Normalize
// returns must be storable.
const schemaNamePattern = `^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`

var (
	schemaName = regexp.MustCompile(schemaNamePattern)
	// ldhName is the shape of a normalized name: two or more letter-digit-
	// hyphen labels of 1 to 63 characters, no hyphen at either end.
	ldhName = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$`)
)

var (
	label63 = strings.Repeat("a", 63)
	label64 = strings.Repeat("a", 64)
	// name254 is 254 octets of valid labels.
	name254 = label63 + "." + label63 + "." + label63 + "." + strings.Repeat("a", 58) + ".com"
)

type normalizeTest struct {
	name    string
	want    string
	wantErr string
}

var normalizeTests = []normalizeTest{
	{name: "example.com", want: "example.com"},
	{name: "EXAMPLE.COM", want: "example.com"},
	{name: "Example.Com.", want: "example.com"},
	{name: "example.co.uk", want: "example.co.uk"},
	{name: "a-b.com", want: "a-b.com"},
	{name: "abc--d.com", want: "abc--d.com"},
	{name: "123.com", want: "123.com"},
	{name: label63 + ".com", want: label63 + ".com"},
	{name: "bücher.de", want: "xn--bcher-kva.de"},
	{name: "Bücher.DE.", want: "xn--bcher-kva.de"},
	{name: "xn--bcher-kva.de", want: "xn--bcher-kva.de"},
	{name: "XN--BCHER-KVA.DE", want: "xn--bcher-kva.de"},
	{name: "例え.jp", want: "xn--r8jz45g.jp"},
	{name: "example。com", want: "example.com"},
	{name: "blogspot.com", want: "blogspot.com"},
	{name: "www.ck", want: "www.ck"},

	{name: "", wantErr: "domain name is empty"},
	{name: ".", wantErr: "empty label"},
	{name: "example.com..", wantErr: "empty label"},
	{name: ".example.com", wantErr: "empty label"},
	{name: "example..com", wantErr: "empty label"},
	{name: "com", wantErr: "is a public suffix"},
	{name: "com.", wantErr: "is a public suffix"},
	{name: "co.uk", wantErr: "is a public suffix"},
	{name: "foo.ck", wantErr: "is a public suffix"},
	{name: "www.example.com", wantErr: `subdomain; the registered domain is "example.com"`},
	{name: "a.b.example.co.uk", wantErr: `subdomain; the registered domain is "example.co.uk"`},
	{name: "s3.amazonaws.com", wantErr: `subdomain; the registered domain is "amazonaws.com"`},
	{name: "foo.blogspot.com", wantErr: `under the private suffix "blogspot.com"`},
	{name: "example.zzz", wantErr: `top-level domain "zzz" is not in the public suffix list`},
	{name: "localhost", wantErr: `top-level domain "localhost" is not in the public suffix list`},
	{name: "1.2.3.4", wantErr: "is an IP address"},
	{name: "1.2.3.4.", wantErr: "is an IP address"},
	{name: "::1", wantErr: "is an IP address"},
	{name: label64 + ".com", wantErr: "longer than 63 octets"},
	{name: name254, wantErr: "longer than 253 octets"},
	{name: strings.Repeat("a", 1021) + ".de", wantErr: "longer than 253 octets"},
	{name: strings.Repeat("a", 1022) + ".de", wantErr: "invalid domain name of 1025 bytes: a domain name has at most 253 octets"},
	{name: "-example.com", wantErr: "begins or ends with a hyphen"},
	{name: "example-.com", wantErr: "begins or ends with a hyphen"},
	{name: "ab--cd.com", wantErr: "third and fourth positions"},
	{name: "exa mple.com", wantErr: `" " is not allowed`},
	{name: "exa_mple.com", wantErr: `"_" is not allowed`},
	{name: "ex@mple.com", wantErr: `"@" is not allowed`},
	{name: "https://example.com", wantErr: `":" is not allowed`},
	{name: "xn--abc.com", wantErr: "idna: invalid label"},
	{name: "a\u200db.com", wantErr: "idna: invalid label"},
	{name: "\xff.com", wantErr: "not valid UTF-8"},
	{name: "a\xffb.com", wantErr: "not valid UTF-8"},
	{name: "\ufffd.com", wantErr: "idna: disallowed rune U+FFFD"},
	{name: "xn--が-.com", wantErr: `label "xn--が-" begins with xn-- but is not ASCII`},
	{name: "XN--が-.com", wantErr: "begins with xn-- but is not ASCII"},
	{name: "a\u2135b.com", wantErr: `its A-label form "xn--ab-vld.com" is not a valid name`},
	{name: "xn--ab-vld.com", wantErr: "idna: invalid label"},
}

func TestNormalize(t *testing.T) {
	t.Parallel()
	for _, tt := range normalizeTests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := domainname.Normalize(tt.name)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				require.Empty(t, got)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestNormalizeWrapsIDNAError(t *testing.T) {
	t.Parallel()
	_, err := domainname.Normalize(label64 + ".com")
	require.ErrorContains(t, err, "idna: invalid label")
}

// TestNormalizeSatisfiesSchema checks that the pattern copied here is still
// the migration's, and that every name Normalize accepts matches it.
func TestNormalizeSatisfiesSchema(t *testing.T) {
	t.Parallel()
	migration, err := os.ReadFile("../../migrations/sql/001_domains.sql")
	require.NoError(t, err)
	require.Contains(t, string(migration), "'"+schemaNamePattern+"'")

	for _, tt := range normalizeTests {
		if tt.wantErr != "" {
			continue
		}
		got, err := domainname.Normalize(tt.name)
		require.NoError(t, err)
		require.Regexp(t, schemaName, got)
	}
}

func FuzzNormalize(f *testing.F) {
	for _, tt := range normalizeTests {
		f.Add(tt.name)
	}

	f.Fuzz(func(t *testing.T, name string) {
		got, err := domainname.Normalize(name)
		if err != nil {
			require.Empty(t, got)
			return
		}
		again, err := domainname.Normalize(got)
		require.NoError(t, err, "normalized %q to %q", name, got)
		require.Equal(t, got, again, "not idempotent")
		for _, variant := range []string{got + ".", strings.ToUpper(got)} {
			again, err := domainname.Normalize(variant)
			require.NoError(t, err, "variant %q of %q", variant, got)
			require.Equal(t, got, again, "variant %q", variant)
		}
		require.LessOrEqual(t, len(got), 253)
		for i := range len(got) {
			require.Less(t, got[i], byte(utf8.RuneSelf), "not ASCII: %q", got)
		}
		require.Equal(t, strings.ToLower(got), got)
		require.Regexp(t, ldhName, got)
		require.Regexp(t, schemaName, got)
	})
}

func ExampleNormalize() {
	name, err := domainname.Normalize("Bücher.DE.")
	fmt.Println(name, err)

	_, err = domainname.Normalize("www.example.com")
	fmt.Println(err)
	// Output:
	// xn--bcher-kva.de <nil>
	// invalid domain name "www.example.com": it is a subdomain; the registered domain is "example.com"
}
