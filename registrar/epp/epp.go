// Package epp is the registrar adapter for EPP registries and registrars:
// the Extensible Provisioning Protocol (RFC 5730) with the domain mapping
// (RFC 5731) and the Registry Grace Period extension (RFC 3915), over TCP
// and TLS 1.2 or later (RFC 5734). A [Client] is a [registrar.Registrar], a
// [registrar.TransferStatusReader] and a [registrar.TransferResetter]. The
// package epptest beside it is an EPP server over the simulator in
// registrar/sim, for tests.
//
// The package speaks EPP with encoding/xml. The Go EPP libraries on the
// module proxy did not fit: github.com/domainr/epp (v0.2.0) sends no
// clTRID, reads no svTRID, has no transfer commands, no frame size limit
// and no context support, and its debug logger writes whole frames,
// passwords included; github.com/bombsimon/epp-go (now 0x4b53/epp-go) is
// not served by the proxy and needs cgo's libxml2. Five commands do not
// need a library.
//
// # Sessions
//
// A Client keeps a pool of at most [Config.Sessions] logged-in sessions (2
// by default), opened when first needed and kept open: never more
// connections than that at once, whatever the number of goroutines calling
// it. A command waits for a free session as long as its ctx allows. A
// session opens with the server's greeting and a <login> with the client
// id, the password and, when [Config.NewPassword] is set, a <newPW>;
// its services are the domain mapping, which the server must offer, and
// the RGP extension when the server offers it. Sessions idle for
// [Config.KeepAlive] are sent a <hello> so that the server does not close
// them; [Client.Close] sends <logout> on each.
//
// A session is closed, and the next command opens a new one, after any
// failure of its connection, an answer the client cannot read, a timeout,
// or a result code from 2500 to 2599, with which the server closes the
// connection. A session idle for more than a second, or about to carry a
// transfer request, is checked for a close by the server before it is
// reused: a read of the connection that does not time out within a
// millisecond means the server closed it.
//
// When the connection of a session that had already carried commands fails
// under a read (<domain:info> or a transfer query), which is what a
// connection the server closed while idle looks like, the read is sent
// once more on a new session: reads change nothing at the registry. A
// transfer request is never sent again: its error wraps
// [registrar.ErrUnavailable], and the transfer may or may not have been
// requested. No other failure is retried; the job queue retries.
//
// The sessions limit is per Client, so build one Client per registry
// account in a process, and Close it at shutdown so that its sessions log
// out. A registry's limit on concurrent sessions for one client id must
// cover the sum over every process that runs the adapter with that client
// id: set [Config.Sessions] to at most the registry's limit divided by the
// number of processes, rounded down, less a margin of a session or two per
// registry account, since a connection the client abandons after a timeout
// or a crash (without <logout>) may still count at the registry until the
// registry notices. A login over the limit answers 2502,
// [registrar.ErrRateLimited], and the command fails; the job queue tries it
// later.
//
// # Password change
//
// With [Config.NewPassword] set, the first login sends it as <newPW>; once a
// login succeeds, the Client logs in with the new password only. A login
// refused with 2200 while the change is pending is tried once more, on the
// same connection, with the new password as the password, for the case
// where another process or an earlier run made the change. After every
// process has logged in once, move the new password to [Config.Password]
// and clear [Config.NewPassword].
//
// # Status
//
// [Client.ReadStatus] sends <domain:info> for the domain's name, which must
// be in A-labels, asking for no host information. The reading's Raw is the
// set of the answer's <domain:status> values and <rgp:rgpStatus> values,
// without duplicates, sorted by byte value and joined with commas, for
// example "pendingDelete,redemptionPeriod"; Status maps that set with
// [registrar.MapEPP], so an unknown value reads as
// [registrar.StatusUnknown] with Raw kept, and no status values at all read
// as unknown with an empty Raw. ExpiresAt is <domain:exDate> (RFC 3339; a
// time without a zone is read as UTC), Sponsor is <domain:clID>, and
// RequestID is the svTRID. The answer must be about the domain asked for.
//
// # Transfers
//
// [Client.ReadTransferStatus] sends <transfer op="query"> for the domain.
// EPP identifies the requesting registrar by the session's login, so
// Transfer.Account is not sent. <domain:trStatus> maps as follows; Code is
// always 0, since EPP has no numeric transfer status, and Description is
// the trStatus value:
//
//	pending                           [registrar.TransferPending]
//	clientApproved, serverApproved    [registrar.TransferCompleted]
//	clientCancelled, serverCancelled  [registrar.TransferCancelled]
//	clientRejected                    [registrar.TransferBlocked], CanBeReset
//	anything else                     [registrar.TransferUnknown]
//
// [Client.ResetTransfer] requests the transfer again with <transfer
// op="request"> and the authInfo in <domain:authInfo><domain:pw>. EPP
// requires the authInfo on a request: an empty one is an error wrapping
// [registrar.ErrInvalidRequest] that sends nothing. Note that at most
// registries a request that succeeds starts a transfer, which renews the
// domain and is billed. The answer's ResetResult.Status is 202 for result
// 1001 (action pending: the losing registrar must act) and 200 for any other
// success. The authInfo travels only in the command; it never appears in an
// error or in a frame given to [Config.Trace].
//
// # Errors
//
// An EPP error result is a [*ResultError], whose Unwrap gives the sentinel
// of its code:
//
//	2303 object does not exist              [registrar.ErrNotFound]
//	2301 object not pending transfer        [registrar.ErrNotFound]
//	2200 authentication error               [registrar.ErrUnauthorized]
//	2501 authentication error, closing      [registrar.ErrUnauthorized]
//	2201 authorization error                [registrar.ErrForbidden]
//	2202 invalid authorization information  [registrar.ErrInvalidRequest]
//	2000-2005, 2100-2103, 2306-2308         [registrar.ErrInvalidRequest]
//	2104 billing failure                    [registrar.ErrConflict]
//	2105, 2106 not eligible for renewal, transfer   [registrar.ErrConflict]
//	2300, 2302, 2304, 2305 object state     [registrar.ErrConflict]
//	2400 command failed                     [registrar.ErrUnavailable]
//	2500 command failed, closing            [registrar.ErrUnavailable]
//	2502 session limit exceeded             [registrar.ErrRateLimited]
//
// Other codes map by their range, as [Sentinel] says. A 2502's RetryAfter
// is [Config.RateLimitWait]: EPP says nothing of how long to wait.
// [registrar.RetryAfter] reads only HTTP answers and does not see it.
//
// A frame that is not a well-formed EPP message, that answers another
// command (by its clTRID) or another domain, or whose header announces more
// than [Config.MaxFrameBytes] wraps [registrar.ErrBadResponse]. A command
// that runs out of time, by [Config.Timeout] or ctx, wraps
// [registrar.ErrUnavailable] and ctx's error ([context.DeadlineExceeded]
// for the timeout); a connection that cannot be made or fails wraps
// [registrar.ErrUnavailable]. A TLS alert from the server about the
// client's certificate wraps [registrar.ErrUnauthorized], like a refused
// password. Every error is prefixed with [Config.Name] and a colon and never
// contains a password or an authInfo.
package epp

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/regsync/regsync/registrar"
)

// Config configures a [Client].
type Config struct {
	// Name is the adapter name stored in a domain's registrar column and
	// prefixed to errors; "epp" by default. Give each EPP registry its own.
	Name string
	// Addr is the server's host and port, for example
	// "epp.registry.example:700".
	Addr string
	// ClientID is the login's clID.
	ClientID string
	// Password is the login's pw. This package never logs it or puts it in
	// an error; callers must not format a Config either.
	Password string
	// NewPassword, when set, is sent as the login's newPW to change the
	// password; see the package documentation.
	NewPassword string
	// TLS configures the connection: root CAs, the client certificate a
	// registry may require, the server name. Nil uses the system roots and
	// the host of Addr. A version below TLS 1.2 is raised to it.
	// [TLSConfigFromFiles] builds one from PEM files.
	TLS *tls.Config
	// Sessions is the most sessions the Client keeps open at once; 2 by
	// default.
	Sessions int
	// Timeout bounds each step on the network: connecting with the TLS
	// handshake, reading the greeting, and each command with its answer;
	// 30s by default. Waiting for a free session is bounded by the caller's
	// ctx only.
	Timeout time.Duration
	// KeepAlive is how long a session may sit idle before it is sent a
	// <hello>; 5 minutes by default, under the idle timeouts registries
	// commonly set.
	KeepAlive time.Duration
	// MaxFrameBytes is the largest frame read from the server; 1 MiB by
	// default.
	MaxFrameBytes int64
	// RateLimitWait is the RetryAfter of a 2502 session-limit error; 30s by
	// default.
	RateLimitWait time.Duration
	// Lang is the login's language when the server offers it; "en" by
	// default.
	Lang string
	// Trace, when set, is called with each frame sent and received, with
	// passwords and authInfo values blanked out. It must not keep frame.
	Trace func(dir Direction, frame []byte)
}

// Direction says which way a traced frame went.
type Direction string

// The directions of traced frames, in the "C:" and "S:" of RFC 5730's
// examples.
const (
	Sent     Direction = "C"
	Received Direction = "S"
)

// DefaultConfig returns the defaults; Addr, ClientID and Password must
// still be set.
func DefaultConfig() Config {
	return Config{
		Name:          "epp",
		Sessions:      2,
		Timeout:       30 * time.Second,
		KeepAlive:     5 * time.Minute,
		MaxFrameBytes: 1 << 20,
		RateLimitWait: 30 * time.Second,
		Lang:          "en",
	}
}

// Validate reports the first invalid field of c. Its errors are prefixed
// with the adapter name and never contain a password.
func (c Config) Validate() error {
	name := c.Name
	if name == "" {
		name = "epp"
	}
	host, port, splitErr := net.SplitHostPort(c.Addr)
	switch {
	case c.Name == "":
		return errors.New("epp: name is empty")
	case strings.ContainsFunc(c.Name, func(r rune) bool { return r <= ' ' || r == ':' || r == 0x7f }):
		return fmt.Errorf("epp: name %q contains spaces, colons or control characters", c.Name)
	case splitErr != nil || host == "" || port == "":
		return fmt.Errorf("%s: address %q is not host:port", name, c.Addr)
	case c.ClientID == "" || !isToken(c.ClientID) || strings.Contains(c.ClientID, " "):
		return fmt.Errorf("%s: client id %q is empty, or has white space or characters XML cannot carry", name, c.ClientID)
	case c.Password == "":
		return fmt.Errorf("%s: password is empty", name)
	case !isToken(c.Password):
		return fmt.Errorf("%s: password has leading, trailing or repeated white space, or characters XML cannot carry", name)
	case c.NewPassword != "" && !isToken(c.NewPassword):
		return fmt.Errorf("%s: new password has leading, trailing or repeated white space, or characters XML cannot carry", name)
	case c.NewPassword != "" && c.NewPassword == c.Password:
		return fmt.Errorf("%s: new password is the password", name)
	case c.Sessions < 1:
		return fmt.Errorf("%s: sessions %d is not positive", name, c.Sessions)
	case c.Timeout <= 0:
		return fmt.Errorf("%s: timeout %s is not positive", name, c.Timeout)
	case c.KeepAlive <= 0:
		return fmt.Errorf("%s: keep-alive %s is not positive", name, c.KeepAlive)
	case c.MaxFrameBytes < 1024:
		return fmt.Errorf("%s: max frame bytes %d is under 1024", name, c.MaxFrameBytes)
	case c.RateLimitWait <= 0:
		return fmt.Errorf("%s: rate limit wait %s is not positive", name, c.RateLimitWait)
	case c.Lang == "" || !isToken(c.Lang) || strings.Contains(c.Lang, " "):
		return fmt.Errorf("%s: language %q is not a language tag", name, c.Lang)
	}
	return nil
}

// isToken reports whether s is an XML Schema token as EPP's clID and pw
// are: characters XML can carry, no tab or line break, and no leading,
// trailing or repeated space, so that a server normalizing it sees s.
func isToken(s string) bool {
	return xmlSafe(s) && !strings.ContainsAny(s, "\t\n\r") && strings.Join(strings.Fields(s), " ") == s
}

// Client reads domain statuses and transfers from an EPP server over a
// small pool of sessions. It is safe for concurrent use; [Client.Close]
// logs its sessions out.
type Client struct {
	cfg Config
	tls *tls.Config

	// tokens holds one value per session in use or being opened; its
	// capacity is [Config.Sessions].
	tokens chan struct{}
	// ctx is cancelled by [Client.Close]; it ends the keep-alive.
	ctx   context.Context
	stop  context.CancelFunc
	wg    sync.WaitGroup // the keep-alive goroutine
	close sync.Once

	mu          sync.Mutex
	idle        []*session
	closed      bool
	password    string
	newPassword string

	trIDPrefix string
	trIDs      atomic.Uint64
}

var (
	_ registrar.Registrar            = (*Client)(nil)
	_ registrar.TransferStatusReader = (*Client)(nil)
	_ registrar.TransferResetter     = (*Client)(nil)
)

// New returns a client for cfg. It connects to nothing: the first command
// opens the first session.
func New(cfg Config) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	tc := &tls.Config{}
	if cfg.TLS != nil {
		tc = cfg.TLS.Clone()
	}
	tc.MinVersion = max(tc.MinVersion, tls.VersionTLS12)
	var random [6]byte
	_, _ = rand.Read(random[:]) // crypto/rand.Read never fails
	ctx, stop := context.WithCancel(context.Background())
	c := &Client{
		cfg:         cfg,
		tls:         tc,
		tokens:      make(chan struct{}, cfg.Sessions),
		ctx:         ctx,
		stop:        stop,
		password:    cfg.Password,
		newPassword: cfg.NewPassword,
		trIDPrefix:  "regsync-" + hex.EncodeToString(random[:]) + "-",
	}
	c.wg.Go(c.keepAlive)
	return c, nil
}

// Name returns [Config.Name].
func (c *Client) Name() string { return c.cfg.Name }

// nextClTRID returns a client transaction id unique to this Client and,
// with its random part, very likely to every other.
func (c *Client) nextClTRID() string {
	return c.trIDPrefix + strconv.FormatUint(c.trIDs.Add(1), 10)
}

// trace hands a frame to [Config.Trace].
func (c *Client) trace(dir Direction, frame []byte) {
	if c.cfg.Trace != nil {
		c.cfg.Trace(dir, slices.Clone(frame))
	}
}

// errClosed is wrapped by the errors of commands after [Client.Close].
var errClosed = errors.New("client closed")

// acquire waits for a free session slot.
func (c *Client) acquire(ctx context.Context, op string) error {
	select {
	case <-c.ctx.Done():
		return fmt.Errorf("%s: %s: %w: %w", c.cfg.Name, op, registrar.ErrUnavailable, errClosed)
	default:
	}
	select {
	case c.tokens <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%s: %s: waiting for a free session: %w: %w", c.cfg.Name, op, registrar.ErrUnavailable, ctx.Err())
	case <-c.ctx.Done():
		return fmt.Errorf("%s: %s: %w: %w", c.cfg.Name, op, registrar.ErrUnavailable, errClosed)
	}
}

// take returns an idle session that still looks alive, or nil; the caller
// holds a slot. Sessions found closed are closed here. With check set,
// every session is checked, however recently used: before a command that
// is never resent.
func (c *Client) take(check bool) *session {
	for {
		c.mu.Lock()
		n := len(c.idle)
		if n == 0 {
			c.mu.Unlock()
			return nil
		}
		s := c.idle[n-1] // the most recently used
		c.idle = c.idle[:n-1]
		c.mu.Unlock()
		if s.alive(check) {
			return s
		}
		_ = s.conn.Close()
	}
}

// put returns a healthy session to the pool, or logs it out when the
// Client is closed.
func (c *Client) put(s *session) {
	c.mu.Lock()
	if !c.closed {
		c.idle = append(c.idle, s)
		c.mu.Unlock()
		return
	}
	c.mu.Unlock()
	c.logout(context.Background(), s)
}

// do sends one command on a pooled session and returns the response, or
// the error of the exchange or of the result. build makes the command for a
// clTRID; a read is sent once more on a new session when the connection of
// a reused session fails under it (see the package documentation).
func (c *Client) do(ctx context.Context, op string, read bool, secrets []string, build func(clTRID string) command) (*response, error) {
	if err := c.acquire(ctx, op); err != nil {
		return nil, err
	}
	defer func() { <-c.tokens }()

	s := c.take(!read)
	reused := s != nil
	if s == nil {
		var err error
		if s, err = c.connect(ctx, op); err != nil {
			return nil, err
		}
	}
	cmd := build(c.nextClTRID())
	resp, err := c.exchange(ctx, s, cmd, secrets)
	if err != nil && reused && read && errors.Is(err, errConnectionLost) && ctx.Err() == nil {
		_ = s.conn.Close()
		if s, err = c.connect(ctx, op); err != nil {
			return nil, err
		}
		cmd = build(c.nextClTRID())
		resp, err = c.exchange(ctx, s, cmd, secrets)
	}
	if err != nil {
		_ = s.conn.Close()
		return nil, fmt.Errorf("%s: %s: %w", c.cfg.Name, op, err)
	}
	rerr := c.resultError(op, cmd, resp, secrets)
	if rerr != nil && closesSession(rerr.Code) {
		_ = s.conn.Close()
	} else {
		c.put(s)
	}
	if rerr != nil {
		return nil, rerr
	}
	return resp, nil
}

// keepAlive sends <hello> on sessions idle for [Config.KeepAlive] until the
// Client is closed.
func (c *Client) keepAlive() {
	tick := time.NewTicker(max(c.cfg.KeepAlive/4, time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-tick.C:
			c.helloIdle()
		}
	}
}

// helloIdle sends <hello> on each session idle for [Config.KeepAlive]. It
// holds a slot while it does, as a command would, and takes none when every
// slot is in use, so that it never makes a command open a session beyond
// the limit.
func (c *Client) helloIdle() {
	for {
		select {
		case c.tokens <- struct{}{}:
		default:
			return
		}
		s := c.takeIdleFor(c.cfg.KeepAlive)
		if s == nil {
			<-c.tokens
			return
		}
		err := c.hello(c.ctx, s)
		if err != nil {
			_ = s.conn.Close()
		} else {
			c.put(s)
		}
		<-c.tokens
	}
}

// takeIdleFor removes and returns the idle session unused for longest if it
// has been idle for at least d, or nil.
func (c *Client) takeIdleFor(d time.Duration) *session {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.idle) == 0 || time.Since(c.idle[0].lastUsed) < d {
		return nil
	}
	s := c.idle[0]
	c.idle = c.idle[1:]
	return s
}

// Close logs out the idle sessions and closes them; sessions in use are
// logged out when their command ends. Commands after Close fail with
// [registrar.ErrUnavailable]. Close waits for the logouts, each bounded by
// [Config.Timeout], and always returns nil.
func (c *Client) Close() error {
	c.close.Do(func() {
		c.stop()
		c.wg.Wait()
		c.mu.Lock()
		c.closed = true
		idle := c.idle
		c.idle = nil
		c.mu.Unlock()
		var wg sync.WaitGroup
		for _, s := range idle {
			wg.Go(func() { c.logout(context.Background(), s) })
		}
		wg.Wait()
	})
	return nil
}

// checkName rejects a domain name that cannot be sent as given.
func checkName(name string) error {
	if name == "" || !xmlSafe(name) || strings.ContainsFunc(name, func(r rune) bool { return r <= ' ' }) {
		return fmt.Errorf("domain name %q is empty or not a domain name: %w", name, registrar.ErrInvalidRequest)
	}
	return nil
}

// ReadStatus reads the domain's statuses, expiry and sponsor with
// <domain:info>; the package documentation says how.
func (c *Client) ReadStatus(ctx context.Context, domain registrar.Domain) (registrar.StatusReading, error) {
	op := "read status of " + strconv.Quote(domain.Name)
	if err := checkName(domain.Name); err != nil {
		return registrar.StatusReading{}, fmt.Errorf("%s: %s: %w", c.cfg.Name, op, err)
	}
	resp, err := c.do(ctx, op, true, nil, func(clTRID string) command { return domainInfoCommand(clTRID, domain.Name) })
	if err != nil {
		return registrar.StatusReading{}, err
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%s: %s: %s: %w", c.cfg.Name, op, fmt.Sprintf(format, args...), registrar.ErrBadResponse)
	}
	inf := resp.ResData.DomainInfo
	if inf == nil {
		return registrar.StatusReading{}, bad("answer has no domain:infData")
	}
	if got := strings.TrimSpace(inf.Name); !strings.EqualFold(got, domain.Name) {
		return registrar.StatusReading{}, bad("answer is about domain %q", got)
	}
	var raw []string
	for _, v := range inf.Statuses {
		raw = append(raw, strings.TrimSpace(v.S))
	}
	if rgp := resp.Extension.RGPInfo; rgp != nil {
		for _, v := range rgp.Statuses {
			raw = append(raw, strings.TrimSpace(v.S))
		}
	}
	slices.Sort(raw)
	raw = slices.Compact(raw)
	if slices.Contains(raw, "") {
		return registrar.StatusReading{}, bad("answer has a status without a value")
	}
	reading := registrar.StatusReading{
		Raw:       strings.Join(raw, ","),
		Status:    registrar.MapEPP(raw),
		RequestID: strings.TrimSpace(resp.SvTRID),
		Sponsor:   strings.TrimSpace(inf.ClID),
	}
	if strings.TrimSpace(inf.ExDate) != "" {
		if reading.ExpiresAt, err = parseDateTime(inf.ExDate); err != nil {
			return registrar.StatusReading{}, bad("exDate: %v", err)
		}
	}
	return reading, nil
}

// transferStates maps <domain:trStatus> values to transfer states.
var transferStates = map[string]registrar.TransferState{
	"pending":         registrar.TransferPending,
	"clientApproved":  registrar.TransferCompleted,
	"serverApproved":  registrar.TransferCompleted,
	"clientCancelled": registrar.TransferCancelled,
	"serverCancelled": registrar.TransferCancelled,
	"clientRejected":  registrar.TransferBlocked,
}

// MapTransferStatus maps an RFC 5731 <domain:trStatus> value to a transfer
// state, and reports whether the transfer can be requested again: only a
// transfer the losing registrar rejected can. Values are case-sensitive, as
// in the schema; any other value is [registrar.TransferUnknown].
func MapTransferStatus(trStatus string) (registrar.TransferState, bool) {
	state, ok := transferStates[trStatus]
	if !ok {
		return registrar.TransferUnknown, false
	}
	return state, trStatus == "clientRejected"
}

// describeTransfer names a transfer in errors.
func describeTransfer(t registrar.Transfer) string {
	return strconv.Quote(t.DomainName)
}

// ReadTransferStatus reads the domain's transfer with <transfer
// op="query">; the package documentation says how.
func (c *Client) ReadTransferStatus(ctx context.Context, t registrar.Transfer) (registrar.TransferStatus, error) {
	op := "read transfer status of " + describeTransfer(t)
	if err := checkName(t.DomainName); err != nil {
		return registrar.TransferStatus{}, fmt.Errorf("%s: %s: %w", c.cfg.Name, op, err)
	}
	resp, err := c.do(ctx, op, true, nil, func(clTRID string) command { return transferQueryCommand(clTRID, t.DomainName) })
	if err != nil {
		return registrar.TransferStatus{}, err
	}
	trn := resp.ResData.DomainTransfer
	switch {
	case trn == nil:
		return registrar.TransferStatus{}, fmt.Errorf("%s: %s: answer has no domain:trnData: %w", c.cfg.Name, op, registrar.ErrBadResponse)
	case !strings.EqualFold(strings.TrimSpace(trn.Name), t.DomainName):
		return registrar.TransferStatus{}, fmt.Errorf("%s: %s: answer is about domain %q: %w", c.cfg.Name, op, strings.TrimSpace(trn.Name), registrar.ErrBadResponse)
	}
	trStatus := strings.TrimSpace(trn.TrStatus)
	if trStatus == "" {
		return registrar.TransferStatus{}, fmt.Errorf("%s: %s: answer has no trStatus: %w", c.cfg.Name, op, registrar.ErrBadResponse)
	}
	state, canBeReset := MapTransferStatus(trStatus)
	return registrar.TransferStatus{
		Description: trStatus,
		State:       state,
		CanBeReset:  canBeReset,
		RequestID:   strings.TrimSpace(resp.SvTRID),
	}, nil
}

// ResetTransfer requests the domain's transfer again with <transfer
// op="request"> and authInfo, which EPP requires; the package
// documentation says how. It is never sent twice.
func (c *Client) ResetTransfer(ctx context.Context, t registrar.Transfer, authInfo string) (registrar.ResetResult, error) {
	op := "reset transfer of " + describeTransfer(t)
	if err := checkName(t.DomainName); err != nil {
		return registrar.ResetResult{}, fmt.Errorf("%s: %s: %w", c.cfg.Name, op, err)
	}
	switch {
	case authInfo == "":
		return registrar.ResetResult{}, fmt.Errorf("%s: %s: EPP requires an authInfo on a transfer request, and none was given: %w", c.cfg.Name, op, registrar.ErrInvalidRequest)
	case !xmlSafe(authInfo) || strings.ContainsAny(authInfo, "\t\n\r"):
		return registrar.ResetResult{}, fmt.Errorf("%s: %s: authInfo has tabs, line breaks or characters XML cannot carry: %w", c.cfg.Name, op, registrar.ErrInvalidRequest)
	}
	secrets := []string{authInfo}
	resp, err := c.do(ctx, op, false, secrets, func(clTRID string) command {
		return transferRequestCommand(clTRID, t.DomainName, authInfo)
	})
	if err != nil {
		return registrar.ResetResult{}, err
	}
	code, _, _ := resp.result()
	status := 200
	if code == CodeActionPending {
		status = 202
	}
	return registrar.ResetResult{Status: status, RequestID: redactText(strings.TrimSpace(resp.SvTRID), secrets...)}, nil
}
