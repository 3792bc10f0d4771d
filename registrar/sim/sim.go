// Package sim is an in-process simulated registrar: deterministic,
// scriptable per domain and safe for concurrent use. Tests, the conformance
// suite and local demos use it in place of a real registrar, either directly
// as a [registrar.Registrar], [registrar.TransferResetter] and
// [registrar.TransferStatusReader], or over HTTP in Hostup's and Hostway's
// wire formats through [Handler].
//
// # Scripting
//
// [Sim.Script] gives a domain a list of entries. Successive reads of the
// domain return successive entries; after the last entry the last one
// repeats, or, when the script cycles, the list starts over (a flapping
// domain). An entry is either a raw status or a fault token.
//
// A raw status is any non-empty string not starting with "!", in Hostup's
// vocabulary: pending, active, suspended, terminated, cancelled, expired,
// fraud, unknown. It is mapped with [registrar.MapHostup], so "fraud" and
// values outside the vocabulary ("weird") read as [registrar.StatusUnknown]
// with the raw value kept.
//
// A fault token makes that read fail:
//
//	!timeout   the registrar never answers: the read blocks until ctx is done
//	           and fails wrapping [registrar.ErrUnavailable] and ctx.Err()
//	!400       invalid request    ([registrar.ErrInvalidRequest])
//	!401       credentials refused ([registrar.ErrUnauthorized])
//	!403       forbidden          ([registrar.ErrForbidden])
//	!404       domain not found   ([registrar.ErrNotFound])
//	!429       rate limited, Retry-After 1s ([registrar.ErrRateLimited])
//	!429:5s    rate limited with the given Retry-After (a Go duration)
//	!500 !502 !503  server errors ([registrar.ErrUnavailable])
//	!garbage   an answer that is not JSON ([registrar.ErrBadResponse])
//	!huge      an answer over the size limit ([registrar.ErrBadResponse])
//	!slow:4s:expired  the raw status given, answered after the given wait
//	           (a Go duration); a read whose ctx ends first fails like !timeout
//
// Hostile tokens answer successfully with text no one should store as it
// is:
//
//	!nul       the raw status "act\x00ive" (a NUL byte, unrecognised), with a
//	           request ID holding invalid UTF-8 bytes
//	!hugefield a raw status of 300 KiB, inside the hostup adapter's size limit
//	!hugeerror a 503 whose detail is 300 KiB holding NUL bytes
//
// HTTP faults are [*registrar.APIError] values carrying the status, Hostup's
// stable error code (for example "not_found") and a request ID. Unknown
// tokens are rejected by [Sim.Script].
//
// A domain that was never scripted is unknown to the registrar: reading it
// fails like !404.
//
// [Sim.SetInfo] gives a domain the registry facts beside its status, its
// expiry date and sponsoring registrar, which every successful read then
// reports; [Sim.DomainByName] finds a scripted domain by name, for servers
// of protocols that address domains by name (EPP, RDAP).
//
// With [Config.FaultRate] above zero, each read of a scripted domain may
// instead fail with a random transient fault (!500, !502, !503 or !429),
// drawn from a generator seeded with [Config.Seed]; such a read does not
// advance the domain's script. The draws are deterministic for a given seed
// and order of reads.
//
// # Scripting transfers
//
// [Sim.ScriptTransfer] plays a Hostway-style registrar's transfer order for a
// domain: a list of reset answers and a list of status-read answers, each
// played in turn with the last one repeating. The order belongs to one
// account. Before the script is reached, the registrar answers an invalid
// request (the seed's "404 Bad Request") to a request with an empty account
// or domain name, or to a reset whose authInfo [registrar.ValidateAuthInfo]
// rejects; 404 to a domain with no scripted transfer; and 403 to a request
// naming another account. Those answers do not advance the script.
//
// A reset entry is an HTTP status or a token:
//
//	200 to 299   the reset is accepted; a non-empty authInfo is remembered,
//	             see [Sim.TransferAuthInfo]
//	400          invalid request        ([registrar.ErrInvalidRequest])
//	404bad       the seed's "404 Bad Request", the same invalid request
//	401          credentials refused    ([registrar.ErrUnauthorized])
//	403          another account's      ([registrar.ErrForbidden])
//	404          no pending transfer    ([registrar.ErrNotFound])
//	409          not resettable now     ([registrar.ErrConflict])
//	429          rate limited, no Retry-After ([registrar.ErrRateLimited])
//	!429         rate limited, Retry-After 1s
//	!429:5s      rate limited with the given Retry-After (a Go duration)
//	500 to 599   server errors          ([registrar.ErrUnavailable])
//	!timeout     the registrar never answers, as for status reads
//
// Any other status from 300 to 499 ("302", "418") is an answer the hostway
// adapter does not expect: an error wrapping [registrar.ErrBadResponse],
// never a success. A rejected or unanswered reset changes nothing at the
// registrar, which keeps the last authInfo it accepted.
//
// A status entry is a transfer state, answered with an eNom-style code that
// [registrar.MapEnomTransfer] maps back to it: pending (3), blocked (4),
// blocked:resettable (4, canBeReset true), completed (9), cancelled (10) or
// unknown (99); or any reset entry other than a 2xx status.
//
// The in-process errors are those the hostway adapter reports for the same
// answers over HTTP. [Config.Latency] applies to transfer requests too;
// [Config.FaultRate] does not.
package sim

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/regsync/regsync/registrar"
)

// Config configures a [Sim].
type Config struct {
	// Name is the adapter name the simulator reports and prefixes its errors
	// with; "sim" by default.
	Name string
	// Latency is added to every request; the wait ends early when ctx is
	// done.
	Latency time.Duration
	// FaultRate is the probability, from 0 to 1, that a read of a scripted
	// domain fails with a random transient fault.
	FaultRate float64
	// Seed seeds the generator of random faults, making them deterministic.
	Seed int64
}

// DefaultConfig returns a configuration with the name "sim", no latency and
// no random faults.
func DefaultConfig() Config {
	return Config{Name: "sim"}
}

// Validate reports the first invalid field of c.
func (c Config) Validate() error {
	switch {
	case c.Name == "":
		return errors.New("sim: name is empty")
	case c.Latency < 0:
		return fmt.Errorf("sim: latency %s is negative", c.Latency)
	case !(c.FaultRate >= 0 && c.FaultRate <= 1):
		return fmt.Errorf("sim: fault rate %v is not between 0 and 1", c.FaultRate)
	}
	return nil
}

// Sim is a simulated registrar. Its methods are safe for concurrent use.
type Sim struct {
	cfg Config

	mu          sync.Mutex
	rng         *rand.Rand
	domains     map[string]*script
	byName      map[string]string // domain name -> domain id
	info        map[string]DomainInfo
	reads       map[string]int
	transfers   map[string]*transferScript // by domain name
	resetCounts map[string]int             // by domain name
	requests    int
}

var _ registrar.Registrar = (*Sim)(nil)

// script is one domain's scripted answers and the index of the next one.
type script struct {
	name  string
	steps []step
	cycle bool
	next  int
}

// kind says what a step makes a read do.
type kind int

const (
	kindStatus    kind = iota // answer raw
	kindTimeout               // never answer
	kindHTTP                  // fail with an HTTP error answer
	kindGarbage               // answer something that is not JSON
	kindHuge                  // answer more than the size limit
	kindHugeError             // fail with a 503 whose detail is huge and holds NUL bytes
)

// step is one parsed script entry.
type step struct {
	kind       kind
	raw        string        // the raw status of a kindStatus step
	status     int           // the HTTP status of a kindHTTP step
	retryAfter time.Duration // the wait a 429 asks for
	delay      time.Duration // how long a kindStatus step takes to answer
	requestID  string        // a request ID to answer instead of a fresh one
}

// problem is how Hostup describes an HTTP error: its stable code and detail.
type problem struct {
	code   string
	detail string
}

// problems lists the HTTP faults a script may use.
var problems = map[int]problem{
	http.StatusBadRequest:          {"invalid_request", "The request failed validation."},
	http.StatusUnauthorized:        {"unauthorized", "Missing or invalid API key."},
	http.StatusForbidden:           {"forbidden", "The API key may not read this domain."},
	http.StatusNotFound:            {"not_found", "Domain not found."},
	http.StatusTooManyRequests:     {"rate_limited", "Too many requests."},
	http.StatusInternalServerError: {"internal_error", "Internal server error."},
	http.StatusBadGateway:          {"bad_gateway", "The registrar answered with an error."},
	http.StatusServiceUnavailable:  {"service_unavailable", "The service is temporarily unavailable."},
}

// randomFaults are the transient faults [Config.FaultRate] draws from.
var randomFaults = []step{
	{kind: kindHTTP, status: http.StatusInternalServerError},
	{kind: kindHTTP, status: http.StatusBadGateway},
	{kind: kindHTTP, status: http.StatusServiceUnavailable},
	{kind: kindHTTP, status: http.StatusTooManyRequests, retryAfter: time.Second},
}

// New returns a simulator with no scripted domains.
func New(cfg Config) (*Sim, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	seed := uint64(cfg.Seed) //nolint:gosec // G115: a seed's bits, not a quantity
	return &Sim{
		cfg:         cfg,
		rng:         rand.New(rand.NewPCG(seed, seed)),
		domains:     make(map[string]*script),
		byName:      make(map[string]string),
		info:        make(map[string]DomainInfo),
		reads:       make(map[string]int),
		transfers:   make(map[string]*transferScript),
		resetCounts: make(map[string]int),
	}, nil
}

// Name returns [Config.Name].
func (s *Sim) Name() string { return s.cfg.Name }

// Script sets what reads of the domain return, as described in the package
// documentation, replacing any earlier script and resetting the domain's
// read count. name is the domain name the HTTP handler reports.
func (s *Sim) Script(domainID, name string, entries []string, cycle bool) error {
	if domainID == "" {
		return errors.New("sim: script: domain id is empty")
	}
	if len(entries) == 0 {
		return fmt.Errorf("sim: script of %s: no entries", domainID)
	}
	steps := make([]step, len(entries))
	for i, e := range entries {
		st, err := parseEntry(e)
		if err != nil {
			return fmt.Errorf("sim: script of %s: entry %d: %w", domainID, i, err)
		}
		steps[i] = st
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.domains[domainID]; ok {
		delete(s.byName, old.name)
	}
	s.domains[domainID] = &script{name: name, steps: steps, cycle: cycle}
	if name != "" {
		s.byName[name] = domainID
	}
	s.reads[domainID] = 0
	return nil
}

// DomainInfo is what the registrar reports of a domain besides its status.
type DomainInfo struct {
	// ExpiresAt is the registration's expiry; zero reports none.
	ExpiresAt time.Time
	// Sponsor is the sponsoring registrar's id; empty reports none.
	Sponsor string
}

// SetInfo sets what successful reads of the domain report besides its
// status, replacing any earlier info.
func (s *Sim) SetInfo(domainID string, info DomainInfo) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.info[domainID] = info
}

// DomainByName returns the scripted domain with the given name.
func (s *Sim) DomainByName(name string) (registrar.Domain, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := s.byName[name]
	return registrar.Domain{ID: id, Name: name}, ok
}

// parseEntry parses one script entry.
func parseEntry(e string) (step, error) {
	token, ok := strings.CutPrefix(e, "!")
	switch {
	case e == "":
		return step{}, errors.New("empty entry")
	case !ok:
		return step{kind: kindStatus, raw: e}, nil
	case token == "timeout":
		return step{kind: kindTimeout}, nil
	case token == "garbage":
		return step{kind: kindGarbage}, nil
	case token == "huge":
		return step{kind: kindHuge}, nil
	case token == "nul":
		return step{kind: kindStatus, raw: "act\x00ive", requestID: "req\xff\xfe"}, nil
	case token == "hugefield":
		return step{kind: kindStatus, raw: strings.Repeat("x", hostileBytes)}, nil
	case token == "hugeerror":
		return step{kind: kindHugeError, status: http.StatusServiceUnavailable}, nil
	}
	if spec, ok := strings.CutPrefix(token, "slow:"); ok {
		wait, raw, ok := strings.Cut(spec, ":")
		delay, err := time.ParseDuration(wait)
		if !ok || raw == "" || err != nil || delay <= 0 {
			return step{}, fmt.Errorf("fault token %q: want !slow:DURATION:STATUS", e)
		}
		return step{kind: kindStatus, raw: raw, delay: delay}, nil
	}
	code, wait, hasWait := strings.Cut(token, ":")
	status, err := strconv.Atoi(code)
	if _, known := problems[status]; err != nil || !known || (hasWait && status != http.StatusTooManyRequests) {
		return step{}, fmt.Errorf("unknown fault token %q: want !timeout, !garbage, !huge, !slow:DURATION:STATUS, !nul, !hugefield, !hugeerror, !429[:duration] or one of !400 !401 !403 !404 !500 !502 !503", e)
	}
	st := step{kind: kindHTTP, status: status}
	if status == http.StatusTooManyRequests {
		st.retryAfter = time.Second
		if hasWait {
			st.retryAfter, err = time.ParseDuration(wait)
			if err != nil || st.retryAfter <= 0 {
				return step{}, fmt.Errorf("fault token %q: retry-after %q is not a positive duration", e, wait)
			}
		}
	}
	return st, nil
}

// Reads returns how many times the domain was read since it was last
// scripted, failed reads included.
func (s *Sim) Reads(domainID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reads[domainID]
}

// ReadStatus returns the domain's next scripted answer. A !timeout entry
// blocks until ctx is done, so callers must give it a deadline.
func (s *Sim) ReadStatus(ctx context.Context, domain registrar.Domain) (registrar.StatusReading, error) {
	r, err := s.read(ctx, domain.ID)
	if err != nil {
		return registrar.StatusReading{}, err
	}
	switch r.step.kind {
	case kindStatus:
		if err := sleepCtx(ctx, r.step.delay); err != nil {
			return registrar.StatusReading{}, fmt.Errorf("%s: read status of %s timed out: %w: %w", s.cfg.Name, domain.ID, registrar.ErrUnavailable, err)
		}
		return registrar.StatusReading{
			Raw: r.step.raw, Status: registrar.MapHostup(r.step.raw), RequestID: r.requestID,
			ExpiresAt: r.info.ExpiresAt, Sponsor: r.info.Sponsor,
		}, nil
	case kindTimeout:
		<-ctx.Done()
		return registrar.StatusReading{}, fmt.Errorf("%s: read status of %s timed out: %w: %w", s.cfg.Name, domain.ID, registrar.ErrUnavailable, ctx.Err())
	case kindHTTP:
		return registrar.StatusReading{}, s.apiError(r.step, r.requestID)
	case kindHugeError:
		apiErr := s.apiError(r.step, r.requestID)
		apiErr.Detail = hostileDetail()
		return registrar.StatusReading{}, apiErr
	case kindGarbage:
		return registrar.StatusReading{}, fmt.Errorf("%s: read status of %s: answer is not JSON: %w", s.cfg.Name, domain.ID, registrar.ErrBadResponse)
	default: // kindHuge
		return registrar.StatusReading{}, fmt.Errorf("%s: read status of %s: answer exceeds the size limit: %w", s.cfg.Name, domain.ID, registrar.ErrBadResponse)
	}
}

// apiError returns the error an HTTP fault step makes a read fail with.
func (s *Sim) apiError(st step, requestID string) *registrar.APIError {
	p := problems[st.status]
	return &registrar.APIError{
		Registrar:  s.cfg.Name,
		Status:     st.status,
		Code:       p.code,
		Detail:     p.detail,
		RequestID:  requestID,
		RetryAfter: st.retryAfter,
	}
}

// reading is what one read of a domain drew: the step to play, the domain
// name and the request ID of the answer.
type reading struct {
	step      step
	name      string
	info      DomainInfo
	requestID string
}

// read waits for the configured latency, counts the read and draws its step:
// a 404 for an unscripted domain, else a random fault or the next entry of
// the domain's script.
func (s *Sim) read(ctx context.Context, domainID string) (reading, error) {
	if err := s.wait(ctx, "read status of "+domainID); err != nil {
		return reading{}, err
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	s.reads[domainID]++
	r := reading{requestID: s.newRequestIDLocked(), info: s.info[domainID]}
	sc, ok := s.domains[domainID]
	switch {
	case !ok:
		r.step = step{kind: kindHTTP, status: http.StatusNotFound}
	case s.cfg.FaultRate > 0 && s.rng.Float64() < s.cfg.FaultRate:
		r.name = sc.name
		r.step = randomFaults[s.rng.IntN(len(randomFaults))]
	default:
		r.name = sc.name
		r.step = sc.steps[sc.next]
		switch {
		case sc.next < len(sc.steps)-1:
			sc.next++
		case sc.cycle:
			sc.next = 0
		}
	}
	if r.step.requestID != "" {
		r.requestID = r.step.requestID
	}
	return r, nil
}

// wait waits for the configured latency, failing like an unreachable
// registrar when ctx is done first; op names the request in the error.
func (s *Sim) wait(ctx context.Context, op string) error {
	if s.cfg.Latency <= 0 {
		return nil
	}
	timer := time.NewTimer(s.cfg.Latency)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%s: %s: %w: %w", s.cfg.Name, op, registrar.ErrUnavailable, ctx.Err())
	}
}

// hostileBytes is the size of the text of !hugefield and !hugeerror.
const hostileBytes = 300 << 10

// hostileDetail is the detail of a !hugeerror answer.
func hostileDetail() string {
	return strings.Repeat("down\x00", hostileBytes/5)
}

// sleepCtx waits d, or returns ctx's error when ctx ends first.
func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// newRequestID returns a fresh request ID, for answers that read no domain.
func (s *Sim) newRequestID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.newRequestIDLocked()
}

// newRequestIDLocked returns the next request ID; s.mu must be held.
func (s *Sim) newRequestIDLocked() string {
	s.requests++
	return "sim_" + strconv.Itoa(s.requests)
}
