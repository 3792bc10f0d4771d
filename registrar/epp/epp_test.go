package epp_test

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/regsync/regsync/registrar"
	"github.com/regsync/regsync/registrar/epp"
	"github.com/regsync/regsync/registrar/epp/epptest"
	"github.com/regsync/regsync/registrar/sim"
)

func TestConfigValidate(t *testing.T) {
	t.Parallel()

	valid := func() epp.Config {
		cfg := epp.DefaultConfig()
		cfg.Addr = "epp.registry.example:700"
		cfg.ClientID = testClientID
		cfg.Password = testPassword
		return cfg
	}
	require.NoError(t, valid().Validate())
	withNew := valid()
	withNew.NewPassword = testNewPassword
	require.NoError(t, withNew.Validate())

	tests := map[string]func(*epp.Config){
		"no name":              func(c *epp.Config) { c.Name = "" },
		"name with colon":      func(c *epp.Config) { c.Name = "epp:nic" },
		"name with space":      func(c *epp.Config) { c.Name = "epp nic" },
		"no address":           func(c *epp.Config) { c.Addr = "" },
		"address without port": func(c *epp.Config) { c.Addr = "epp.registry.example" },
		"no client id":         func(c *epp.Config) { c.ClientID = "" },
		"client id with space": func(c *epp.Config) { c.ClientID = "a b" },
		"no password":          func(c *epp.Config) { c.Password = "" },
		"password padded":      func(c *epp.Config) { c.Password = " " + testPassword },
		"password with nul":    func(c *epp.Config) { c.Password = testPassword + "\x00" },
		"password with tab":    func(c *epp.Config) { c.Password = testPassword + "\tx" },
		"new password padded":  func(c *epp.Config) { c.NewPassword = testNewPassword + "  " },
		"new password same":    func(c *epp.Config) { c.NewPassword = c.Password },
		"no sessions":          func(c *epp.Config) { c.Sessions = 0 },
		"no timeout":           func(c *epp.Config) { c.Timeout = 0 },
		"no keep-alive":        func(c *epp.Config) { c.KeepAlive = 0 },
		"tiny frames":          func(c *epp.Config) { c.MaxFrameBytes = 100 },
		"no rate limit wait":   func(c *epp.Config) { c.RateLimitWait = 0 },
		"no language":          func(c *epp.Config) { c.Lang = "" },
	}
	for name, mod := range tests {
		cfg := valid()
		mod(&cfg)
		err := cfg.Validate()
		require.Error(t, err, name)
		require.NotContains(t, err.Error(), testPassword, name)
		require.NotContains(t, err.Error(), testNewPassword, name)
		_, err = epp.New(cfg)
		require.Error(t, err, name)
	}
}

func TestNameIsConfigurable(t *testing.T) {
	t.Parallel()

	backend := newBackend(t)
	srv := startServer(t, backend)
	c := newClient(t, srv, func(cfg *epp.Config) { cfg.Name = "epp-nic" })
	require.Equal(t, "epp-nic", c.Name())
	_, err := c.ReadStatus(t.Context(), registrar.Domain{ID: "dom_none", Name: "none.example"})
	checkErr(t, c, err)
	require.True(t, strings.HasPrefix(err.Error(), "epp-nic: "))
	var re *epp.ResultError
	require.ErrorAs(t, err, &re)
	require.Equal(t, "epp-nic", re.Registrar)
}

func TestInvalidDomainName(t *testing.T) {
	t.Parallel()

	backend := newBackend(t)
	srv := startServer(t, backend)
	c := newClient(t, srv, nil)
	for _, name := range []string{"", "has space.example", "nul\x00.example", "\xff.example"} {
		_, err := c.ReadStatus(t.Context(), registrar.Domain{ID: "dom_x", Name: name})
		checkErr(t, c, err)
		require.ErrorIs(t, err, registrar.ErrInvalidRequest)
		_, err = c.ReadTransferStatus(t.Context(), registrar.Transfer{Account: testClientID, DomainName: name})
		require.ErrorIs(t, err, registrar.ErrInvalidRequest)
		_, err = c.ResetTransfer(t.Context(), registrar.Transfer{Account: testClientID, DomainName: name}, testAuthInfo)
		require.ErrorIs(t, err, registrar.ErrInvalidRequest)
	}
	require.Zero(t, srv.Stats().Connections, "nothing was sent")
}

// TestResultCodes sends every result code RFC 5730 defines for errors over
// the wire and checks the sentinel and the session afterwards.
func TestResultCodes(t *testing.T) {
	t.Parallel()

	codes := []int{
		2000, 2001, 2002, 2003, 2004, 2005, 2100, 2101, 2102, 2103, 2104, 2105, 2106,
		2200, 2201, 2202, 2300, 2301, 2302, 2303, 2304, 2305, 2306, 2307, 2308,
		2400, 2500, 2501, 2502,
	}
	backend := newBackend(t)
	srv := startServer(t, backend, func(c *epptest.Config) { c.MaxSessions = 1 })
	c := newClient(t, srv, func(cfg *epp.Config) { cfg.Sessions = 1 })
	d := script(t, backend, "dom_codes", "active")
	closing := 0
	for _, code := range codes {
		srv.AnswerNext(code, 1)
		_, err := c.ReadStatus(t.Context(), d)
		checkErr(t, c, err)
		require.ErrorIs(t, err, epp.Sentinel(code), "code %d", code)
		var re *epp.ResultError
		require.ErrorAs(t, err, &re)
		require.Equal(t, code, re.Code)
		require.Equal(t, "Scripted answer", re.Message)
		require.NotEmpty(t, re.SvTRID)
		require.NotEmpty(t, re.ClTRID)
		require.Contains(t, err.Error(), `EPP result `)
		if code >= 2500 {
			closing++
		}
		_, err = c.ReadStatus(t.Context(), d)
		require.NoError(t, err, "the client works after %d", code)
	}
	require.Equal(t, 1+closing, srv.Stats().Logins, "only 25xx codes end the session")
	require.Equal(t, len(codes), backend.Reads(d.ID))
}

func TestMisbehavingServer(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name     string
		tamper   func(frame []byte) []byte
		sentinel error
		contains string
	}{
		{
			"answer about another domain",
			replace("<domain:name>dom_tamper.example<", "<domain:name>other.example<"),
			registrar.ErrBadResponse, `answer is about domain "other.example"`,
		},
		{
			"answer to another command",
			func(f []byte) []byte {
				if !bytes.Contains(f, []byte("infData")) {
					return f
				}
				start := bytes.Index(f, []byte("<clTRID>")) + len("<clTRID>")
				end := bytes.Index(f, []byte("</clTRID>"))
				return append(append(f[:start:start], []byte("someone-else")...), f[end:]...)
			},
			registrar.ErrBadResponse, "answers another command",
		},
		{
			"bad exDate",
			func(f []byte) []byte {
				if !bytes.Contains(f, []byte("infData")) {
					return f
				}
				return bytes.Replace(f, []byte("</domain:infData>"), []byte("<domain:exDate>soon</domain:exDate></domain:infData>"), 1)
			},
			registrar.ErrBadResponse, "exDate",
		},
		{
			"no infData",
			func(f []byte) []byte {
				if i, j := bytes.Index(f, []byte("<resData>")), bytes.Index(f, []byte("</resData>")); i >= 0 && j > i {
					return append(f[:i:i], f[j+len("</resData>"):]...)
				}
				return f
			},
			registrar.ErrBadResponse, "no domain:infData",
		},
		{
			"greeting without EPP 1.0",
			replace("<version>1.0</version>", "<version>2.0</version>"),
			registrar.ErrBadResponse, "EPP versions",
		},
		{
			"a response for a greeting",
			func(f []byte) []byte {
				if bytes.Contains(f, []byte("<greeting>")) {
					return []byte(`<epp xmlns="urn:ietf:params:xml:ns:epp-1.0"><response><result code="1000"><msg>hi</msg></result></response></epp>`)
				}
				return f
			},
			registrar.ErrBadResponse, "greeting",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			backend := newBackend(t)
			srv := startServer(t, backend, func(c *epptest.Config) { c.Tamper = tt.tamper })
			c := newClient(t, srv, nil)
			d := script(t, backend, "dom_tamper", "active")
			_, err := c.ReadStatus(t.Context(), d)
			checkErr(t, c, err)
			require.ErrorIs(t, err, tt.sentinel)
			require.ErrorContains(t, err, tt.contains)
			require.False(t, registrar.IsPermanent(err))
		})
	}
}

// replace returns a Tamper that replaces from with to in every frame.
func replace(from, to string) func([]byte) []byte {
	return func(f []byte) []byte { return bytes.ReplaceAll(f, []byte(from), []byte(to)) }
}

func TestExpiryAndSponsorShapes(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name   string
		exDate string // what the server sends in place of its own exDate
		want   time.Time
	}{
		{"fractional UTC", "2027-06-30T23:59:59.0Z", time.Date(2027, 6, 30, 23, 59, 59, 0, time.UTC)},
		{"offset", "2027-07-01T01:59:59+02:00", time.Date(2027, 6, 30, 23, 59, 59, 0, time.UTC)},
		{"no zone", "2027-06-30T23:59:59", time.Date(2027, 6, 30, 23, 59, 59, 0, time.UTC)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			backend := newBackend(t)
			srv := startServer(t, backend, func(c *epptest.Config) {
				c.Tamper = replace("<domain:exDate>2027-06-30T23:59:59.0Z</domain:exDate>", "<domain:exDate>\n  "+tt.exDate+"\n</domain:exDate>")
			})
			c := newClient(t, srv, nil)
			d := script(t, backend, "dom_exdate", "active")
			backend.SetInfo(d.ID, sim.DomainInfo{ExpiresAt: time.Date(2027, 6, 30, 23, 59, 59, 0, time.UTC), Sponsor: "ClientX"})
			r, err := c.ReadStatus(t.Context(), d)
			require.NoError(t, err)
			require.True(t, tt.want.Equal(r.ExpiresAt), "got %s", r.ExpiresAt)
			require.Equal(t, "ClientX", r.Sponsor)
		})
	}

	t.Run("none", func(t *testing.T) {
		t.Parallel()
		backend := newBackend(t)
		srv := startServer(t, backend)
		c := newClient(t, srv, nil)
		r, err := c.ReadStatus(t.Context(), script(t, backend, "dom_noinfo", "suspended"))
		require.NoError(t, err)
		require.Zero(t, r.ExpiresAt)
		require.Empty(t, r.Sponsor)
		require.Equal(t, "clientHold", r.Raw)
		require.Equal(t, registrar.StatusSuspended, r.Status)
	})

	t.Run("several statuses", func(t *testing.T) {
		t.Parallel()
		backend := newBackend(t)
		srv := startServer(t, backend, func(c *epptest.Config) {
			c.Tamper = replace(`<domain:status s="clientHold"/>`,
				`<domain:status s="serverTransferProhibited"/><domain:status s="clientHold">unpaid</domain:status><domain:status s="clientTransferProhibited"/><domain:status s="clientHold"/>`)
		})
		c := newClient(t, srv, nil)
		r, err := c.ReadStatus(t.Context(), script(t, backend, "dom_many", "suspended"))
		require.NoError(t, err)
		require.Equal(t, "clientHold,clientTransferProhibited,serverTransferProhibited", r.Raw, "sorted, without duplicates")
		require.Equal(t, registrar.StatusSuspended, r.Status)
	})
}

// TestSecretsNeverTraced runs logins, a password change, reads and
// transfer requests with every answer, including a server that echoes the
// authInfo and sends a domain's own authInfo, and checks that no traced
// frame and no error holds a password or an authInfo.
func TestSecretsNeverTraced(t *testing.T) {
	t.Parallel()

	backend := newBackend(t)
	srv := startServer(t, backend, func(c *epptest.Config) {
		c.Tamper = func(f []byte) []byte {
			// Echo the authInfo in error messages, as some servers do, and
			// add the domain's authInfo to info answers, as registries do
			// for the sponsor.
			f = bytes.ReplaceAll(f, []byte("<msg>Invalid authorization information</msg>"),
				[]byte("<msg>Invalid authorization information: "+testAuthInfo+"</msg><extValue><value><domain:pw xmlns:domain=\"urn:ietf:params:xml:ns:domain-1.0\">"+testAuthInfo+"</domain:pw></value><reason>authInfo "+testAuthInfo+" is wrong</reason></extValue>"))
			return bytes.ReplaceAll(f, []byte("</domain:infData>"), []byte("<domain:authInfo><domain:pw>"+testAuthInfo+"</domain:pw></domain:authInfo></domain:infData>"))
		}
	})
	var mu sync.Mutex
	var frames []string
	c := newClient(t, srv, func(cfg *epp.Config) {
		cfg.NewPassword = testNewPassword
		cfg.Trace = func(dir epp.Direction, frame []byte) {
			mu.Lock()
			defer mu.Unlock()
			frames = append(frames, string(dir)+": "+string(frame))
		}
	})
	d := script(t, backend, "dom_secret", "active")
	_, err := c.ReadStatus(t.Context(), d)
	require.NoError(t, err)

	tr := registrar.Transfer{Account: testClientID, DomainName: "secret.example"}
	require.NoError(t, backend.ScriptTransfer(tr, "", []string{"202", "400", "409", "401", "500", "418"}, nil))
	var errs []error
	for range 6 {
		if _, err := c.ResetTransfer(t.Context(), tr, testAuthInfo); err != nil {
			errs = append(errs, err)
		}
	}
	require.Len(t, errs, 5)
	_, err = c.ReadStatus(t.Context(), d) // a session for Close to log out
	require.NoError(t, err)
	require.NoError(t, c.Close())

	got, ok := backend.TransferAuthInfo(tr)
	require.True(t, ok)
	require.Equal(t, testAuthInfo, got, "the authInfo did reach the registry")
	for _, err := range errs {
		checkErr(t, c, err)
	}
	var invalid *epp.ResultError
	require.ErrorAs(t, errs[0], &invalid)
	require.Equal(t, epp.CodeInvalidAuthorizationInfo, invalid.Code)
	require.Contains(t, invalid.Message, "[redacted]", "the echoed authInfo is blanked, the rest kept")

	mu.Lock()
	defer mu.Unlock()
	require.NotEmpty(t, frames)
	all := strings.Join(frames, "\n")
	for _, secret := range []string{testPassword, testNewPassword, testAuthInfo} {
		require.NotContains(t, all, secret)
	}
	require.Contains(t, all, "C: ")
	require.Contains(t, all, "S: ")
	require.Contains(t, all, "<pw>[redacted]</pw><newPW>[redacted]</newPW>")
	require.Contains(t, all, "<domain:authInfo><domain:pw>[redacted]</domain:pw></domain:authInfo>")
	require.Contains(t, all, "<logout/>")
}
