package epptest

import (
	"crypto/tls"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/regsync/regsync/registrar"
	"github.com/regsync/regsync/registrar/sim"
)

// rawClient speaks to the server frame by frame.
type rawClient struct {
	t    *testing.T
	conn *tls.Conn
}

func dial(t *testing.T, s *Server) *rawClient {
	t.Helper()
	conn, err := tls.Dial("tcp", s.Addr(), s.ClientTLS())
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	c := &rawClient{t: t, conn: conn}
	require.Contains(t, c.read(), "<greeting>")
	return c
}

func (c *rawClient) read() string {
	c.t.Helper()
	require.NoError(c.t, c.conn.SetReadDeadline(time.Now().Add(time.Minute)))
	f, err := readFrame(c.conn, 16<<20)
	require.NoError(c.t, err)
	return string(f)
}

func (c *rawClient) send(body string) string {
	c.t.Helper()
	require.NoError(c.t, writeFrame(c.conn, []byte(`<?xml version="1.0" encoding="UTF-8"?><epp xmlns="urn:ietf:params:xml:ns:epp-1.0">`+body+`</epp>`)))
	return c.read()
}

// closed reports whether the server closed the connection.
func (c *rawClient) closed() bool {
	c.t.Helper()
	require.NoError(c.t, c.conn.SetReadDeadline(time.Now().Add(time.Minute)))
	_, err := c.conn.Read(make([]byte, 1))
	return errors.Is(err, io.EOF)
}

const loginBody = `<command><login><clID>regsync-test</clID><pw>test-Pass1</pw><options><version>1.0</version><lang>en</lang></options><svcs><objURI>urn:ietf:params:xml:ns:domain-1.0</objURI><svcExtension><extURI>urn:ietf:params:xml:ns:rgp-1.0</extURI></svcExtension></svcs></login><clTRID>L1</clTRID></command>`

func info(name string) string {
	return `<command><info><domain:info xmlns:domain="urn:ietf:params:xml:ns:domain-1.0"><domain:name>` + name + `</domain:name></domain:info></info><clTRID>I1</clTRID></command>`
}

func newServer(t *testing.T, mod func(*Config)) (*Server, *sim.Sim) {
	t.Helper()
	backend, err := sim.New(sim.DefaultConfig())
	require.NoError(t, err)
	cfg := Config{Backend: backend}
	if mod != nil {
		mod(&cfg)
	}
	s, err := NewServer(cfg)
	require.NoError(t, err)
	t.Cleanup(s.Close)
	return s, backend
}

func TestSession(t *testing.T) {
	t.Parallel()

	s, backend := newServer(t, nil)
	require.NoError(t, backend.Script("dom_1", "one.example", []string{"active"}, false))
	c := dial(t, s)
	require.Contains(t, c.send(info("one.example")), `<result code="2002">`, "no commands before login")
	require.Contains(t, c.send(`<hello/>`), "<greeting>", "hello before login")
	require.Contains(t, c.send(loginBody), `<result code="1000">`)
	require.Contains(t, c.send(loginBody), `<result code="2002">`, "no second login")
	require.Contains(t, c.send(`<hello/>`), "<greeting>")
	r := c.send(info("one.example"))
	require.Contains(t, r, `<result code="1000">`)
	require.Contains(t, r, `<domain:status s="ok"/>`)
	require.Contains(t, r, `<clTRID>I1</clTRID>`)
	require.Contains(t, c.send(`<command><transfer op="request"><domain:transfer xmlns:domain="urn:ietf:params:xml:ns:domain-1.0"><domain:name>one.example</domain:name></domain:transfer></transfer><clTRID>T1</clTRID></command>`),
		`<result code="2003">`, "a transfer request needs an authInfo")
	require.Contains(t, c.send(`garbage`), `<result code="2001">`)
	require.Contains(t, c.send(`<command><logout/><clTRID>O1</clTRID></command>`), `<result code="1500">`)
	require.True(t, c.closed())

	st := s.Stats()
	require.Equal(t, 1, st.Logins)
	require.Equal(t, 1, st.Logouts)
	require.Equal(t, 2, st.Hellos)
	require.Equal(t, 0, st.Sessions)
	require.Equal(t, []string{"I1", "L1", "L1", "I1", "T1", "O1"}, s.ClTRIDs())
}

func TestLoginChecks(t *testing.T) {
	t.Parallel()

	s, _ := newServer(t, func(c *Config) { c.MaxSessions = 1 })
	for name, tt := range map[string]struct{ from, to, code string }{
		"wrong password": {"test-Pass1", "nope-nope", "2200"},
		"wrong client":   {"<clID>regsync-test", "<clID>someone", "2200"},
		"version":        {"<version>1.0", "<version>2.0", "2100"},
		"object":         {"domain-1.0</objURI>", "domain-9.9</objURI>", "2307"},
		"extension":      {"rgp-1.0</extURI>", "fee-0.5</extURI>", "2103"},
		"language":       {"<lang>en", "<lang>xx", "2102"},
	} {
		c := dial(t, s)
		r := c.send(strings.Replace(loginBody, tt.from, tt.to, 1))
		require.Contains(t, r, `<result code="`+tt.code+`">`, name)
	}
	require.Equal(t, 6, s.Stats().FailedLogins)

	first := dial(t, s)
	require.Contains(t, first.send(loginBody), `<result code="1000">`)
	second := dial(t, s)
	require.Contains(t, second.send(loginBody), `<result code="2502">`, "over the session cap")
	require.True(t, second.closed())
	require.Equal(t, 1, s.Stats().MaxSessions)

	s.RefuseLogins(2501)
	third := dial(t, s)
	require.Contains(t, third.send(loginBody), `<result code="2501">`)
	require.True(t, third.closed())
}

func TestNewPassword(t *testing.T) {
	t.Parallel()

	s, _ := newServer(t, nil)
	c := dial(t, s)
	require.Contains(t, c.send(strings.Replace(loginBody, "</pw>", "</pw><newPW>fresh-Pass2</newPW>", 1)), `<result code="1000">`)
	require.Equal(t, "fresh-Pass2", s.Password())
	require.True(t, s.Logins()[0].NewPassword)
	c2 := dial(t, s)
	require.Contains(t, c2.send(loginBody), `<result code="2200">`, "the old password no longer works")
	require.Contains(t, c2.send(strings.Replace(loginBody, "test-Pass1", "fresh-Pass2", 1)), `<result code="1000">`, "a 2200 leaves the connection open")
}

func TestStatusTranslation(t *testing.T) {
	t.Parallel()

	s, backend := newServer(t, nil)
	for raw, want := range map[string]string{
		"active":     `<domain:status s="ok"/>`,
		"suspended":  `<domain:status s="clientHold"/>`,
		"pending":    `<domain:status s="pendingCreate"/>`,
		"expired":    `<domain:status s="pendingDelete"/></domain:infData></resData><extension><rgp:infData xmlns:rgp="urn:ietf:params:xml:ns:rgp-1.0"><rgp:rgpStatus s="redemptionPeriod"/>`,
		"fraud":      `<domain:status s="fraud"/>`,
		"weird":      `<domain:status s="weird"/>`,
		"terminated": `<result code="2303">`,
		"cancelled":  `<result code="2303">`,
	} {
		require.NoError(t, backend.Script("dom_"+raw, raw+".example", []string{raw}, false))
		c := dial(t, s)
		c.send(loginBody)
		require.Contains(t, c.send(info(raw+".example")), want, raw)
	}
	c := dial(t, s)
	c.send(loginBody)
	require.Contains(t, c.send(info("nowhere.example")), `<result code="2303">`)
}

func TestFaultTranslation(t *testing.T) {
	t.Parallel()

	s, backend := newServer(t, func(c *Config) { c.HugeBytes = 100 << 10 })
	for token, want := range map[string]struct {
		answer string
		closes bool
	}{
		"!400":     {`<result code="2005">`, false},
		"!401":     {`<result code="2501">`, true},
		"!403":     {`<result code="2201">`, false},
		"!404":     {`<result code="2303">`, false},
		"!429":     {`<result code="2502">`, true},
		"!500":     {`<result code="2400">`, false},
		"!502":     {`<result code="2400">`, false},
		"!503":     {`<result code="2400">`, false},
		"!garbage": {`<msg>Command compl`, true},
		"!huge":    {strings.Repeat("x", 1000), true},
	} {
		require.NoError(t, backend.Script("dom_f", "fault.example", []string{token}, false))
		c := dial(t, s)
		c.send(loginBody)
		r := c.send(info("fault.example"))
		require.Contains(t, r, want.answer, token)
		if token == "!huge" {
			require.Greater(t, len(r), 100<<10-100, "the simulator's huge text still says size limit")
		}
		if token == "!garbage" {
			require.NotContains(t, r, "</epp>")
		}
		if want.closes {
			require.True(t, c.closed(), token)
		}
	}
}

func TestTimeoutNeverAnswers(t *testing.T) {
	t.Parallel()

	s, backend := newServer(t, nil)
	require.NoError(t, backend.Script("dom_t", "slow.example", []string{"!timeout"}, false))
	c := dial(t, s)
	c.send(loginBody)
	require.NoError(t, writeFrame(c.conn, []byte(`<epp xmlns="urn:ietf:params:xml:ns:epp-1.0">`+info("slow.example")+`</epp>`)))
	require.NoError(t, c.conn.SetReadDeadline(time.Now().Add(100*time.Millisecond)))
	_, err := c.conn.Read(make([]byte, 1))
	var ne interface{ Timeout() bool }
	require.ErrorAs(t, err, &ne)
	require.True(t, ne.Timeout(), "no answer")
	_ = c.conn.Close()
	// The server notices the client leaving and ends the backend's read.
	require.Eventually(t, func() bool { return s.Stats().Sessions == 0 }, time.Minute, time.Millisecond)
}

func TestTransferTranslation(t *testing.T) {
	t.Parallel()

	s, backend := newServer(t, nil)
	tr := registrar.Transfer{Account: "regsync-test", DomainName: "moving.example"}
	require.NoError(t, backend.ScriptTransfer(tr, "", []string{"202", "204", "400", "409", "404", "418"}, []string{"pending", "blocked", "completed", "cancelled", "unknown", "409", "404", "418"}))
	c := dial(t, s)
	c.send(loginBody)
	query := `<command><transfer op="query"><domain:transfer xmlns:domain="urn:ietf:params:xml:ns:domain-1.0"><domain:name>moving.example</domain:name></domain:transfer></transfer><clTRID>Q</clTRID></command>`
	for _, want := range []string{
		"<domain:trStatus>pending<", "<domain:trStatus>clientRejected<", "<domain:trStatus>clientApproved<",
		"<domain:trStatus>clientCancelled<", "<domain:trStatus>unknown<",
		`<result code="2304">`, `<result code="2301">`, `<result code="3418">`,
	} {
		require.Contains(t, c.send(query), want)
	}
	request := `<command><transfer op="request"><domain:transfer xmlns:domain="urn:ietf:params:xml:ns:domain-1.0"><domain:name>moving.example</domain:name><domain:authInfo><domain:pw>s3cret-Auth</domain:pw></domain:authInfo></domain:transfer></transfer><clTRID>R</clTRID></command>`
	for _, want := range []string{`<result code="1001">`, `<result code="1000">`, `<result code="2202">`, `<result code="2106">`, `<result code="2303">`, `<result code="3418">`} {
		require.Contains(t, c.send(request), want)
	}
	got, ok := backend.TransferAuthInfo(tr)
	require.True(t, ok)
	require.Equal(t, "s3cret-Auth", got)
	require.Contains(t, c.send(strings.Replace(request, "s3cret-Auth", "short", 1)), `<result code="2202">`, "an authInfo the registry refuses")
}

func TestServerFaults(t *testing.T) {
	t.Parallel()

	s, backend := newServer(t, nil)
	require.NoError(t, backend.Script("dom_1", "one.example", []string{"active"}, false))

	s.AnswerNext(2400, 1)
	c := dial(t, s)
	c.send(loginBody)
	require.Contains(t, c.send(info("one.example")), `<result code="2400"><msg>Scripted answer`)
	require.Contains(t, c.send(info("one.example")), `<result code="1000">`)
	require.Equal(t, 1, backend.Reads("dom_1"), "a scripted answer does not reach the backend")

	s.DropNext(1)
	require.NoError(t, writeFrame(c.conn, []byte(`<epp xmlns="urn:ietf:params:xml:ns:epp-1.0">`+info("one.example")+`</epp>`)))
	require.True(t, c.closed(), "dropped without an answer")
	require.Equal(t, 2, backend.Reads("dom_1"), "the dropped command reached the backend")

	s.CloseAfter(2)
	c = dial(t, s)
	c.send(loginBody)
	c.send(info("one.example"))
	require.Contains(t, c.send(info("one.example")), `<result code="1000">`)
	require.True(t, c.closed(), "closed after the second command")
	require.Zero(t, s.Stats().Sessions, "a session stops counting before the server closes it")
}

func TestClientCertificateRequired(t *testing.T) {
	t.Parallel()

	s, _ := newServer(t, func(c *Config) { c.RequireClientCert = true })
	dial(t, s) // with the certificate

	tc := s.ClientTLS()
	tc.Certificates = nil
	conn, err := tls.Dial("tcp", s.Addr(), tc)
	if err == nil {
		// TLS 1.3 refuses the client after the handshake, on the first read.
		defer conn.Close()
		_, err = readFrame(conn, 1<<20)
	}
	require.ErrorContains(t, err, "certificate")
}
