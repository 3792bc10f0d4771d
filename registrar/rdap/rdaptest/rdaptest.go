// Package rdaptest is a local RDAP server for tests: it answers RFC 9083
// domain queries from a [sim.Sim], over TLS, shaped like real registries'
// answers, so that the rdap adapter can run the registrar conformance
// suite and its own tests against scripted domains.
//
// # Statuses
//
// The simulator is scripted in Hostup's vocabulary; the server translates
// each scripted status into the RDAP status values a registry would
// publish ([Statuses]):
//
//	active     "active"
//	suspended  "client hold"
//	expired    "pending delete", "redemption period"
//	pending    "pending create"
//	terminated, cancelled  not expressible: the registry no longer has the
//	           domain, so the server answers 404
//	anything else (fraud, unknown, weird) is passed through as it is
//
// A domain marked with [Server.Lock] also carries the client delete,
// transfer and update prohibitions, which replace "active" (RFC 5731 does
// not combine "ok" with other statuses).
//
// # Routes
//
//	GET /domain/{name}
//	    Reads the domain found with [sim.Sim.DomainByName] (name compared
//	    without regard to case) with [sim.Sim.ReadStatus]. A status answers
//	    200 with a domain object: rdapConformance, notices, links, the
//	    status values, events (registration, expiration when
//	    [sim.Sim.SetInfo] gave an expiry, last changed, last update of RDAP
//	    database), entities (a registrant, and the registrar when SetInfo
//	    gave a sponsor: a numeric sponsor is also its "IANA Registrar ID"
//	    public id, any other is only its handle; an abuse contact entity is
//	    nested in it), nameservers and secureDNS. An unknown name answers
//	    404. The simulator's faults answer as RDAP servers fail: HTTP
//	    faults with an RFC 9083 error body (errorCode, title, description)
//	    and, on 429, a Retry-After in whole seconds rounded up; !timeout
//	    never answers until the client gives up; !garbage answers 200 with
//	    truncated JSON; !huge answers 200 with a valid object of about
//	    4 MiB.
//	GET /hops/{n}/domain/{name}
//	    Redirects (302) to /hops/{n-1}/domain/{name}, and from n = 1 to
//	    /domain/{name}: a base URL of BaseURL()+"hops/3/" costs 3 redirects.
//	GET /loop/domain/{name}
//	    Redirects to itself, forever.
//	GET /insecure/domain/{name}
//	    Redirects to the same query on a plain-http twin of the server, which
//	    answers it as /domain/{name} does.
//	GET /bootstrap/dns.json
//	    Answers what [Server.SetBootstrap] set, or 404 before.
//
// Every answer carries an X-Request-Id header: the simulator's request id
// when it read the domain, else one of the server's own.
package rdaptest

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/regsync/regsync/registrar"
	"github.com/regsync/regsync/registrar/sim"
)

// hugeBodyBytes is roughly the size of a !huge answer, four times the rdap
// adapter's default response limit.
const hugeBodyBytes = 4 << 20

// locks are the status values a locked domain carries.
var locks = []string{"client delete prohibited", "client transfer prohibited", "client update prohibited"}

// Statuses returns the RDAP status values the server publishes for a
// status scripted in the simulator's vocabulary, and false when RDAP cannot
// express it (the server then answers 404), as the package documentation
// lists.
func Statuses(scripted string) ([]string, bool) {
	switch registrar.Status(scripted) {
	case registrar.StatusActive:
		return []string{"active"}, true
	case registrar.StatusSuspended:
		return []string{"client hold"}, true
	case registrar.StatusExpired:
		return []string{"pending delete", "redemption period"}, true
	case registrar.StatusPending:
		return []string{"pending create"}, true
	case registrar.StatusTerminated, registrar.StatusCancelled:
		return nil, false
	default:
		return []string{scripted}, true
	}
}

// Raw returns the raw status the rdap adapter reports for a scripted
// status of an unlocked domain: its [Statuses] joined with ", ". It fits
// registrartest.Options.Raw.
func Raw(scripted string) (string, bool) {
	values, ok := Statuses(scripted)
	return strings.Join(values, ", "), ok
}

// Server is a running RDAP test server. Its methods are safe for
// concurrent use.
type Server struct {
	// URL is the server's https URL, without a trailing slash.
	URL string

	backend *sim.Sim
	tls     *httptest.Server
	plain   *httptest.Server

	mu               sync.Mutex
	locked           map[string]bool
	bootstrap        []byte
	bootstrapStatus  int
	bootstrapFetches int
	requests         int
	ids              int
}

// NewServer starts a server answering from backend and closes it when the
// test ends.
func NewServer(tb testing.TB, backend *sim.Sim) *Server {
	tb.Helper()
	s := Start(backend)
	tb.Cleanup(s.Close)
	return s
}

// Start starts a server answering from backend; the caller must Close it.
func Start(backend *sim.Sim) *Server {
	s := &Server{backend: backend, locked: make(map[string]bool), bootstrapStatus: http.StatusNotFound}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /domain/{name}", s.domain)
	mux.HandleFunc("GET /hops/{n}/domain/{name}", s.hops)
	mux.HandleFunc("GET /loop/domain/{name}", s.loop)
	mux.HandleFunc("GET /insecure/domain/{name}", s.insecure)
	mux.HandleFunc("GET /bootstrap/dns.json", s.serveBootstrap)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.countRequest()
		s.writeError(w, http.StatusBadRequest, s.newRequestID(), "Unsupported query", "This server answers domain queries only.", 0)
	})
	s.tls = httptest.NewTLSServer(mux)
	s.plain = httptest.NewServer(mux)
	s.URL = s.tls.URL
	return s
}

// Close shuts the server down, waiting for requests in flight.
func (s *Server) Close() {
	s.tls.Close()
	s.plain.Close()
}

// BaseURL returns the server's RDAP base URL, with a trailing slash.
func (s *Server) BaseURL() string { return s.URL + "/" }

// Client returns an HTTP client that trusts the server's certificate.
func (s *Server) Client() *http.Client { return s.tls.Client() }

// Lock marks the domain name as carrying the client prohibitions.
func (s *Server) Lock(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.locked[strings.ToLower(name)] = true
}

// BootstrapURL returns the URL of the server's /bootstrap/dns.json.
func (s *Server) BootstrapURL() string { return s.URL + "/bootstrap/dns.json" }

// SetBootstrap makes /bootstrap/dns.json answer status with body.
func (s *Server) SetBootstrap(status int, body []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.bootstrapStatus, s.bootstrap = status, body
}

// BootstrapFetches returns how many times /bootstrap/dns.json was asked for.
func (s *Server) BootstrapFetches() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bootstrapFetches
}

// Requests returns how many requests the server received, over https and
// plain http, redirects included.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// Service is one service of an RFC 9224 bootstrap registry: entries (TLDs)
// and the base URLs that answer for them.
type Service struct {
	Entries []string
	URLs    []string
}

// BootstrapFile returns an RFC 9224 DNS bootstrap registry listing
// services, in IANA's layout.
func BootstrapFile(publication time.Time, services ...Service) []byte {
	type file struct {
		Description string       `json:"description"`
		Publication string       `json:"publication"`
		Services    [][][]string `json:"services"`
		Version     string       `json:"version"`
	}
	f := file{
		Description: "RDAP bootstrap file for Domain Name System registrations",
		Publication: publication.UTC().Format(time.RFC3339),
		Services:    [][][]string{},
		Version:     "1.0",
	}
	for _, svc := range services {
		f.Services = append(f.Services, [][]string{svc.Entries, svc.URLs})
	}
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		panic(err) // strings and slices always marshal
	}
	return b
}

// Bootstrap returns a bootstrap registry, published at publication, in
// which the server answers for tlds.
func (s *Server) Bootstrap(publication time.Time, tlds ...string) []byte {
	return BootstrapFile(publication, Service{Entries: tlds, URLs: []string{s.BaseURL()}})
}

// WriteBootstrap writes [Server.Bootstrap] for tlds to a file in a
// temporary directory of the test and returns its path.
func (s *Server) WriteBootstrap(tb testing.TB, tlds ...string) string {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "dns.json")
	if err := os.WriteFile(path, s.Bootstrap(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), tlds...), 0o600); err != nil {
		tb.Fatal(err)
	}
	return path
}

// newRequestID returns a fresh request id of the server's own, for answers
// that read no domain.
func (s *Server) newRequestID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ids++
	return "rdaptest_" + strconv.Itoa(s.ids)
}

// countRequest counts a request.
func (s *Server) countRequest() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests++
}

// hops serves /hops/{n}/domain/{name}.
func (s *Server) hops(w http.ResponseWriter, r *http.Request) {
	s.countRequest()
	n, err := strconv.Atoi(r.PathValue("n"))
	if err != nil || n < 1 {
		s.writeError(w, http.StatusBadRequest, s.newRequestID(), "Bad redirect count", "The hop count is not a positive number.", 0)
		return
	}
	target := "/domain/" + r.PathValue("name")
	if n > 1 {
		target = "/hops/" + strconv.Itoa(n-1) + target
	}
	http.Redirect(w, r, target, http.StatusFound) //nolint:gosec // G710: redirecting is this route's job, within the server
}

// loop serves /loop/domain/{name}.
func (s *Server) loop(w http.ResponseWriter, r *http.Request) {
	s.countRequest()
	http.Redirect(w, r, r.URL.Path, http.StatusFound) //nolint:gosec // G710: a redirect loop, on purpose
}

// insecure serves /insecure/domain/{name}.
func (s *Server) insecure(w http.ResponseWriter, r *http.Request) {
	s.countRequest()
	http.Redirect(w, r, s.plain.URL+"/domain/"+r.PathValue("name"), http.StatusMovedPermanently) //nolint:gosec // G710: to the server's own plain-http twin, on purpose
}

// serveBootstrap serves /bootstrap/dns.json.
func (s *Server) serveBootstrap(w http.ResponseWriter, r *http.Request) {
	s.countRequest()
	s.mu.Lock()
	s.bootstrapFetches++
	status, body := s.bootstrapStatus, s.bootstrap
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// domain serves /domain/{name}.
func (s *Server) domain(w http.ResponseWriter, r *http.Request) {
	s.countRequest()
	name := strings.ToLower(r.PathValue("name"))
	d, ok := s.backend.DomainByName(name)
	if !ok {
		s.writeError(w, http.StatusNotFound, s.newRequestID(), "Not Found", "The domain "+name+" is not registered here.", 0)
		return
	}
	reading, err := s.backend.ReadStatus(r.Context(), d)
	var apiErr *registrar.APIError
	switch {
	case r.Context().Err() != nil:
		return // !timeout, or the client gave up during the simulator's latency
	case errors.As(err, &apiErr):
		s.writeError(w, apiErr.Status, apiErr.RequestID, http.StatusText(apiErr.Status), apiErr.Detail, apiErr.RetryAfter)
		return
	case errors.Is(err, registrar.ErrBadResponse) && strings.Contains(err.Error(), "size limit"):
		// The simulator tells !huge from !garbage only by its words; the
		// tests of this package notice when they change.
		w.Header().Set("X-Request-Id", s.newRequestID())
		writeJSON(w, http.StatusOK, s.domainObject(name, d.ID, registrar.StatusReading{Raw: "active"}, strings.Repeat("x", hugeBodyBytes)))
		return
	case errors.Is(err, registrar.ErrBadResponse):
		w.Header().Set("X-Request-Id", s.newRequestID())
		w.Header().Set("Content-Type", "application/rdap+json")
		// Truncated on purpose: the body a broken server sends.
		_, _ = fmt.Fprintf(w, `{"objectClassName":"domain","ldhName":%q,"status":["act`, name) //nolint:gosec // G705: JSON for a test client, the name quoted
		return
	case err != nil:
		s.writeError(w, http.StatusInternalServerError, s.newRequestID(), "Internal Server Error", err.Error(), 0)
		return
	}
	if _, ok := Statuses(reading.Raw); !ok {
		s.writeError(w, http.StatusNotFound, reading.RequestID, "Not Found", "The domain "+name+" is no longer registered.", 0)
		return
	}
	w.Header().Set("X-Request-Id", reading.RequestID)
	writeJSON(w, http.StatusOK, s.domainObject(name, d.ID, reading, ""))
}

// writeError writes an RFC 9083 error answer.
func (s *Server) writeError(w http.ResponseWriter, status int, requestID, title, description string, retryAfter time.Duration) {
	w.Header().Set("X-Request-Id", requestID)
	if retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(retryAfter.Seconds()))))
	}
	writeJSON(w, status, errorObject{
		RDAPConformance: []string{"rdap_level_0"},
		ErrorCode:       status,
		Title:           title,
		Description:     []string{description},
		Notices:         notices(s.URL),
	})
}

// writeJSON writes v as an RDAP answer.
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/rdap+json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
