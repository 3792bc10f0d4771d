package epp

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// infoAnswer is an RFC 5731 §3.1.2 info answer with an RFC 3915 extension,
// in the shape of the RFCs' examples.
const infoAnswer = `<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<epp xmlns="urn:ietf:params:xml:ns:epp-1.0">
  <response>
    <result code="1000">
      <msg>Command completed successfully</msg>
    </result>
    <resData>
      <domain:infData xmlns:domain="urn:ietf:params:xml:ns:domain-1.0">
        <domain:name>example.com</domain:name>
        <domain:roid>EXAMPLE1-REP</domain:roid>
        <domain:status s="pendingDelete"/>
        <domain:status s="clientTransferProhibited">locked</domain:status>
        <domain:registrant>jd1234</domain:registrant>
        <domain:clID>ClientX</domain:clID>
        <domain:crID>ClientY</domain:crID>
        <domain:crDate>1999-04-03T22:00:00.0Z</domain:crDate>
        <domain:exDate>2005-04-03T22:00:00.0Z</domain:exDate>
        <domain:authInfo>
          <domain:pw>2fooBAR</domain:pw>
        </domain:authInfo>
      </domain:infData>
    </resData>
    <extension>
      <rgp:infData xmlns:rgp="urn:ietf:params:xml:ns:rgp-1.0">
        <rgp:rgpStatus s="redemptionPeriod"/>
      </rgp:infData>
    </extension>
    <trID>
      <clTRID>ABC-12345</clTRID>
      <svTRID>54322-XYZ</svTRID>
    </trID>
  </response>
</epp>`

func TestParseInfoAnswer(t *testing.T) {
	t.Parallel()

	resp, err := parseResponse([]byte(infoAnswer))
	require.NoError(t, err)
	code, res, err := resp.result()
	require.NoError(t, err)
	require.Equal(t, 1000, code)
	require.Equal(t, "Command completed successfully", res.Msg)
	require.Equal(t, "ABC-12345", resp.ClTRID)
	require.Equal(t, "54322-XYZ", resp.SvTRID)
	inf := resp.ResData.DomainInfo
	require.NotNil(t, inf)
	require.Equal(t, "example.com", inf.Name)
	require.Equal(t, []statusValue{{"pendingDelete"}, {"clientTransferProhibited"}}, inf.Statuses)
	require.Equal(t, "ClientX", inf.ClID)
	exDate, err := parseDateTime(inf.ExDate)
	require.NoError(t, err)
	require.True(t, exDate.Equal(time.Date(2005, 4, 3, 22, 0, 0, 0, time.UTC)))
	require.NotNil(t, resp.Extension.RGPInfo)
	require.Equal(t, []statusValue{{"redemptionPeriod"}}, resp.Extension.RGPInfo.Statuses)
}

func TestParseGreeting(t *testing.T) {
	t.Parallel()

	g, err := parseGreeting([]byte(`<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<epp xmlns="urn:ietf:params:xml:ns:epp-1.0">
  <greeting>
    <svID>Example EPP server epp.example.com</svID>
    <svDate>2000-06-08T22:00:00.0Z</svDate>
    <svcMenu>
      <version>1.0</version>
      <lang>en</lang>
      <lang>fr</lang>
      <objURI>urn:ietf:params:xml:ns:obj1</objURI>
      <objURI>urn:ietf:params:xml:ns:domain-1.0</objURI>
      <svcExtension>
        <extURI>http://custom/obj1ext-1.0</extURI>
        <extURI>urn:ietf:params:xml:ns:rgp-1.0</extURI>
      </svcExtension>
    </svcMenu>
    <dcp><access><all/></access><statement><purpose><admin/><prov/></purpose><recipient><ours/><public/></recipient><retention><stated/></retention></statement></dcp>
  </greeting>
</epp>`))
	require.NoError(t, err)
	require.Equal(t, "Example EPP server epp.example.com", g.SvID)
	require.Equal(t, []string{"1.0"}, g.Versions)
	require.Equal(t, []string{"en", "fr"}, g.Langs)
	require.Equal(t, []string{"urn:ietf:params:xml:ns:obj1", NamespaceDomain}, g.ObjURIs)
	require.Equal(t, []string{"http://custom/obj1ext-1.0", NamespaceRGP}, g.ExtURIs)
}

func TestParseTransferAnswer(t *testing.T) {
	t.Parallel()

	resp, err := parseResponse([]byte(`<epp xmlns="urn:ietf:params:xml:ns:epp-1.0"><response>
<result code="1001"><msg>Command completed successfully; action pending</msg></result>
<resData><domain:trnData xmlns:domain="urn:ietf:params:xml:ns:domain-1.0">
<domain:name>example.com</domain:name><domain:trStatus>pending</domain:trStatus>
<domain:reID>ClientX</domain:reID><domain:reDate>2000-06-08T22:00:00.0Z</domain:reDate>
<domain:acID>ClientY</domain:acID><domain:acDate>2000-06-13T22:00:00.0Z</domain:acDate>
<domain:exDate>2002-09-08T22:00:00.0Z</domain:exDate>
</domain:trnData></resData>
<trID><clTRID>ABC-12345</clTRID><svTRID>54322-XYZ</svTRID></trID></response></epp>`))
	require.NoError(t, err)
	code, _, err := resp.result()
	require.NoError(t, err)
	require.Equal(t, CodeActionPending, code)
	require.NotNil(t, resp.ResData.DomainTransfer)
	require.Equal(t, "pending", resp.ResData.DomainTransfer.TrStatus)
	require.Equal(t, "ClientY", resp.ResData.DomainTransfer.AcID)
}

func TestParseRejectsMalformed(t *testing.T) {
	t.Parallel()

	for name, payload := range map[string]string{
		"not xml":           "hello",
		"truncated":         `<epp xmlns="urn:ietf:params:xml:ns:epp-1.0"><response><result code="1000"><msg>Comm`,
		"empty":             "",
		"wrong namespace":   `<epp xmlns="urn:example"><response><result code="1000"/></response></epp>`,
		"wrong root":        `<html xmlns="urn:ietf:params:xml:ns:epp-1.0"><response><result code="1000"/></response></html>`,
		"no result":         `<epp xmlns="urn:ietf:params:xml:ns:epp-1.0"><response></response></epp>`,
		"code not numeric":  `<epp xmlns="urn:ietf:params:xml:ns:epp-1.0"><response><result code="ok"/></response></epp>`,
		"code out of range": `<epp xmlns="urn:ietf:params:xml:ns:epp-1.0"><response><result code="3418"/></response></epp>`,
		"greeting":          `<epp xmlns="urn:ietf:params:xml:ns:epp-1.0"><greeting><svID>x</svID></greeting></epp>`,
		"both":              `<epp xmlns="urn:ietf:params:xml:ns:epp-1.0"><greeting/><response><result code="1000"/></response></epp>`,
		"undefined entity":  `<epp xmlns="urn:ietf:params:xml:ns:epp-1.0"><response><result code="1000"><msg>&xxe;</msg></result></response></epp>`,
		"entity bomb":       `<!DOCTYPE epp [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><epp xmlns="urn:ietf:params:xml:ns:epp-1.0"><response><result code="1000"><msg>&b;</msg></result></response></epp>`,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := parseResponse([]byte(payload))
			require.ErrorIs(t, err, errMalformed)
		})
	}
}

func TestParseDateTime(t *testing.T) {
	t.Parallel()

	for in, want := range map[string]time.Time{
		"2027-06-30T23:59:59Z":        time.Date(2027, 6, 30, 23, 59, 59, 0, time.UTC),
		"2027-06-30T23:59:59.0Z":      time.Date(2027, 6, 30, 23, 59, 59, 0, time.UTC),
		"2027-06-30T23:59:59.123456Z": time.Date(2027, 6, 30, 23, 59, 59, 123456000, time.UTC),
		"2027-07-01T01:59:59+02:00":   time.Date(2027, 6, 30, 23, 59, 59, 0, time.UTC),
		" 2027-06-30T23:59:59.5Z\n":   time.Date(2027, 6, 30, 23, 59, 59, 500000000, time.UTC), //nolint:gocritic // mapKey: the white space is what is tested
		"2027-06-30T23:59:59":         time.Date(2027, 6, 30, 23, 59, 59, 0, time.UTC),
		"2027-06-30T23:59:59.25":      time.Date(2027, 6, 30, 23, 59, 59, 250000000, time.UTC),
	} {
		got, err := parseDateTime(in)
		require.NoError(t, err, in)
		require.True(t, want.Equal(got), "%q: got %s, want %s", in, got, want)
	}
	for _, in := range []string{"", "2027-06-30", "tomorrow", "2027-13-01T00:00:00Z"} {
		_, err := parseDateTime(in)
		require.ErrorIs(t, err, errMalformed, in)
	}
}

func TestCommandsRedactSecrets(t *testing.T) {
	t.Parallel()

	l := loginCommand("T-1", login{
		clientID: "ClientX", password: "p&ss<word>", newPassword: "n3w-Pass",
		lang: "en", objURIs: []string{NamespaceDomain}, extURIs: []string{NamespaceRGP},
	})
	require.Contains(t, string(l.payload), "<pw>p&amp;ss&lt;word&gt;</pw><newPW>n3w-Pass</newPW>")
	require.Contains(t, string(l.payload), "<objURI>urn:ietf:params:xml:ns:domain-1.0</objURI><svcExtension><extURI>urn:ietf:params:xml:ns:rgp-1.0</extURI></svcExtension>")
	require.Contains(t, string(l.payload), "<clTRID>T-1</clTRID>")
	require.Equal(t, "T-1", l.clTRID)
	require.Contains(t, string(l.redacted), "<pw>[redacted]</pw><newPW>[redacted]</newPW>")
	require.NotContains(t, string(l.redacted), "word")
	require.NotContains(t, string(l.redacted), "n3w-Pass")

	tr := transferRequestCommand("T-2", "example.com", "s3cr&t")
	require.Contains(t, string(tr.payload), `<transfer op="request">`)
	require.Contains(t, string(tr.payload), "<domain:pw>s3cr&amp;t</domain:pw>")
	require.NotContains(t, string(tr.redacted), "s3cr")

	// A frame the server sends: the authInfo of an info answer, in any
	// namespace prefix, CDATA included, and secrets echoed in text.
	in := []byte(`<domain:authInfo><domain:pw roid="X">2fooBAR</domain:pw></domain:authInfo><pw><![CDATA[cdata-secret]]></pw><msg>bad authInfo s3cr&amp;t</msg>`)
	out := string(redactFrame(in, "s3cr&t"))
	for _, secret := range []string{"2fooBAR", "cdata-secret", "s3cr"} {
		require.NotContains(t, out, secret)
	}
	require.Contains(t, out, `<domain:pw roid="X">[redacted]</domain:pw>`)
}

func TestXMLSafe(t *testing.T) {
	t.Parallel()

	require.True(t, xmlSafe("abc-DEF_123 !~é😀\t"))
	require.False(t, xmlSafe("a\x00b"))
	require.False(t, xmlSafe("a\x1bb"))
	require.False(t, xmlSafe("\xff"))
	require.False(t, xmlSafe("\uFFFE"))
}

// FuzzParseResponse checks that the response parser never panics on what a
// server may send, and that what it accepts has a result code EPP defines.
func FuzzParseResponse(f *testing.F) {
	f.Add([]byte(infoAnswer))
	f.Add([]byte(`<epp xmlns="urn:ietf:params:xml:ns:epp-1.0"><response><result code="2303"><msg>Object does not exist</msg><extValue><value><domain:name xmlns:domain="urn:ietf:params:xml:ns:domain-1.0">x</domain:name></value><reason>gone</reason></extValue></result><trID><svTRID>1</svTRID></trID></response></epp>`))
	f.Add([]byte(`<epp xmlns="urn:ietf:params:xml:ns:epp-1.0"><greeting><svID>x</svID></greeting></epp>`))
	f.Add([]byte(`<epp xmlns="urn:ietf:params:xml:ns:epp-1.0"><response><result code="1000"><msg>Comm`))
	f.Add([]byte("\x00\x01garbage"))
	f.Fuzz(func(t *testing.T, payload []byte) {
		resp, err := parseResponse(payload)
		if err != nil {
			if !errors.Is(err, errMalformed) {
				t.Fatalf("error %v does not wrap errMalformed", err)
			}
			return
		}
		code, _, err := resp.result()
		if err != nil || code < 1000 || code > 2999 {
			t.Fatalf("accepted a response with code %d, %v", code, err)
		}
		if inf := resp.ResData.DomainInfo; inf != nil && strings.TrimSpace(inf.ExDate) != "" {
			_, _ = parseDateTime(inf.ExDate)
		}
		_ = redactFrame(payload, "secret")
	})
}
