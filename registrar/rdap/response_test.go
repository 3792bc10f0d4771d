package rdap_test

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/regsync/regsync/registrar"
	"github.com/regsync/regsync/registrar/rdap"
)

// fixtures are answers in testdata/ as RFC 9083 and real servers write
// them, and what the adapter reads from each.
var fixtures = []struct {
	file    string
	name    string // the domain asked for
	raw     string
	status  registrar.Status
	expires string // RFC 3339, "" for none
	sponsor string
}{
	// The domain example of RFC 9083 §5.3: RFC 9083 values that describe
	// the record, an expiration event, a registrant but no registrar.
	{"rfc9083_domain.json", "xn--fo-5ja.example", "locked, transfer prohibited", registrar.StatusActive, "2016-12-31T23:59:59Z", ""},
	// Verisign: upper-case ldhName, escaped slashes, six prohibitions, the
	// registrar's IANA id beside an abuse contact nested in it.
	{"verisign_com.json", "regsync-example.com",
		"client delete prohibited, client transfer prohibited, client update prohibited, server delete prohibited, server transfer prohibited, server update prohibited",
		registrar.StatusActive, "2027-08-13T04:00:00Z", "292"},
	// A ccTLD (CZ.NIC's FRED): members in another order, no expiration
	// event, a registrar known only by its handle.
	{"cctld_no_expiry.json", "regsync-example.cz", "active", registrar.StatusActive, "", "REG-EXAMPLE-CZ"},
	// Fractional seconds of several lengths, an offset, and a registrar id
	// sent as a number.
	{"fractional_seconds.json", "regsync-example.org", "client transfer prohibited", registrar.StatusActive, "2027-03-01T12:00:00.123456Z", "1068"},
	// EPP spellings, a space for 'T' and no zone, several roles.
	{"epp_spellings.json", "regsync-example.example", "clientHold, clientTransferProhibited", registrar.StatusSuspended, "2027-01-15T00:00:00Z", "REG-7"},
	// Title case, a double space, lower-case 't' and 'z', a trailing dot
	// in ldhName, and case variants of the role and public id type.
	{"unusual_order_case.json", "regsync-example.example", "Client Transfer Prohibited, redemption period, Pending  Delete", registrar.StatusExpired, "2026-10-01T00:00:00Z", "55"},
	// A reseller with an IANA id, a registrar stub and two registrars with
	// ids: the first registrar with an id wins; an expiration event whose
	// date does not parse is skipped for the next.
	{"multiple_registrars.json", "regsync-example.example", "active", registrar.StatusActive, "2028-02-29T12:00:00Z", "1234"},
	// The registrar nested in a reseller, an abuse contact nested in it,
	// and a top-level entity whose roles are malformed; bare dates; an
	// outbound pending transfer.
	{"nested_entity.json", "regsync-example.example", "active, pending transfer", registrar.StatusActive, "2027-05-05T00:00:00Z", "4242"},
	// A value no rule knows makes the status unknown; malformed events and
	// entities only lose the expiry and sponsor.
	{"unknown_status.json", "regsync-example.example", "active, some future status", registrar.StatusUnknown, "", ""},
	// No status array, only a unicodeName, an expiration without a date.
	{"no_status.json", "xn--bcher-kva.example", "", registrar.StatusUnknown, "", ""},
}

func TestParseDomainFixtures(t *testing.T) {
	t.Parallel()

	for _, f := range fixtures {
		t.Run(f.file, func(t *testing.T) {
			t.Parallel()

			body, err := os.ReadFile(filepath.Join("testdata", f.file))
			require.NoError(t, err)
			r, err := rdap.ParseDomain(body, f.name)
			require.NoError(t, err)
			checkReading(t, r, f.raw, f.status, f.expires, f.sponsor)
			require.Empty(t, r.RequestID)
		})
	}
}

// TestReadStatusFixtures serves each fixture and reads it through the
// adapter, over an override for the domain's TLD.
func TestReadStatusFixtures(t *testing.T) {
	t.Parallel()

	for _, f := range fixtures {
		t.Run(f.file, func(t *testing.T) {
			t.Parallel()

			c := serveFile(t, f.name, http.StatusOK, f.file, map[string]string{"X-Request-Id": "req-" + f.file})
			r, err := c.ReadStatus(t.Context(), registrar.Domain{ID: "dom_1", Name: f.name})
			require.NoError(t, err)
			checkReading(t, r, f.raw, f.status, f.expires, f.sponsor)
			require.Equal(t, "req-"+f.file, r.RequestID)
		})
	}
}

func checkReading(t *testing.T, r registrar.StatusReading, raw string, status registrar.Status, expires, sponsor string) {
	t.Helper()
	require.Equal(t, raw, r.Raw)
	require.Equal(t, status, r.Status)
	if expires == "" {
		require.True(t, r.ExpiresAt.IsZero(), "expiry %s, want none", r.ExpiresAt)
	} else {
		want, err := time.Parse(time.RFC3339, expires)
		require.NoError(t, err)
		require.True(t, want.Equal(r.ExpiresAt), "expiry %s, want %s", r.ExpiresAt, want)
		require.Equal(t, time.UTC, r.ExpiresAt.Location())
	}
	require.Equal(t, sponsor, r.Sponsor)
}

func TestParseDomainRejects(t *testing.T) {
	t.Parallel()

	for _, tt := range []struct {
		file, body, name, want string
	}{
		{file: "wrong_name.json", name: "regsync-example.example", want: `ldhName "someone-else.example"`},
		{file: "entity_object.json", name: "regsync-example.example", want: `objectClassName is "entity"`},
		{file: "error_200.json", name: "regsync-example.example", want: "RDAP error object (errorCode 404"},
		{file: "status_not_array.json", name: "regsync-example.example", want: "decoding answer"},
		{file: "rfc9083_domain.json", name: "foo.example", want: `not "foo.example"`},
		{file: "no_status.json", name: "bucher.example", want: `unicodeName "xn--bcher-kva.example"`},
		{body: `{"objectClassName":"domain","status":["active"]}`, name: "a.example", want: "neither ldhName nor unicodeName"},
		{body: `{"objectClassName":"domain","unicodeName":"a b.example"}`, name: "a.example", want: "is not a domain name"},
		{body: `["not", "an", "object"]`, name: "a.example", want: "decoding answer"},
		{body: `{"objectClassName":"domain","ldhName":"a.example"`, name: "a.example", want: "decoding answer"},
		{body: ``, name: "a.example", want: "decoding answer"},
		{body: `<html>Bad Gateway</html>`, name: "a.example", want: "decoding answer"},
	} {
		body := []byte(tt.body)
		if tt.file != "" {
			var err error
			body, err = os.ReadFile(filepath.Join("testdata", tt.file))
			require.NoError(t, err)
		}
		_, err := rdap.ParseDomain(body, tt.name)
		require.ErrorIs(t, err, registrar.ErrBadResponse, "%s%s", tt.file, tt.body)
		require.Contains(t, err.Error(), tt.want)
	}
}

// serveFile starts a TLS server answering every request with status, the
// body of testdata/file and headers, and returns a client that reaches it
// for name's TLD through an override.
func serveFile(t *testing.T, name string, status int, file string, headers map[string]string) *rdap.Client {
	t.Helper()
	body, err := os.ReadFile(filepath.Join("testdata", file))
	require.NoError(t, err)
	return serveBody(t, name, status, body, headers, nil)
}

// serveBody is serveFile with the body given, and the client's
// configuration changed by mutate.
func serveBody(t *testing.T, name string, status int, body []byte, headers map[string]string, mutate func(*rdap.Config)) *rdap.Client {
	t.Helper()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for k, v := range headers {
			w.Header().Set(k, v)
		}
		w.WriteHeader(status)
		_, _ = w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return newClient(t, srv.Client(), func(c *rdap.Config) {
		c.Overrides = map[string]string{tld(name): srv.URL}
		if mutate != nil {
			mutate(c)
		}
	})
}

// tld returns the last label of name.
func tld(name string) string {
	return name[strings.LastIndexByte(name, '.')+1:]
}

// newClient returns a client using hc, with the default configuration
// changed by mutate.
func newClient(t *testing.T, hc *http.Client, mutate func(*rdap.Config)) *rdap.Client {
	t.Helper()
	cfg := rdap.DefaultConfig()
	cfg.HTTPClient = hc
	if mutate != nil {
		mutate(&cfg)
	}
	c, err := rdap.New(cfg)
	require.NoError(t, err)
	return c
}
