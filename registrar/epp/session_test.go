package epp_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/regsync/regsync/registrar"
	"github.com/regsync/regsync/registrar/epp"
	"github.com/regsync/regsync/registrar/epp/epptest"
)

// promptly bounds how long a command cut short by its ctx may take, far
// under the clients' Timeout: a test fails on a command that waits for the
// timeout instead of its ctx, never on a slow machine.
const promptly = 10 * time.Second

// checkErr checks what every error must satisfy: the adapter's prefix, and
// no password or authInfo anywhere in it.
func checkErr(t *testing.T, c *epp.Client, err error) {
	t.Helper()
	require.Error(t, err)
	require.True(t, strings.HasPrefix(err.Error(), c.Name()+": "), "error %q does not start with %q", err, c.Name()+": ")
	for _, secret := range []string{testPassword, testNewPassword, testAuthInfo} {
		require.NotContains(t, err.Error(), secret)
	}
	var re *epp.ResultError
	if errors.As(err, &re) {
		for _, secret := range []string{testPassword, testNewPassword, testAuthInfo} {
			require.NotContains(t, re.Message+re.Reason+re.SvTRID+re.ClTRID, secret)
		}
	}
}

func TestLoginAndLogout(t *testing.T) {
	t.Parallel()

	backend := newBackend(t)
	srv := startServer(t, backend)
	c, err := epp.New(clientConfig(srv))
	require.NoError(t, err)
	require.Zero(t, srv.Stats().Connections, "New connects to nothing")

	d := script(t, backend, "dom_login", "active")
	for range 3 {
		r, err := c.ReadStatus(t.Context(), d)
		require.NoError(t, err)
		require.Equal(t, "ok", r.Raw)
	}
	require.Equal(t, []epptest.Login{{
		ClientID: testClientID, Version: "1.0", Lang: "en",
		ObjURIs: []string{epp.NamespaceDomain}, ExtURIs: []string{epp.NamespaceRGP},
	}}, srv.Logins(), "one login, announcing only the domain mapping and RGP")

	require.NoError(t, c.Close())
	require.NoError(t, c.Close(), "Close is idempotent")
	st := srv.Stats()
	require.Equal(t, 1, st.Logouts)
	require.Equal(t, 0, st.Sessions)

	_, err = c.ReadStatus(t.Context(), d)
	checkErr(t, c, err)
	require.ErrorIs(t, err, registrar.ErrUnavailable)
	require.Equal(t, 3, backend.Reads(d.ID))
}

func TestClTRIDsAreUnique(t *testing.T) {
	t.Parallel()

	backend := newBackend(t)
	srv := startServer(t, backend)
	c := newClient(t, srv, nil)
	d := script(t, backend, "dom_trid", "active")
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 5 {
				_, err := c.ReadStatus(context.Background(), d)
				require.NoError(t, err)
			}
		})
	}
	wg.Wait()
	ids := srv.ClTRIDs()
	require.Len(t, ids, 20+srv.Stats().Logins)
	require.Len(t, slices.Compact(slices.Sorted(slices.Values(ids))), len(ids), "every clTRID is unique")
	for _, id := range ids {
		require.NotEmpty(t, id)
		require.LessOrEqual(t, len(id), 64, "the schema's limit")
	}
}

func TestServiceNegotiation(t *testing.T) {
	t.Parallel()

	t.Run("without RGP", func(t *testing.T) {
		t.Parallel()
		backend := newBackend(t)
		srv := startServer(t, backend, func(c *epptest.Config) {
			c.ExtURIs = []string{"urn:ietf:params:xml:ns:secDNS-1.1"}
		})
		c := newClient(t, srv, nil)
		d := script(t, backend, "dom_norgp", "expired")
		r, err := c.ReadStatus(t.Context(), d)
		require.NoError(t, err)
		require.Equal(t, "pendingDelete", r.Raw, "no rgpStatus without the extension")
		require.Equal(t, registrar.StatusExpired, r.Status)
		require.Empty(t, srv.Logins()[0].ExtURIs)
	})

	t.Run("another language", func(t *testing.T) {
		t.Parallel()
		backend := newBackend(t)
		srv := startServer(t, backend, func(c *epptest.Config) { c.Langs = []string{"fr", "de"} })
		c := newClient(t, srv, nil)
		_, err := c.ReadStatus(t.Context(), script(t, backend, "dom_fr", "active"))
		require.NoError(t, err)
		require.Equal(t, "fr", srv.Logins()[0].Lang)
	})

	t.Run("no domain mapping", func(t *testing.T) {
		t.Parallel()
		backend := newBackend(t)
		srv := startServer(t, backend, func(c *epptest.Config) {
			c.ObjURIs = []string{"urn:ietf:params:xml:ns:contact-1.0"}
		})
		c := newClient(t, srv, nil)
		_, err := c.ReadStatus(t.Context(), script(t, backend, "dom_noobj", "active"))
		checkErr(t, c, err)
		require.ErrorIs(t, err, registrar.ErrBadResponse)
		require.Contains(t, err.Error(), "domain mapping")
		require.Zero(t, srv.Stats().Logins+srv.Stats().FailedLogins, "no login attempted")
	})
}

func TestPasswordChange(t *testing.T) {
	t.Parallel()

	backend := newBackend(t)
	srv := startServer(t, backend)
	c := newClient(t, srv, func(cfg *epp.Config) { cfg.NewPassword = testNewPassword })
	d := script(t, backend, "dom_newpw", "active")
	srv.CloseAfter(1) // every read needs a new session, so a new login

	for range 3 {
		_, err := c.ReadStatus(t.Context(), d)
		require.NoError(t, err)
	}
	require.Equal(t, testNewPassword, srv.Password())
	logins := srv.Logins()
	require.Len(t, logins, 3)
	require.True(t, logins[0].NewPassword, "the first login changes the password")
	require.False(t, logins[1].NewPassword, "later logins use the new password")
	require.False(t, logins[2].NewPassword)
	require.Zero(t, srv.Stats().FailedLogins)
}

func TestPasswordChangedElsewhere(t *testing.T) {
	t.Parallel()

	// Another process already changed the password to the new one: the
	// login with the old one fails, and the client tries the new one.
	backend := newBackend(t)
	srv := startServer(t, backend, func(c *epptest.Config) { c.Password = testNewPassword })
	c := newClient(t, srv, func(cfg *epp.Config) { cfg.NewPassword = testNewPassword })
	d := script(t, backend, "dom_changed", "active")
	srv.CloseAfter(1)
	for range 2 {
		_, err := c.ReadStatus(t.Context(), d)
		require.NoError(t, err)
	}
	st := srv.Stats()
	require.Equal(t, 2, st.Logins)
	require.Equal(t, 1, st.FailedLogins, "only the first connection tries the old password")
}

func TestRefusedLogins(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name     string
		refuse   int // the server's RefuseLogins code, 0 for a wrong password
		sentinel error
	}{
		{"wrong password", 0, registrar.ErrUnauthorized},
		{"2200", 2200, registrar.ErrUnauthorized},
		{"2501", 2501, registrar.ErrUnauthorized},
		{"2502 session limit", 2502, registrar.ErrRateLimited},
		{"2400", 2400, registrar.ErrUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			backend := newBackend(t)
			srv := startServer(t, backend, func(c *epptest.Config) {
				if tt.refuse == 0 {
					c.Password = "another-Pw1"
				}
			})
			srv.RefuseLogins(tt.refuse)
			c := newClient(t, srv, func(cfg *epp.Config) { cfg.RateLimitWait = 42 * time.Second })
			d := script(t, backend, "dom_refused", "active")
			_, err := c.ReadStatus(t.Context(), d)
			checkErr(t, c, err)
			require.ErrorIs(t, err, tt.sentinel)
			require.False(t, registrar.IsPermanent(err), "refused logins are the operator's problem or pass")
			require.Contains(t, err.Error(), "login as "+testClientID)
			var re *epp.ResultError
			require.ErrorAs(t, err, &re)
			if errors.Is(err, registrar.ErrRateLimited) {
				require.Equal(t, 42*time.Second, re.RetryAfter)
			}
			require.Zero(t, backend.Reads(d.ID))
		})
	}
}

func TestKeepAlive(t *testing.T) {
	t.Parallel()

	backend := newBackend(t)
	srv := startServer(t, backend)
	c := newClient(t, srv, func(cfg *epp.Config) {
		cfg.KeepAlive = 20 * time.Millisecond
		// One session, so that a read waits for a hello in flight instead
		// of opening a second session beside it.
		cfg.Sessions = 1
	})
	d := script(t, backend, "dom_idle", "active")
	_, err := c.ReadStatus(t.Context(), d)
	require.NoError(t, err)
	require.Eventually(t, func() bool { return srv.Stats().Hellos >= 2 }, time.Minute, 5*time.Millisecond,
		"an idle session gets hellos")
	_, err = c.ReadStatus(t.Context(), d)
	require.NoError(t, err)
	require.Equal(t, 1, srv.Stats().Logins, "the session kept alive is reused")
}

func TestReconnect(t *testing.T) {
	t.Parallel()

	t.Run("dropped under a read of a reused session", func(t *testing.T) {
		t.Parallel()
		backend := newBackend(t)
		srv := startServer(t, backend)
		c := newClient(t, srv, nil)
		d := script(t, backend, "dom_drop", "active", "suspended", "expired")
		r, err := c.ReadStatus(t.Context(), d)
		require.NoError(t, err)
		require.Equal(t, "ok", r.Raw)

		srv.DropNext(1)
		r, err = c.ReadStatus(t.Context(), d)
		require.NoError(t, err, "a read is sent once more on a new session")
		require.Equal(t, "pendingDelete,redemptionPeriod", r.Raw, "the dropped read reached the registry")
		require.Equal(t, 3, backend.Reads(d.ID))
		require.Equal(t, 2, srv.Stats().Logins)
	})

	t.Run("dropped under the first read of a session", func(t *testing.T) {
		t.Parallel()
		backend := newBackend(t)
		srv := startServer(t, backend)
		c := newClient(t, srv, nil)
		d := script(t, backend, "dom_dropfirst", "active")
		srv.DropNext(1)
		_, err := c.ReadStatus(t.Context(), d)
		checkErr(t, c, err)
		require.ErrorIs(t, err, registrar.ErrUnavailable, "a new session is not retried")
		require.False(t, registrar.IsPermanent(err))
		require.Equal(t, 1, backend.Reads(d.ID))

		_, err = c.ReadStatus(t.Context(), d)
		require.NoError(t, err)
		require.Equal(t, 2, srv.Stats().Logins)
	})

	t.Run("server closes sessions after each command", func(t *testing.T) {
		t.Parallel()
		backend := newBackend(t)
		srv := startServer(t, backend, func(c *epptest.Config) { c.MaxSessions = 1 })
		c := newClient(t, srv, func(cfg *epp.Config) { cfg.Sessions = 1 })
		d := script(t, backend, "dom_closeafter", "active")
		srv.CloseAfter(1)
		for range 5 {
			_, err := c.ReadStatus(t.Context(), d)
			require.NoError(t, err)
		}
		require.Equal(t, 5, backend.Reads(d.ID), "no read is lost or doubled")
		require.Equal(t, 5, srv.Stats().Logins)
	})

	for _, tt := range []struct {
		code     int
		sentinel error
	}{
		{2500, registrar.ErrUnavailable},
		{2501, registrar.ErrUnauthorized},
		{2502, registrar.ErrRateLimited},
	} {
		t.Run(fmt.Sprintf("after %d", tt.code), func(t *testing.T) {
			t.Parallel()
			backend := newBackend(t)
			srv := startServer(t, backend, func(c *epptest.Config) { c.MaxSessions = 1 })
			c := newClient(t, srv, func(cfg *epp.Config) { cfg.Sessions = 1 })
			d := script(t, backend, "dom_closing", "active")
			_, err := c.ReadStatus(t.Context(), d)
			require.NoError(t, err)

			srv.AnswerNext(tt.code, 1)
			_, err = c.ReadStatus(t.Context(), d)
			checkErr(t, c, err)
			require.ErrorIs(t, err, tt.sentinel)
			var re *epp.ResultError
			require.ErrorAs(t, err, &re)
			require.Equal(t, tt.code, re.Code)

			_, err = c.ReadStatus(t.Context(), d)
			require.NoError(t, err, "the client logs in again")
			require.Equal(t, 2, srv.Stats().Logins)
			require.Equal(t, 2, backend.Reads(d.ID))
		})
	}
}

func TestSessionCap(t *testing.T) {
	t.Parallel()

	backend := newBackend(t)
	srv := startServer(t, backend, func(c *epptest.Config) { c.MaxSessions = 2 })
	c := newClient(t, srv, func(cfg *epp.Config) { cfg.Sessions = 2 })
	const reads = 50
	var ds []registrar.Domain
	for i := range reads {
		ds = append(ds, script(t, backend, fmt.Sprintf("dom_cap%d", i), "active"))
	}
	var wg sync.WaitGroup
	errs := make(chan error, reads)
	for _, d := range ds {
		wg.Go(func() {
			if _, err := c.ReadStatus(context.Background(), d); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	st := srv.Stats()
	require.LessOrEqual(t, st.MaxSessions, 2, "never more sessions than the pool's size")
	require.LessOrEqual(t, st.Logins, 2, "sessions are reused, not reopened")
	require.Zero(t, st.FailedLogins)
	require.Equal(t, reads, st.Commands)
}

func TestWaitForSessionHonoursCtx(t *testing.T) {
	t.Parallel()

	backend := newBackend(t)
	srv := startServer(t, backend)
	c := newClient(t, srv, func(cfg *epp.Config) {
		cfg.Sessions = 1
		cfg.Timeout = time.Hour
	})
	slow := script(t, backend, "dom_busy", "!timeout", "active")
	other := script(t, backend, "dom_waiting", "active")

	ctx, cancel := context.WithCancel(t.Context())
	slowErr := make(chan error, 1)
	go func() {
		_, err := c.ReadStatus(ctx, slow)
		slowErr <- err
	}()
	require.Eventually(t, func() bool { return backend.Reads(slow.ID) == 1 }, time.Minute, time.Millisecond)

	// The only session is busy: a read waits for it only as long as its ctx.
	waitCtx, waitCancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer waitCancel()
	start := time.Now()
	_, err := c.ReadStatus(waitCtx, other)
	checkErr(t, c, err)
	require.Less(t, time.Since(start), promptly)
	require.ErrorIs(t, err, registrar.ErrUnavailable)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Contains(t, err.Error(), "waiting for a free session")
	require.Zero(t, backend.Reads(other.ID))

	// Cancelling the busy read ends it at once, with the cancellation.
	start = time.Now()
	cancel()
	err = <-slowErr
	checkErr(t, c, err)
	require.Less(t, time.Since(start), promptly)
	require.ErrorIs(t, err, registrar.ErrUnavailable)
	require.ErrorIs(t, err, context.Canceled)

	_, err = c.ReadStatus(t.Context(), other)
	require.NoError(t, err, "the session slot is free again")
}

func TestTimeouts(t *testing.T) {
	t.Parallel()

	t.Run("Config.Timeout", func(t *testing.T) {
		t.Parallel()
		backend := newBackend(t)
		srv := startServer(t, backend)
		c := newClient(t, srv, func(cfg *epp.Config) { cfg.Timeout = 100 * time.Millisecond })
		d := script(t, backend, "dom_timeout", "!timeout")
		start := time.Now()
		_, err := c.ReadStatus(context.Background(), d)
		checkErr(t, c, err)
		require.Less(t, time.Since(start), promptly)
		require.ErrorIs(t, err, registrar.ErrUnavailable)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		require.LessOrEqual(t, backend.Reads(d.ID), 1, "the timed-out read is not resent")
	})

	t.Run("TLS handshake that never ends", func(t *testing.T) {
		t.Parallel()
		// A listener that accepts and never speaks.
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		t.Cleanup(func() { _ = ln.Close() })
		var conns sync.WaitGroup
		conns.Go(func() {
			for {
				conn, err := ln.Accept()
				if err != nil {
					return
				}
				conns.Go(func() {
					_, _ = io.Copy(io.Discard, conn) // until the client gives up
					_ = conn.Close()
				})
			}
		})
		t.Cleanup(conns.Wait)
		t.Cleanup(func() { _ = ln.Close() })

		cfg := epp.DefaultConfig()
		cfg.Addr = ln.Addr().String()
		cfg.ClientID = testClientID
		cfg.Password = testPassword
		cfg.Timeout = time.Hour
		c, err := epp.New(cfg)
		require.NoError(t, err)
		t.Cleanup(func() { _ = c.Close() })
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err = c.ReadStatus(ctx, registrar.Domain{ID: "dom_x", Name: "x.example"})
		checkErr(t, c, err)
		require.Less(t, time.Since(start), promptly)
		require.ErrorIs(t, err, registrar.ErrUnavailable)
		require.ErrorIs(t, err, context.DeadlineExceeded)
	})

	t.Run("nothing listening", func(t *testing.T) {
		t.Parallel()
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		addr := ln.Addr().String()
		require.NoError(t, ln.Close())
		cfg := epp.DefaultConfig()
		cfg.Addr = addr
		cfg.ClientID = testClientID
		cfg.Password = testPassword
		c, err := epp.New(cfg)
		require.NoError(t, err)
		t.Cleanup(func() { _ = c.Close() })
		_, err = c.ReadStatus(t.Context(), registrar.Domain{ID: "dom_x", Name: "x.example"})
		checkErr(t, c, err)
		require.ErrorIs(t, err, registrar.ErrUnavailable)
	})
}

func TestClientCertificates(t *testing.T) {
	t.Parallel()

	backend := newBackend(t)
	srv := startServer(t, backend, func(c *epptest.Config) { c.RequireClientCert = true })
	d := script(t, backend, "dom_cert", "active")

	t.Run("presented", func(t *testing.T) {
		t.Parallel()
		c := newClient(t, srv, nil)
		_, err := c.ReadStatus(t.Context(), d)
		require.NoError(t, err)
	})

	t.Run("missing", func(t *testing.T) {
		t.Parallel()
		c := newClient(t, srv, func(cfg *epp.Config) { cfg.TLS.Certificates = nil })
		_, err := c.ReadStatus(t.Context(), d)
		checkErr(t, c, err)
		require.ErrorIs(t, err, registrar.ErrUnauthorized, "a refused certificate is refused credentials")
		require.NotErrorIs(t, err, registrar.ErrUnavailable)
		require.False(t, registrar.IsPermanent(err))
	})

	t.Run("from files", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		cert, key := srv.ClientCertPEM()
		caFile, certFile, keyFile := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
		require.NoError(t, os.WriteFile(caFile, srv.CAPEM(), 0o600))
		require.NoError(t, os.WriteFile(certFile, cert, 0o600))
		require.NoError(t, os.WriteFile(keyFile, key, 0o600))

		tc, err := epp.TLSConfigFromFiles(caFile, certFile, keyFile)
		require.NoError(t, err)
		c := newClient(t, srv, func(cfg *epp.Config) { cfg.TLS = tc }) // the server name comes from Addr, 127.0.0.1
		_, err = c.ReadStatus(t.Context(), d)
		require.NoError(t, err)

		_, err = epp.TLSConfigFromFiles(caFile, certFile, "")
		require.Error(t, err)
		_, err = epp.TLSConfigFromFiles(keyFile, "", "")
		require.ErrorContains(t, err, "no PEM certificate")
		_, err = epp.TLSConfigFromFiles("", keyFile, certFile)
		require.Error(t, err)
		require.NotContains(t, err.Error(), "PRIVATE KEY-----\n")
	})

	t.Run("untrusted server", func(t *testing.T) {
		t.Parallel()
		c := newClient(t, srv, func(cfg *epp.Config) { cfg.TLS.RootCAs = nil }) // the system roots
		_, err := c.ReadStatus(t.Context(), d)
		checkErr(t, c, err)
		require.ErrorIs(t, err, registrar.ErrUnavailable)
	})
}
