// Package epptest is an EPP server for tests: RFC 5730 over TLS with RFC
// 5734 framing, answering the domain mapping's <info> and <transfer>
// (query and request) from a [sim.Sim], so that the epp adapter runs the
// same conformance suite as the HTTP adapters over the same simulator. It
// is written independently of package epp, framing included, so that a
// mistake in one is not mirrored in the other.
//
// # Server
//
// [NewServer] listens on 127.0.0.1 with a certificate made at start by a
// throwaway CA (ECDSA P-256, for 127.0.0.1, ::1 and localhost);
// [Server.ClientTLS] trusts it and carries a client certificate of the same
// CA, which [Config.RequireClientCert] makes the server demand. A
// connection gets the greeting; <hello> gets it again at any time. A
// <login> must name [Config.ClientID] and the current password, EPP 1.0
// and only services the greeting offers; a <newPW> becomes the password.
// Logins beyond [Config.MaxSessions] concurrent sessions answer 2502 and
// close. <logout> answers 1500 and closes. Object commands before a login
// answer 2002. A session stops counting toward the cap before the server
// sends the answer with which it closes the connection, so that a client
// reconnecting at once is not refused.
//
// # Domains
//
// <domain:info> resolves the name with [sim.Sim.DomainByName] (an unknown
// name answers 2303) and reads it with [sim.Sim.ReadStatus]. The
// simulator's Hostup statuses become EPP statuses:
//
//	active     ok
//	suspended  clientHold
//	pending    pendingCreate
//	expired    pendingDelete, with rgpStatus redemptionPeriod when the
//	           session logged in with the RGP extension
//	terminated, cancelled   2303: the registry no longer has the domain
//	anything else           passed through as a status value EPP does not
//	                        define ("unknown", "fraud", "weird")
//
// A reading's expiry and sponsor ([sim.Sim.SetInfo]) become <domain:exDate>
// and <domain:clID>, left out when unset, and its request id the svTRID.
// The simulator's faults become:
//
//	!400           2005 parameter value syntax error
//	!401           2501 authentication error, and the server closes
//	!403           2201 authorization error
//	!404           2303 object does not exist
//	!429, !429:5s  2502 session limit exceeded, and the server closes (EPP
//	               carries no wait, so the scripted one is lost)
//	!500 !502 !503 2400 command failed
//	!garbage       a frame of malformed XML, and the server closes
//	!huge          a frame of [Config.HugeBytes] bytes, and the server closes
//	!timeout       no answer until the client closes the connection
//
// The simulator reports !garbage and !huge alike, as errors wrapping
// [registrar.ErrBadResponse]; the server tells them apart by the "size
// limit" in the huge one's text.
//
// # Transfers
//
// Transfers are read and reset with [sim.Sim.ReadTransferStatus] and
// [sim.Sim.ResetTransfer] for the transfer of the named domain whose account
// is the session's client id: EPP knows the requesting registrar by its
// login. A query's scripted states become trStatus values: pending
// "pending", blocked and blocked:resettable "clientRejected" (EPP cannot say
// a transfer is blocked for good), completed "clientApproved", cancelled
// "clientCancelled", unknown "unknown". A request must carry
// <domain:authInfo><domain:pw>, else 2003; an accepted one answers 1001 for
// a scripted 202 and 1000 for another 2xx. Error answers become:
//
//	400, 404bad    2005 for a query, 2202 invalid authorization information
//	               for a request (the simulator also answers so to an
//	               authInfo outside [registrar.ValidateAuthInfo])
//	401            2501, and the server closes
//	403            2201 (another registrar's transfer)
//	404            2301 object not pending transfer for a query, 2303 for a
//	               request
//	409            2304 for a query, 2106 not eligible for transfer for a
//	               request
//	429, !429      2502, and the server closes
//	5xx            2400
//	other statuses a result code of 3000 plus the status ("3418"), outside
//	               EPP's ranges: an answer no client should take for a
//	               success
//	!timeout       no answer
//
// # Faults of the server
//
// [Server.DropNext] makes the next object commands run at the simulator
// and then drop the connection unanswered; [Server.CloseAfter] closes every
// session after a number of object commands; [Server.RefuseLogins] answers
// logins with a result code; [Server.AnswerNext] answers object commands
// with a result code without reaching the simulator; [Config.Tamper]
// rewrites what the server sends. [Server.Stats] and
// [Server.Logins] report what the server saw, including the most sessions
// that were ever logged in at once.
package epptest

import (
	"bytes"
	"cmp"
	"context"
	"crypto/tls"
	"encoding/binary"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/regsync/regsync/registrar"
	"github.com/regsync/regsync/registrar/sim"
)

// Namespaces the server speaks.
const (
	nsEPP    = "urn:ietf:params:xml:ns:epp-1.0"
	nsDomain = "urn:ietf:params:xml:ns:domain-1.0"
	nsRGP    = "urn:ietf:params:xml:ns:rgp-1.0"
)

// Config configures a [Server].
type Config struct {
	// Backend answers the object commands; required.
	Backend *sim.Sim
	// ClientID is the clID a login must name; "regsync-test" by default.
	ClientID string
	// Password is the password a login must give until a newPW changes it;
	// "test-Pass1" by default.
	Password string
	// MaxSessions caps the sessions logged in at once; 0 means no cap.
	MaxSessions int
	// RequireClientCert makes the TLS handshake demand a client certificate
	// signed by the server's CA.
	RequireClientCert bool
	// ObjURIs are the objects the greeting offers; by default the domain,
	// contact and host mappings.
	ObjURIs []string
	// ExtURIs are the extensions the greeting offers; by default RGP and
	// DNSSEC (secDNS-1.1).
	ExtURIs []string
	// Langs are the languages the greeting offers; ["en"] by default.
	Langs []string
	// ServerID is the greeting's svID; "epptest" by default.
	ServerID string
	// HugeBytes is the payload size of a !huge answer; 4 MiB by default,
	// over the epp adapter's default limit of 1 MiB.
	HugeBytes int
	// MaxFrameBytes is the largest frame the server reads; 64 KiB by
	// default. A larger one closes the connection.
	MaxFrameBytes int
	// Tamper, when set, rewrites every frame the server sends, greetings
	// included, so that tests can send what a misbehaving server would.
	Tamper func(frame []byte) []byte
}

// Login is what a successful login said.
type Login struct {
	ClientID string
	Version  string
	Lang     string
	ObjURIs  []string
	ExtURIs  []string
	// NewPassword reports whether the login changed the password.
	NewPassword bool
}

// Stats counts what the server saw.
type Stats struct {
	// Connections is the number of TLS connections accepted, and
	// Disconnects the number the server has closed since, whichever side
	// ended them.
	Connections, Disconnects int
	// Logins and FailedLogins count logins answered 1000 and refused.
	Logins, FailedLogins int
	// Logouts, Hellos and Commands count logouts, hellos and object
	// commands (info and transfer) received.
	Logouts, Hellos, Commands int
	// Sessions is the number of sessions logged in now; MaxSessions the
	// most that ever were at once.
	Sessions, MaxSessions int
}

// Server is a running EPP test server.
type Server struct {
	cfg  Config
	auth *authority
	ln   net.Listener

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu         sync.Mutex
	conns      map[net.Conn]struct{}
	password   string
	stats      Stats
	logins     []Login
	clTRIDs    []string
	dropNext   int
	closeAfter int
	refuse     int
	answerCode int
	answerNext int
	svTRIDs    int
}

// NewServer starts a server on 127.0.0.1 on a port of the system's
// choosing. Close it when done.
func NewServer(cfg Config) (*Server, error) {
	if cfg.Backend == nil {
		return nil, errors.New("epptest: no backend")
	}
	cfg.ClientID = cmp.Or(cfg.ClientID, "regsync-test")
	cfg.Password = cmp.Or(cfg.Password, "test-Pass1")
	if cfg.ObjURIs == nil {
		cfg.ObjURIs = []string{nsDomain, "urn:ietf:params:xml:ns:contact-1.0", "urn:ietf:params:xml:ns:host-1.0"}
	}
	if cfg.ExtURIs == nil {
		cfg.ExtURIs = []string{nsRGP, "urn:ietf:params:xml:ns:secDNS-1.1"}
	}
	if cfg.Langs == nil {
		cfg.Langs = []string{"en"}
	}
	cfg.ServerID = cmp.Or(cfg.ServerID, "epptest")
	cfg.HugeBytes = cmp.Or(cfg.HugeBytes, 4<<20)
	cfg.MaxFrameBytes = cmp.Or(cfg.MaxFrameBytes, 64<<10)

	auth, err := newAuthority()
	if err != nil {
		return nil, err
	}
	tc := &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{auth.server},
	}
	if cfg.RequireClientCert {
		tc.ClientAuth = tls.RequireAndVerifyClientCert
		tc.ClientCAs = auth.pool
	}
	ln, err := new(net.ListenConfig).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("epptest: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		cfg: cfg, auth: auth, ln: tls.NewListener(ln, tc),
		ctx: ctx, cancel: cancel,
		conns: make(map[net.Conn]struct{}), password: cfg.Password,
	}
	s.wg.Go(s.accept)
	return s, nil
}

// Addr returns the server's address, host:port.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// ClientTLS returns a client TLS configuration that trusts the server's
// certificate, for the server name "localhost", and presents a client
// certificate of the server's CA.
func (s *Server) ClientTLS() *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		RootCAs:      s.auth.pool,
		ServerName:   "localhost",
		Certificates: []tls.Certificate{s.auth.client},
	}
}

// CAPEM returns the server's CA certificate in PEM.
func (s *Server) CAPEM() []byte { return slices.Clone(s.auth.caPEM) }

// ClientCertPEM returns the client certificate and its key in PEM.
func (s *Server) ClientCertPEM() (cert, key []byte) {
	return slices.Clone(s.auth.clientCertPEM), slices.Clone(s.auth.clientKeyPEM)
}

// Password returns the password a login must give now.
func (s *Server) Password() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.password
}

// Stats returns the counts so far.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// Logins returns the successful logins so far, in order.
func (s *Server) Logins() []Login {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.logins)
}

// ClTRIDs returns the clTRIDs of every command received so far.
func (s *Server) ClTRIDs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.clTRIDs)
}

// DropNext makes the next n object commands run at the backend and then
// close the connection without an answer: the worst case of a connection
// lost mid-command, where the registry acted and the client cannot know.
func (s *Server) DropNext(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dropNext = n
}

// CloseAfter makes the server close each session after answering its nth
// object command, as registries that limit commands per session do; 0
// stops it.
func (s *Server) CloseAfter(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closeAfter = n
}

// RefuseLogins makes logins answer code (for example 2200, 2501 or 2502)
// until it is called with 0. A code from 2500 closes the connection.
func (s *Server) RefuseLogins(code int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refuse = code
}

// AnswerNext makes the next n object commands answer code without reaching
// the backend. A code from 2500 closes the connection.
func (s *Server) AnswerNext(code, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.answerCode, s.answerNext = code, n
}

// Close stops the server: it closes the listener and every connection, and
// waits for them to end.
func (s *Server) Close() {
	s.cancel()
	_ = s.ln.Close()
	s.mu.Lock()
	for c := range s.conns {
		_ = c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// accept serves connections until the listener closes.
func (s *Server) accept() {
	for {
		conn, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		if s.ctx.Err() != nil {
			s.mu.Unlock()
			_ = conn.Close()
			return
		}
		s.conns[conn] = struct{}{}
		s.mu.Unlock()
		s.wg.Go(func() {
			defer func() {
				_ = conn.Close()
				s.mu.Lock()
				delete(s.conns, conn)
				s.stats.Disconnects++
				s.mu.Unlock()
			}()
			s.serve(conn)
		})
	}
}

// conn is one connection's state.
type conn struct {
	net.Conn
	loggedIn bool
	login    Login
	commands int
}

// serve runs one connection: the handshake, the greeting, then one answer
// per frame until either side closes.
func (s *Server) serve(nc net.Conn) {
	tc, ok := nc.(*tls.Conn)
	if !ok {
		return
	}
	hctx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
	err := tc.HandshakeContext(hctx)
	cancel()
	if err != nil {
		return
	}
	s.mu.Lock()
	s.stats.Connections++
	s.mu.Unlock()

	// A reader goroutine notices the client closing the connection even
	// while a command waits at the backend, and cancels it.
	ctx, stop := context.WithCancel(s.ctx)
	defer stop()
	frames := make(chan []byte)
	s.wg.Go(func() {
		defer stop()
		defer close(frames)
		for {
			f, err := readFrame(tc, s.cfg.MaxFrameBytes)
			if err != nil {
				return
			}
			select {
			case frames <- f:
			case <-ctx.Done():
				return
			}
		}
	})

	c := &conn{Conn: tc}
	defer s.endSession(c)
	if s.write(c, s.greeting()) != nil {
		return
	}
	for f := range frames {
		a := s.handle(ctx, c, f)
		if a.silent {
			return // no answer: a drop, or the client is gone
		}
		if a.close {
			s.endSession(c) // before the answer: the client may reconnect at once
		}
		if s.write(c, a.frame) != nil || a.close {
			return
		}
	}
}

// endSession stops counting c's session, if it was logged in.
func (s *Server) endSession(c *conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.loggedIn {
		c.loggedIn = false
		s.stats.Sessions--
	}
}

// write sends one frame, giving up after ten seconds.
func (s *Server) write(c *conn, payload []byte) error {
	_ = c.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if s.cfg.Tamper != nil {
		payload = s.cfg.Tamper(payload)
	}
	return writeFrame(c, payload)
}

// answer is what the server does with a frame: send frame, then close the
// connection when close is set; or close it silently.
type answer struct {
	frame  []byte
	close  bool
	silent bool
}

// readFrame reads one RFC 5734 data unit of at most limit payload bytes.
func readFrame(r io.Reader, limit int) ([]byte, error) {
	var h [4]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return nil, err
	}
	n := int64(binary.BigEndian.Uint32(h[:])) - 4
	if n < 0 || n > int64(limit) {
		return nil, fmt.Errorf("epptest: frame of %d bytes", n)
	}
	b := make([]byte, n)
	_, err := io.ReadFull(r, b)
	return b, err
}

// writeFrame writes one RFC 5734 data unit.
func writeFrame(w io.Writer, payload []byte) error {
	b := make([]byte, 4, 4+len(payload))
	binary.BigEndian.PutUint32(b, uint32(4+len(payload))) //nolint:gosec // G115: test frames are small
	_, err := w.Write(append(b, payload...))
	return err
}

// request is a client frame, decoded.
type request struct {
	XMLName xml.Name
	Hello   *struct{}    `xml:"urn:ietf:params:xml:ns:epp-1.0 hello"`
	Command *commandElem `xml:"urn:ietf:params:xml:ns:epp-1.0 command"`
}

// commandElem is <command>.
type commandElem struct {
	Login *struct {
		ClID    string   `xml:"clID"`
		Pw      string   `xml:"pw"`
		NewPW   *string  `xml:"newPW"`
		Version string   `xml:"options>version"`
		Lang    string   `xml:"options>lang"`
		ObjURIs []string `xml:"svcs>objURI"`
		ExtURIs []string `xml:"svcs>svcExtension>extURI"`
	} `xml:"login"`
	Logout *struct{} `xml:"logout"`
	Info   *struct {
		Domain *struct {
			Name string `xml:"urn:ietf:params:xml:ns:domain-1.0 name"`
		} `xml:"urn:ietf:params:xml:ns:domain-1.0 info"`
	} `xml:"info"`
	Transfer *struct {
		Op     string `xml:"op,attr"`
		Domain *struct {
			Name     string  `xml:"urn:ietf:params:xml:ns:domain-1.0 name"`
			AuthInfo *string `xml:"urn:ietf:params:xml:ns:domain-1.0 authInfo>pw"`
		} `xml:"urn:ietf:params:xml:ns:domain-1.0 transfer"`
	} `xml:"transfer"`
	ClTRID string `xml:"clTRID"`
}

// handle answers one frame.
func (s *Server) handle(ctx context.Context, c *conn, f []byte) answer {
	var req request
	if err := xml.Unmarshal(f, &req); err != nil || req.XMLName.Space != nsEPP || req.XMLName.Local != "epp" {
		return answer{frame: s.result(2001, "Command syntax error", "", "", "")}
	}
	if req.Hello != nil {
		s.mu.Lock()
		s.stats.Hellos++
		s.mu.Unlock()
		return answer{frame: s.greeting()}
	}
	cmd := req.Command
	if cmd == nil {
		return answer{frame: s.result(2001, "Command syntax error", "", "", "")}
	}
	s.mu.Lock()
	s.clTRIDs = append(s.clTRIDs, cmd.ClTRID)
	s.mu.Unlock()
	switch {
	case cmd.Login != nil:
		return s.handleLogin(c, cmd)
	case cmd.Logout != nil:
		s.mu.Lock()
		s.stats.Logouts++
		s.mu.Unlock()
		return answer{frame: s.result(1500, "Command completed successfully; ending session", cmd.ClTRID, "", ""), close: true}
	case !c.loggedIn:
		return answer{frame: s.result(2002, "Command use error", cmd.ClTRID, "", "")}
	case cmd.Info != nil && cmd.Info.Domain != nil:
		return s.object(ctx, c, cmd, func() answer { return s.domainInfo(ctx, c, cmd) })
	case cmd.Transfer != nil && cmd.Transfer.Domain != nil && cmd.Transfer.Op == "query":
		return s.object(ctx, c, cmd, func() answer { return s.transferQuery(ctx, c, cmd) })
	case cmd.Transfer != nil && cmd.Transfer.Domain != nil && cmd.Transfer.Op == "request":
		return s.object(ctx, c, cmd, func() answer { return s.transferRequest(ctx, c, cmd) })
	default:
		return answer{frame: s.result(2101, "Unimplemented command", cmd.ClTRID, "", "")}
	}
}

// handleLogin answers <login>.
func (s *Server) handleLogin(c *conn, cmd *commandElem) answer {
	l := cmd.Login
	s.mu.Lock()
	defer s.mu.Unlock()
	refuse := func(code int, msg string) answer {
		s.stats.FailedLogins++
		return answer{frame: s.resultLocked(code, msg, cmd.ClTRID, "", ""), close: code >= 2500}
	}
	switch {
	case c.loggedIn:
		return answer{frame: s.resultLocked(2002, "Command use error: already logged in", cmd.ClTRID, "", "")}
	case s.refuse != 0:
		return refuse(s.refuse, "Login refused")
	case strings.TrimSpace(l.Version) != "1.0":
		return refuse(2100, "Unimplemented protocol version")
	case !subset(l.ObjURIs, s.cfg.ObjURIs):
		return refuse(2307, "Unimplemented object service")
	case !subset(l.ExtURIs, s.cfg.ExtURIs):
		return refuse(2103, "Unimplemented extension")
	case !slices.Contains(s.cfg.Langs, strings.TrimSpace(l.Lang)):
		return refuse(2102, "Unimplemented option")
	case l.ClID != s.cfg.ClientID || l.Pw != s.password:
		return refuse(2200, "Authentication error")
	case s.cfg.MaxSessions > 0 && s.stats.Sessions >= s.cfg.MaxSessions:
		return refuse(2502, "Session limit exceeded; server closing connection")
	}
	if l.NewPW != nil {
		s.password = *l.NewPW
	}
	c.loggedIn = true
	c.login = Login{
		ClientID: l.ClID, Version: strings.TrimSpace(l.Version), Lang: strings.TrimSpace(l.Lang),
		ObjURIs: slices.Clone(l.ObjURIs), ExtURIs: slices.Clone(l.ExtURIs), NewPassword: l.NewPW != nil,
	}
	s.logins = append(s.logins, c.login)
	s.stats.Logins++
	s.stats.Sessions++
	s.stats.MaxSessions = max(s.stats.MaxSessions, s.stats.Sessions)
	return answer{frame: s.resultLocked(1000, "Command completed successfully", cmd.ClTRID, "", "")}
}

// subset reports whether every value of got is in offered.
func subset(got, offered []string) bool {
	for _, g := range got {
		if !slices.Contains(offered, strings.TrimSpace(g)) {
			return false
		}
	}
	return true
}

// object runs an object command, applying the server's faults around it.
func (s *Server) object(ctx context.Context, c *conn, cmd *commandElem, run func() answer) answer {
	s.mu.Lock()
	s.stats.Commands++
	c.commands++
	closeAfter := s.closeAfter > 0 && c.commands >= s.closeAfter
	if s.answerNext > 0 {
		s.answerNext--
		code := s.answerCode
		s.mu.Unlock()
		return answer{frame: s.result(code, "Scripted answer", cmd.ClTRID, "", ""), close: code >= 2500 || closeAfter}
	}
	drop := s.dropNext > 0
	if drop {
		s.dropNext--
	}
	s.mu.Unlock()

	if !slices.Contains(c.login.ObjURIs, nsDomain) {
		return answer{frame: s.result(2307, "Unimplemented object service", cmd.ClTRID, "", "")}
	}
	a := run()
	if ctx.Err() != nil || drop {
		return answer{silent: true}
	}
	a.close = a.close || closeAfter
	return a
}

// domainInfo answers <domain:info> from the backend.
func (s *Server) domainInfo(ctx context.Context, c *conn, cmd *commandElem) answer {
	name := strings.TrimSpace(cmd.Info.Domain.Name)
	d, ok := s.cfg.Backend.DomainByName(name)
	if !ok {
		return answer{frame: s.result(2303, "Object does not exist", cmd.ClTRID, "", "")}
	}
	r, err := s.cfg.Backend.ReadStatus(ctx, d)
	if err != nil {
		return s.readFault(ctx, cmd, err)
	}
	statuses, rgp, exists := eppStatuses(r.Raw)
	if !exists {
		return answer{frame: s.result(2303, "Object does not exist", cmd.ClTRID, r.RequestID, "")}
	}
	var b strings.Builder
	b.WriteString(`<resData><domain:infData xmlns:domain="` + nsDomain + `"><domain:name>`)
	escape(&b, name)
	b.WriteString(`</domain:name><domain:roid>`)
	escape(&b, strings.ToUpper(strings.ReplaceAll(d.ID, "_", ""))+"-EPPTEST")
	b.WriteString(`</domain:roid>`)
	for _, st := range statuses {
		b.WriteString(`<domain:status s="`)
		escape(&b, st)
		b.WriteString(`"/>`)
	}
	if r.Sponsor != "" {
		b.WriteString(`<domain:clID>`)
		escape(&b, r.Sponsor)
		b.WriteString(`</domain:clID>`)
	}
	if !r.ExpiresAt.IsZero() {
		b.WriteString(`<domain:exDate>` + r.ExpiresAt.UTC().Format("2006-01-02T15:04:05.0Z") + `</domain:exDate>`)
	}
	b.WriteString(`</domain:infData></resData>`)
	if len(rgp) > 0 && slices.Contains(c.login.ExtURIs, nsRGP) {
		b.WriteString(`<extension><rgp:infData xmlns:rgp="` + nsRGP + `">`)
		for _, st := range rgp {
			b.WriteString(`<rgp:rgpStatus s="` + st + `"/>`)
		}
		b.WriteString(`</rgp:infData></extension>`)
	}
	return answer{frame: s.result(1000, "Command completed successfully", cmd.ClTRID, r.RequestID, b.String())}
}

// eppStatuses translates a simulator status into EPP domain statuses and
// RGP statuses; exists is false for a domain the registry no longer has.
func eppStatuses(raw string) (statuses, rgp []string, exists bool) {
	switch raw {
	case "active":
		return []string{"ok"}, nil, true
	case "suspended":
		return []string{"clientHold"}, nil, true
	case "pending":
		return []string{"pendingCreate"}, nil, true
	case "expired":
		return []string{"pendingDelete"}, []string{"redemptionPeriod"}, true
	case "terminated", "cancelled":
		return nil, nil, false
	default:
		return []string{raw}, nil, true
	}
}

// readFault answers a failed backend read of a domain.
func (s *Server) readFault(ctx context.Context, cmd *commandElem, err error) answer {
	var apiErr *registrar.APIError
	switch {
	case ctx.Err() != nil:
		return answer{silent: true}
	case errors.As(err, &apiErr):
		return s.httpFault(cmd, apiErr, map[int]int{400: 2005, 404: 2303})
	case errors.Is(err, registrar.ErrBadResponse) && strings.Contains(err.Error(), "size limit"):
		return answer{frame: s.huge(), close: true}
	case errors.Is(err, registrar.ErrBadResponse):
		return answer{frame: []byte(`<?xml version="1.0" encoding="UTF-8"?><epp xmlns="` + nsEPP + `"><response><result code="1000"><msg>Command compl`), close: true}
	default:
		return answer{frame: s.result(2400, "Command failed", cmd.ClTRID, "", "")}
	}
}

// transferFault answers a failed backend transfer read or reset; codes
// gives the command's own translations of 400, 404 and 409.
func (s *Server) transferFault(ctx context.Context, cmd *commandElem, err error, codes map[int]int) answer {
	var apiErr *registrar.APIError
	switch {
	case ctx.Err() != nil:
		return answer{silent: true}
	case errors.As(err, &apiErr):
		return s.httpFault(cmd, apiErr, codes)
	default:
		// The simulator's "unexpected status" of a Hostway answer the
		// adapter would not expect: its text holds the quoted status.
		status := 418
		if _, after, ok := strings.Cut(err.Error(), `unexpected status "`); ok && len(after) >= 3 {
			if n, err := strconv.Atoi(after[:3]); err == nil {
				status = n
			}
		}
		return answer{frame: s.result(3000+status, "Unexpected answer", cmd.ClTRID, "", "")}
	}
}

// httpFault translates a simulator HTTP fault into an EPP result; codes
// gives the command's own translations of some statuses.
func (s *Server) httpFault(cmd *commandElem, e *registrar.APIError, codes map[int]int) answer {
	if code, ok := codes[e.Status]; ok {
		return answer{frame: s.result(code, codeMessages[code], cmd.ClTRID, e.RequestID, "")}
	}
	switch {
	case e.Status == 401:
		return answer{frame: s.result(2501, codeMessages[2501], cmd.ClTRID, e.RequestID, ""), close: true}
	case e.Status == 403:
		return answer{frame: s.result(2201, codeMessages[2201], cmd.ClTRID, e.RequestID, "")}
	case e.Status == 429:
		return answer{frame: s.result(2502, codeMessages[2502], cmd.ClTRID, e.RequestID, ""), close: true}
	case e.Status >= 500:
		return answer{frame: s.result(2400, codeMessages[2400], cmd.ClTRID, e.RequestID, "")}
	default:
		return answer{frame: s.result(3000+e.Status, "Unexpected answer", cmd.ClTRID, e.RequestID, "")}
	}
}

// codeMessages are the RFC 5730 texts of the result codes the server sends.
var codeMessages = map[int]string{
	2005: "Parameter value syntax error",
	2106: "Object is not eligible for transfer",
	2201: "Authorization error",
	2202: "Invalid authorization information",
	2301: "Object not pending transfer",
	2303: "Object does not exist",
	2304: "Object status prohibits operation",
	2400: "Command failed",
	2501: "Authentication error; server closing connection",
	2502: "Session limit exceeded; server closing connection",
}

// transferStatuses gives the trStatus of each transfer state.
var transferStatuses = map[registrar.TransferState]string{
	registrar.TransferPending:   "pending",
	registrar.TransferBlocked:   "clientRejected",
	registrar.TransferCompleted: "clientApproved",
	registrar.TransferCancelled: "clientCancelled",
	registrar.TransferUnknown:   "unknown",
}

// transferQuery answers <transfer op="query"> from the backend.
func (s *Server) transferQuery(ctx context.Context, c *conn, cmd *commandElem) answer {
	name := strings.TrimSpace(cmd.Transfer.Domain.Name)
	st, err := s.cfg.Backend.ReadTransferStatus(ctx, registrar.Transfer{Account: c.login.ClientID, DomainName: name})
	if err != nil {
		return s.transferFault(ctx, cmd, err, map[int]int{400: 2005, 404: 2301, 409: 2304})
	}
	return answer{frame: s.result(1000, "Command completed successfully", cmd.ClTRID, st.RequestID, s.trnData(c, name, transferStatuses[st.State]))}
}

// transferRequest answers <transfer op="request"> from the backend.
func (s *Server) transferRequest(ctx context.Context, c *conn, cmd *commandElem) answer {
	d := cmd.Transfer.Domain
	name := strings.TrimSpace(d.Name)
	if d.AuthInfo == nil {
		return answer{frame: s.result(2003, "Required parameter missing", cmd.ClTRID, "", "")}
	}
	r, err := s.cfg.Backend.ResetTransfer(ctx, registrar.Transfer{Account: c.login.ClientID, DomainName: name}, *d.AuthInfo)
	if err != nil {
		return s.transferFault(ctx, cmd, err, map[int]int{400: 2202, 404: 2303, 409: 2106})
	}
	code, msg := 1000, "Command completed successfully"
	if r.Status == 202 {
		code, msg = 1001, "Command completed successfully; action pending"
	}
	return answer{frame: s.result(code, msg, cmd.ClTRID, r.RequestID, s.trnData(c, name, "pending"))}
}

// trnData is a <domain:trnData> for name with trStatus.
func (s *Server) trnData(c *conn, name, trStatus string) string {
	now := time.Now().UTC().Format(time.RFC3339)
	var b strings.Builder
	b.WriteString(`<resData><domain:trnData xmlns:domain="` + nsDomain + `"><domain:name>`)
	escape(&b, name)
	b.WriteString(`</domain:name><domain:trStatus>`)
	escape(&b, trStatus)
	b.WriteString(`</domain:trStatus><domain:reID>`)
	escape(&b, c.login.ClientID)
	b.WriteString(`</domain:reID><domain:reDate>` + now + `</domain:reDate><domain:acID>losing-registrar</domain:acID><domain:acDate>` + now + `</domain:acDate></domain:trnData></resData>`)
	return b.String()
}

// greeting is the server's <greeting>.
func (s *Server) greeting() []byte {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8" standalone="no"?><epp xmlns="` + nsEPP + `"><greeting><svID>`)
	escape(&b, s.cfg.ServerID)
	b.WriteString(`</svID><svDate>` + time.Now().UTC().Format(time.RFC3339) + `</svDate><svcMenu><version>1.0</version>`)
	for _, l := range s.cfg.Langs {
		b.WriteString(`<lang>`)
		escape(&b, l)
		b.WriteString(`</lang>`)
	}
	for _, u := range s.cfg.ObjURIs {
		b.WriteString(`<objURI>`)
		escape(&b, u)
		b.WriteString(`</objURI>`)
	}
	if len(s.cfg.ExtURIs) > 0 {
		b.WriteString(`<svcExtension>`)
		for _, u := range s.cfg.ExtURIs {
			b.WriteString(`<extURI>`)
			escape(&b, u)
			b.WriteString(`</extURI>`)
		}
		b.WriteString(`</svcExtension>`)
	}
	b.WriteString(`</svcMenu><dcp><access><all/></access><statement><purpose><admin/><prov/></purpose><recipient><ours/></recipient><retention><stated/></retention></statement></dcp></greeting></epp>`)
	return []byte(b.String())
}

// result is a <response> with one result, the clTRID echoed, an svTRID (a
// fresh one when empty) and optional resData and extension markup.
func (s *Server) result(code int, msg, clTRID, svTRID, body string) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.resultLocked(code, msg, clTRID, svTRID, body)
}

// resultLocked is result with s.mu held.
func (s *Server) resultLocked(code int, msg, clTRID, svTRID, body string) []byte {
	if svTRID == "" {
		s.svTRIDs++
		svTRID = "epptest-" + strconv.Itoa(s.svTRIDs)
	}
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8" standalone="no"?><epp xmlns="` + nsEPP + `"><response><result code="` + strconv.Itoa(code) + `"><msg>`)
	escape(&b, msg)
	b.WriteString(`</msg></result>`)
	b.WriteString(body)
	b.WriteString(`<trID>`)
	if clTRID != "" {
		b.WriteString(`<clTRID>`)
		escape(&b, clTRID)
		b.WriteString(`</clTRID>`)
	}
	b.WriteString(`<svTRID>`)
	escape(&b, svTRID)
	b.WriteString(`</svTRID></trID></response></epp>`)
	return []byte(b.String())
}

// huge is a well-formed response of about [Config.HugeBytes] bytes.
func (s *Server) huge() []byte {
	head := `<?xml version="1.0" encoding="UTF-8"?><epp xmlns="` + nsEPP + `"><response><result code="1000"><msg>`
	tail := `</msg></result><trID><svTRID>huge</svTRID></trID></response></epp>`
	return append(append([]byte(head), bytes.Repeat([]byte("x"), max(s.cfg.HugeBytes-len(head)-len(tail), 0))...), tail...)
}

// escape writes s as XML character data.
func escape(b *strings.Builder, s string) {
	_ = xml.EscapeText(b, []byte(s))
}
