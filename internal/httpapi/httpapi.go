package httpapi

import (
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/base32"
	"errors"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"
	"go.uber.org/zap"
	"golang.org/x/time/rate"

	"github.com/regsync/regsync/internal/secret"
	"github.com/regsync/regsync/store"
)

// The defaults of [Config].
const (
	DefaultSyncTimeout = 30 * time.Second
	DefaultRateLimit   = rate.Limit(5)
	DefaultRateBurst   = 10
)

// requestTimeout bounds a request's own work, on top of the wait for a
// status sync.
const requestTimeout = 10 * time.Second

// maxBody is the largest request body read, in bytes.
const maxBody = 1024

// unmatchedRoute is the route label of requests no pattern matches.
const unmatchedRoute = "unmatched"

//go:embed openapi.json
var openAPIDocument []byte

// Config configures the API.
type Config struct {
	// Store is the database the API reads and writes; required.
	Store *store.Store
	// Jobs is the River client whose jobs' outputs the status sync waits
	// for; required. An insert-only client will do.
	Jobs *river.Client[pgx.Tx]
	// Keyring seals a supplied authInfo. When nil, a transfer reset that
	// supplies one answers 503 auth_info_unavailable.
	Keyring *secret.Keyring
	// Logger receives one line per request and the errors; nil discards.
	Logger *zap.Logger
	// Registerer receives the API's metrics; required.
	Registerer prometheus.Registerer
	// SyncTimeout is how long a status sync request waits for the sync's
	// result before answering 504 sync_timeout; DefaultSyncTimeout when
	// zero.
	SyncTimeout time.Duration
	// RateLimit and RateBurst limit the requests of each API key, per
	// second and at once; DefaultRateLimit and DefaultRateBurst when zero.
	RateLimit rate.Limit
	RateBurst int
	// Now is the clock of rate limits and problem timestamps; time.Now
	// when nil.
	Now func() time.Time
}

// api serves the routes.
type api struct {
	store       *store.Store
	jobs        *river.Client[pgx.Tx]
	keyring     *secret.Keyring
	logger      *zap.Logger
	syncTimeout time.Duration
	rateLimit   rate.Limit
	rateBurst   int
	now         func() time.Time
	mux         *http.ServeMux

	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec

	limitersMu sync.Mutex
	limiters   map[string]*rate.Limiter // by API key id
}

// New returns the API's handler. Mount it at the root of its own server:
// its routes are absolute paths.
func New(cfg Config) (http.Handler, error) {
	switch {
	case cfg.Store == nil:
		return nil, errors.New("httpapi: no store")
	case cfg.Jobs == nil:
		return nil, errors.New("httpapi: no job client")
	case cfg.Registerer == nil:
		return nil, errors.New("httpapi: no metrics registerer")
	case cfg.SyncTimeout < 0, cfg.RateLimit < 0, cfg.RateBurst < 0:
		return nil, errors.New("httpapi: negative sync timeout or rate limit")
	}
	a := &api{
		store:       cfg.Store,
		jobs:        cfg.Jobs,
		keyring:     cfg.Keyring,
		logger:      cfg.Logger,
		syncTimeout: cfg.SyncTimeout,
		rateLimit:   cfg.RateLimit,
		rateBurst:   cfg.RateBurst,
		now:         cfg.Now,
		mux:         http.NewServeMux(),
		limiters:    map[string]*rate.Limiter{},
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "regsync_http_requests_total",
			Help: "Requests to the HTTP API by route (the pattern matched, or unmatched) and status code.",
		}, []string{"route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "regsync_http_request_duration_seconds",
			Help:    "Time to answer a request to the HTTP API, by route.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"route"}),
	}
	if a.logger == nil {
		a.logger = zap.NewNop()
	}
	if a.syncTimeout == 0 {
		a.syncTimeout = DefaultSyncTimeout
	}
	if a.rateLimit == 0 {
		a.rateLimit = DefaultRateLimit
	}
	if a.rateBurst == 0 {
		a.rateBurst = DefaultRateBurst
	}
	if a.now == nil {
		a.now = time.Now
	}
	for _, c := range []prometheus.Collector{a.requests, a.duration} {
		if err := cfg.Registerer.Register(c); err != nil {
			return nil, errors.Join(errors.New("httpapi: register metrics"), err)
		}
	}
	a.mux.Handle("POST /api/v2/domains/{id}/actions/status-sync", a.authorize(store.ScopeReadDomains, a.statusSync))
	a.mux.Handle("PUT /accounts/{accountNumber}/domains/transfers/{domainName}", a.authorize(store.ScopeWriteTransfers, a.resetTransfer))
	a.mux.HandleFunc("GET /api/openapi.json", a.openAPI)
	return a, nil
}

// request is what the API knows of the request it is answering.
type request struct {
	id string
	// logger names the request id, and the API key once authenticated.
	logger *zap.Logger
	// code is the problem code answered, if any.
	code string
}

type requestKey struct{}

// requestOf returns the request the API is answering with r, which
// ServeHTTP puts in every request's context.
func requestOf(r *http.Request) *request {
	req, _ := r.Context().Value(requestKey{}).(*request)
	return req
}

// requestIDEncoding writes request ids: lower-case base32, no padding.
var requestIDEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// newRequestID returns req_ and 26 random lower-case base32 characters.
func newRequestID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return "req_" + requestIDEncoding.EncodeToString(b)
}

// ServeHTTP gives the request an id, a deadline and a logger, routes it,
// answers a problem when no route matches, and counts and logs it.
func (a *api) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	req := &request{id: newRequestID()}
	req.logger = a.logger.With(zap.String("request_id", req.id))
	w.Header().Set("X-Request-Id", req.id)
	ctx, cancel := context.WithTimeout(context.WithValue(r.Context(), requestKey{}, req), a.syncTimeout+requestTimeout)
	defer cancel()
	r = r.WithContext(ctx)
	sw := &statusWriter{ResponseWriter: w}

	route := unmatchedRoute
	if h, pattern := a.mux.Handler(r); pattern == "" {
		a.unmatched(sw, r, h)
	} else {
		route = pattern
		a.mux.ServeHTTP(sw, r)
	}

	code := sw.status
	if code == 0 {
		code = http.StatusOK
	}
	elapsed := time.Since(start)
	a.requests.WithLabelValues(route, strconv.Itoa(code)).Inc()
	a.duration.WithLabelValues(route).Observe(elapsed.Seconds())
	fields := []zap.Field{
		zap.String("method", r.Method), zap.String("route", route), zap.String("path", r.URL.EscapedPath()),
		zap.Int("status", code), zap.Duration("duration", elapsed),
	}
	if req.code != "" {
		fields = append(fields, zap.String("problem", req.code))
	}
	req.logger.Info("request", fields...)
}

// unmatched answers a request no route matches with a problem: 405 when
// the path exists for other methods, else 404. h is the mux's own answer,
// consulted for its status and Allow header.
func (a *api) unmatched(w http.ResponseWriter, r *http.Request, h http.Handler) {
	probe := &headerProbe{header: http.Header{}}
	h.ServeHTTP(probe, r)
	if probe.status == http.StatusMethodNotAllowed {
		w.Header().Set("Allow", probe.header.Get("Allow"))
		a.problem(w, r, codeMethodNotAllowed, "This path does not take the "+r.Method+" method.", nil)
		return
	}
	a.problem(w, r, codeNotFound, "No such path.", nil)
}

// headerProbe records a handler's status and headers and drops its body.
type headerProbe struct {
	header http.Header
	status int
}

func (p *headerProbe) Header() http.Header         { return p.header }
func (p *headerProbe) Write(b []byte) (int, error) { return len(b), nil }
func (p *headerProbe) WriteHeader(status int)      { p.status = status }

// statusWriter records the status code written.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// openAPI serves the OpenAPI document of the API.
func (a *api) openAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(openAPIDocument)
}
