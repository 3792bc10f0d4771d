package epp

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/regsync/regsync/registrar"
)

// errConnectionLost is wrapped, beside [registrar.ErrUnavailable], by the
// error of a command whose connection failed under it: the server may or
// may not have carried the command out.
var errConnectionLost = errors.New("connection lost")

// probeWait is how long the liveness check of an idle session waits for
// the server to have closed it.
const probeWait = time.Millisecond

// staleAfter is how long a session must have been idle before it is
// checked for a close by the server before reuse. A session used within
// the last second is taken as alive: checking costs probeWait per command.
const staleAfter = time.Second

// session is one logged-in EPP connection. Only the goroutine holding it
// uses it.
type session struct {
	conn     net.Conn
	greeting *greeting
	// lastUsed is when the session last exchanged a frame.
	lastUsed time.Time
}

// alive reports whether an idle session's connection still looks open:
// reading from it for probeWait times out. A server that closed it (an
// idle timeout, a restart) makes the read end at once; data the server
// sent unasked means the session is out of step. A TLS read that times out
// leaves the connection usable. Unless always is set, a session used
// within staleAfter is taken as alive without the check.
func (s *session) alive(always bool) bool {
	if !always && time.Since(s.lastUsed) < staleAfter {
		return true
	}
	if err := s.conn.SetReadDeadline(time.Now().Add(probeWait)); err != nil {
		return false
	}
	var b [1]byte
	n, err := s.conn.Read(b[:])
	if n > 0 {
		return false
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// roundTrip sends cmd on s, unless cmd is nil, and reads one frame back,
// within ctx and [Config.Timeout]. Its errors wrap
// [registrar.ErrUnavailable] and ctx's error when the time ran out, and
// [registrar.ErrUnavailable] and errConnectionLost when the connection
// failed; a frame over [Config.MaxFrameBytes] wraps
// [registrar.ErrBadResponse]. After any error the session must be closed:
// an answer may still be on its way. secrets are blanked out of the frame
// traced.
func (c *Client) roundTrip(ctx context.Context, s *session, cmd *command, secrets []string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	deadline, _ := ctx.Deadline()
	if err := s.conn.SetDeadline(deadline); err != nil {
		return nil, fmt.Errorf("%w: %w: %w", registrar.ErrUnavailable, errConnectionLost, err)
	}
	// A ctx cancelled before its deadline interrupts the read or write too.
	stop := context.AfterFunc(ctx, func() { _ = s.conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	if cmd != nil {
		c.trace(Sent, cmd.redacted)
		if err := WriteFrame(s.conn, cmd.payload); err != nil {
			return nil, ioError(ctx, "sending "+cmd.name, err)
		}
	}
	payload, err := ReadFrame(s.conn, c.cfg.MaxFrameBytes)
	s.lastUsed = time.Now()
	if err != nil {
		what := "reading the greeting"
		if cmd != nil {
			what = "reading the answer to " + cmd.name
		}
		return nil, ioError(ctx, what, err)
	}
	c.trace(Received, redactFrame(payload, secrets...))
	return payload, nil
}

// ioError classifies a failed read or write: the time running out, a frame
// the client will not read, or a lost connection.
func ioError(ctx context.Context, what string, err error) error {
	var ne net.Error
	switch {
	case ctx.Err() != nil:
		return fmt.Errorf("%s: %w: %w", what, registrar.ErrUnavailable, ctx.Err())
	case errors.As(err, &ne) && ne.Timeout():
		// The connection's deadline, which is ctx's, can fire a moment
		// before ctx's own timer.
		return fmt.Errorf("%s: %w: %w", what, registrar.ErrUnavailable, context.DeadlineExceeded)
	case errors.Is(err, ErrFrameTooLarge), errors.Is(err, ErrBadFrameHeader):
		return fmt.Errorf("%s: %w: %w", what, registrar.ErrBadResponse, err)
	default:
		return fmt.Errorf("%s: %w: %w: %w", what, registrar.ErrUnavailable, errConnectionLost, err)
	}
}

// exchange sends cmd on s and decodes the response, checking that it
// answers cmd. Result codes are left to the caller.
func (c *Client) exchange(ctx context.Context, s *session, cmd command, secrets []string) (*response, error) {
	payload, err := c.roundTrip(ctx, s, &cmd, secrets)
	if err != nil {
		return nil, err
	}
	resp, err := parseResponse(payload)
	if err != nil {
		return nil, fmt.Errorf("answer to %s: %w: %w", cmd.name, registrar.ErrBadResponse, err)
	}
	if resp.ClTRID != "" && resp.ClTRID != cmd.clTRID {
		return nil, fmt.Errorf("answer to %s: clTRID %q answers another command than %q: %w", cmd.name, redactText(resp.ClTRID, secrets...), cmd.clTRID, registrar.ErrBadResponse)
	}
	return resp, nil
}

// resultError returns nil for a successful response and otherwise the
// [*ResultError] of its result, with the server's text cleared of secrets.
func (c *Client) resultError(op string, cmd command, resp *response, secrets []string) *ResultError {
	code, res, _ := resp.result() // checked by parseResponse
	if Sentinel(code) == nil {
		return nil
	}
	e := &ResultError{
		Registrar: c.cfg.Name,
		Op:        op,
		Code:      code,
		Message:   redactText(strings.TrimSpace(res.Msg), secrets...),
		Reason:    redactText(res.reason(), secrets...),
		ClTRID:    cmd.clTRID,
		SvTRID:    redactText(strings.TrimSpace(resp.SvTRID), secrets...),
	}
	if code == CodeSessionLimitExceeded {
		e.RetryAfter = c.cfg.RateLimitWait
	}
	return e
}

// connect opens a connection, reads the greeting and logs in. Its errors
// are prefixed with op and, like [Client.ReadStatus]'s, wrap a sentinel.
func (c *Client) connect(ctx context.Context, op string) (*session, error) {
	dialCtx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	dialer := &tls.Dialer{NetDialer: &net.Dialer{KeepAlive: 30 * time.Second}, Config: c.tls}
	conn, err := dialer.DialContext(dialCtx, "tcp", c.cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("%s: %s: connecting to %s: %w", c.cfg.Name, op, c.cfg.Addr, dialError(dialCtx, err))
	}
	s := &session{conn: conn, lastUsed: time.Now()}
	if err := c.greetAndLogin(ctx, op, s); err != nil {
		_ = conn.Close()
		return nil, err
	}
	return s, nil
}

// dialError classifies a failed dial and TLS handshake.
func dialError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%w: %w", registrar.ErrUnavailable, ctx.Err())
	}
	if _, ok := refusedCertificate(err); ok {
		return fmt.Errorf("%w: %w", registrar.ErrUnauthorized, err)
	}
	return fmt.Errorf("%w: %w", registrar.ErrUnavailable, err)
}

// refusedCertificate returns the TLS alert in err when it is one from the
// server about the client's certificate (missing, unknown, expired,
// revoked): credentials refused, like a wrong password. crypto/tls reports
// alerts it receives as a net.OpError "remote error" holding an unexported
// type, so the alert's text tells.
func refusedCertificate(err error) (*net.OpError, bool) {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "remote error" && op.Err != nil && strings.Contains(op.Err.Error(), "certificate") {
		return op, true
	}
	return nil, false
}

// greetAndLogin reads the greeting on a new connection, chooses the
// services to use from it and logs in.
func (c *Client) greetAndLogin(ctx context.Context, op string, s *session) error {
	payload, err := c.roundTrip(ctx, s, nil, nil)
	if err != nil {
		if alert, ok := refusedCertificate(err); ok {
			// TLS 1.3 servers refuse a client certificate after the
			// handshake, on the first read.
			return fmt.Errorf("%s: %s: greeting: %w: %w", c.cfg.Name, op, registrar.ErrUnauthorized, alert)
		}
		return fmt.Errorf("%s: %s: greeting: %w", c.cfg.Name, op, err)
	}
	g, err := parseGreeting(payload)
	if err != nil {
		return fmt.Errorf("%s: %s: greeting: %w: %w", c.cfg.Name, op, registrar.ErrBadResponse, err)
	}
	s.greeting = g
	l, err := c.services(g)
	if err != nil {
		return fmt.Errorf("%s: %s: greeting: %w", c.cfg.Name, op, err)
	}

	c.mu.Lock()
	l.password, l.newPassword = c.password, c.newPassword
	c.mu.Unlock()
	lop := op + ": login as " + c.cfg.ClientID
	rerr, err := c.login(ctx, lop, s, l)
	if err != nil {
		return err
	}
	if rerr != nil && rerr.Code == CodeAuthenticationError && l.newPassword != "" {
		// Another process, or an earlier run, may have changed the
		// password to the new one already: try it, on the same connection,
		// which a 2200 (unlike a 2501) leaves open.
		l.password, l.newPassword = l.newPassword, ""
		rerr, err = c.login(ctx, lop, s, l)
		if err != nil {
			return err
		}
	}
	if rerr != nil {
		return rerr
	}
	if l.newPassword != "" || l.password != c.cfg.Password {
		// The server now knows only the new password.
		c.mu.Lock()
		c.password, c.newPassword = c.cfg.NewPassword, ""
		c.mu.Unlock()
	}
	return nil
}

// services returns the login's language and services, chosen from the
// greeting: EPP 1.0, English when offered (else the server's first
// language), the domain mapping, which the server must offer, and the RGP
// extension when offered. Other services are not announced: the client does
// not use them.
func (c *Client) services(g *greeting) (login, error) {
	if !slices.Contains(trimAll(g.Versions), eppVersion) {
		return login{}, fmt.Errorf("server offers EPP versions %q, not %s: %w", g.Versions, eppVersion, registrar.ErrBadResponse)
	}
	objURIs := trimAll(g.ObjURIs)
	if !slices.Contains(objURIs, NamespaceDomain) {
		return login{}, fmt.Errorf("server does not offer the domain mapping %s: %w", NamespaceDomain, registrar.ErrBadResponse)
	}
	l := login{clientID: c.cfg.ClientID, lang: c.cfg.Lang, objURIs: []string{NamespaceDomain}}
	if langs := trimAll(g.Langs); len(langs) > 0 && !slices.Contains(langs, l.lang) {
		l.lang = langs[0]
		if !xmlSafe(l.lang) {
			return login{}, fmt.Errorf("server offers an unusable language: %w", registrar.ErrBadResponse)
		}
	}
	if slices.Contains(trimAll(g.ExtURIs), NamespaceRGP) {
		l.extURIs = []string{NamespaceRGP}
	}
	return l, nil
}

// trimAll returns the values with surrounding white space removed.
func trimAll(values []string) []string {
	out := make([]string, len(values))
	for i, v := range values {
		out[i] = strings.TrimSpace(v)
	}
	return out
}

// login sends one <login>. It returns the result error of a refused login,
// or an error when the exchange itself failed.
func (c *Client) login(ctx context.Context, op string, s *session, l login) (*ResultError, error) {
	cmd := loginCommand(c.nextClTRID(), l)
	secrets := []string{l.password, l.newPassword}
	resp, err := c.exchange(ctx, s, cmd, secrets)
	if err != nil {
		return nil, fmt.Errorf("%s: %s: %w", c.cfg.Name, op, err)
	}
	return c.resultError(op, cmd, resp, secrets), nil
}

// hello sends <hello> on an idle session and checks that a greeting comes
// back.
func (c *Client) hello(ctx context.Context, s *session) error {
	cmd := helloCommand()
	payload, err := c.roundTrip(ctx, s, &cmd, nil)
	if err != nil {
		return err
	}
	_, err = parseGreeting(payload)
	return err
}

// logout ends a session politely and closes its connection, whatever the
// server answers.
func (c *Client) logout(ctx context.Context, s *session) {
	defer s.conn.Close()
	cmd := logoutCommand(c.nextClTRID())
	_, _ = c.exchange(ctx, s, cmd, nil)
}
