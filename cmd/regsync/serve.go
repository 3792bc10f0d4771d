package main

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/riverqueue/river"
	"go.uber.org/zap"
	"go.uber.org/zap/exp/zapslog"
	"riverqueue.com/riverui"

	"github.com/regsync/regsync/internal/envconfig"
	"github.com/regsync/regsync/internal/httpapi"
	"github.com/regsync/regsync/internal/secret"
	"github.com/regsync/regsync/registrar"
	"github.com/regsync/regsync/registrar/factory"
	"github.com/regsync/regsync/store"
	"github.com/regsync/regsync/worker"
)

func runServe(ctx context.Context, c *cli, args []string) error {
	fs := c.flagSet("serve", "", "Run the status-sync workers and, on the elected leader, the periodic sweep; serve /metrics, /healthz and /readyz")
	common := c.commonFlags(fs)
	cfg := worker.DefaultConfig()
	c.workerFlags(fs, &cfg)
	httpAddr := fs.String("http-addr", envOr(c.getenv, "REGSYNC_HTTP_ADDR", "127.0.0.1:9464"), "address of the metrics and health endpoints (env REGSYNC_HTTP_ADDR)")
	names := c.registrarsFlag(fs)
	limits := c.rateLimitsFlag(fs)
	apiAddr := fs.String("api-addr", c.getenv("REGSYNC_API_ADDR"), "serve the HTTP API (status sync, transfer reset) on this address; off when empty (env REGSYNC_API_ADDR)")
	apiSyncTimeout := httpapi.DefaultSyncTimeout
	c.durationFlag(fs, &apiSyncTimeout, "api-sync-timeout", "REGSYNC_API_SYNC_TIMEOUT", "how long the API's status sync waits for the job's outcome before answering 504 sync_timeout")
	jobUIPrefix := fs.String("job-ui-prefix", c.getenv("REGSYNC_JOB_UI_PREFIX"), "serve River's job UI under this path on --http-addr, e.g. /riverui, behind basic auth with REGSYNC_JOB_UI_USER (default regsync) and REGSYNC_JOB_UI_PASSWORD or REGSYNC_JOB_UI_PASSWORD_FILE; off when empty (env REGSYNC_JOB_UI_PREFIX)")
	if err := c.parse(fs, args, 0); err != nil {
		return err
	}
	logger := c.logger(common)
	defer func() { _ = logger.Sync() }()

	adapters, err := c.adapters(*names)
	if err != nil {
		return err
	}
	defer func() { _ = factory.Close(adapters) }()
	pool, err := connect(ctx, common)
	if err != nil {
		return err
	}
	defer pool.Close()

	keyring, err := c.keyring()
	if err != nil {
		return err
	}
	if keyring == nil {
		logger.Warn("no secret key configured (REGSYNC_SECRET_KEY): transfer retries cannot send a new authInfo and webhook deliveries cannot be signed")
	}
	reg := newRegistry()
	st := store.New(pool)
	if err := st.SetRateLimits(ctx, *limits); err != nil {
		return err
	}
	canReindex, err := st.CanReindexJobs(ctx)
	if err != nil {
		return err
	}
	if !canReindex {
		cfg.SkipJobReindex = true
		logger.Info("River's nightly reindex of its job table is off: this database user may not reindex it; reindex as regsync_migrator instead (README, Database roles)")
	}
	svc, err := newService(st, adapters, keyring, cfg, reg, logger)
	if err != nil {
		return err
	}
	if *jobUIPrefix != "" {
		if err := svc.mountJobUI(ctx, c, *jobUIPrefix, logger); err != nil {
			return err
		}
	}
	if *apiAddr != "" {
		apiListener, err := new(net.ListenConfig).Listen(ctx, "tcp", *apiAddr)
		if err != nil {
			return fmt.Errorf("listen on %s: %w", *apiAddr, err)
		}
		if err := svc.mountAPI(apiListener, st, keyring, apiSyncTimeout, logger); err != nil {
			return err
		}
		logger.Info("serving the HTTP API", zap.String("api_addr", apiListener.Addr().String()))
	}
	listener, err := new(net.ListenConfig).Listen(ctx, "tcp", *httpAddr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", *httpAddr, err)
	}
	logger.Info("serving", zap.String("http_addr", listener.Addr().String()), zap.Strings("registrars", strings.Split(*names, ",")))
	return svc.serve(ctx, listener, logger)
}

// service is a running worker with its HTTP endpoints.
type service struct {
	pool   *pgxpool.Pool
	client *river.Client[pgx.Tx]
	reg    *prometheus.Registry
	ready  atomic.Bool
	// jobUI is River's job UI with its path prefix, when mounted.
	jobUI       http.Handler
	jobUIPrefix string
	// api serves the HTTP API on apiListener, when mounted.
	api         *http.Server
	apiListener net.Listener
}

// newRegistry returns a registry with the Go and process collectors.
func newRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// newService wires the syncer, retrier, metrics and River client around
// the process's one store. Each adapter is wrapped once with the rate
// limits shared through the database and the metrics. keyring may be nil: retries that need to
// send a stored authInfo then fail with a clear error.
func newService(st *store.Store, adapters []registrar.Named, keyring *secret.Keyring, cfg worker.Config, reg *prometheus.Registry, logger *zap.Logger) (*service, error) {
	metrics := worker.NewMetrics(reg)
	wrapped := worker.NewAdapters(adapters, worker.NewRateLimiter(st, cfg.RateLimitWait(), metrics), metrics)
	metrics.Init(wrapped)
	reg.MustRegister(worker.NewDatabaseCollector(st, 5*time.Second))
	syncer, err := worker.NewSyncer(st, wrapped, cfg.Sync, metrics)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errUsage, err)
	}
	retrier, err := worker.NewRetrier(st, wrapped, keyring, cfg.Transfer, metrics)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errUsage, err)
	}
	client, err := worker.NewClient(st, cfg, syncer, retrier, keyring, metrics, logger)
	if err != nil {
		return nil, err
	}
	return &service{pool: st.Pool(), client: client, reg: reg}, nil
}

// handler serves /metrics, /healthz (the process is up) and /readyz (the
// workers run and the database answers).
func (s *service) handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{}))
	if s.jobUI != nil {
		mux.Handle(s.jobUIPrefix+"/", s.jobUI)
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if !s.ready.Load() {
			http.Error(w, "workers not running", http.StatusServiceUnavailable)
			return
		}
		if err := s.pool.Ping(ctx); err != nil {
			http.Error(w, "database unreachable", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	return mux
}

// mountJobUI serves River's job UI under prefix, behind basic auth.
func (s *service) mountJobUI(ctx context.Context, c *cli, prefix string, logger *zap.Logger) error {
	password, err := envconfig.Secret(c.getenv, "REGSYNC_JOB_UI_PASSWORD")
	if err != nil {
		return fmt.Errorf("%w: the job UI needs a password: %v", errUsage, err)
	}
	user := envOr(c.getenv, "REGSYNC_JOB_UI_USER", "regsync")
	ui, err := riverui.NewHandler(&riverui.HandlerOpts{
		Endpoints: riverui.NewEndpoints(s.client, nil),
		Logger:    slog.New(zapslog.NewHandler(logger.Core(), zapslog.WithName("riverui"))),
		Prefix:    prefix,
	})
	if err != nil {
		return fmt.Errorf("job UI: %w", err)
	}
	if err := ui.Start(ctx); err != nil {
		return fmt.Errorf("job UI: %w", err)
	}
	s.jobUI = basicAuth(ui, user, password)
	s.jobUIPrefix = riverui.NormalizePathPrefix(prefix)
	return nil
}

// basicAuth lets through requests with the user and password, compared in
// constant time, and asks for them otherwise.
func basicAuth(next http.Handler, user, password string) http.Handler {
	wantUser, wantPassword := sha256.Sum256([]byte(user)), sha256.Sum256([]byte(password))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		gotUser, gotPassword := sha256.Sum256([]byte(u)), sha256.Sum256([]byte(p))
		if !ok || subtle.ConstantTimeCompare(gotUser[:], wantUser[:])&subtle.ConstantTimeCompare(gotPassword[:], wantPassword[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Basic realm="regsync jobs", charset="UTF-8"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// serve runs the workers, the metrics and health endpoints on listener
// unless it is nil, and the HTTP API when one is mounted, until ctx ends.
// Then it stops gracefully: the API stops taking requests, running jobs
// get a grace period to finish (jobs still running after it are cancelled
// and retried later), and the health endpoints go last.
func (s *service) serve(ctx context.Context, listener net.Listener, logger *zap.Logger) error {
	servers := []*http.Server{{Handler: s.handler(), ReadHeaderTimeout: 5 * time.Second}}
	listeners := []net.Listener{listener}
	if s.api != nil {
		servers = append(servers, s.api)
		listeners = append(listeners, s.apiListener)
	}
	serveErr := make(chan error, len(servers))
	for i, server := range servers {
		if listeners[i] != nil {
			go func() { serveErr <- server.Serve(listeners[i]) }()
		}
	}

	if err := s.client.Start(ctx); err != nil {
		for _, server := range servers {
			_ = server.Close()
		}
		return fmt.Errorf("start workers: %w", err)
	}
	s.ready.Store(true)

	var err error
	select {
	case <-ctx.Done():
		logger.Info("stopping: finishing running jobs")
	case err = <-serveErr:
		err = fmt.Errorf("http server: %w", err)
	}
	s.ready.Store(false)
	stopCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	shutdown := func(server *http.Server) {
		if shutdownErr := server.Shutdown(stopCtx); shutdownErr != nil && !errors.Is(shutdownErr, http.ErrServerClosed) {
			err = errors.Join(err, shutdownErr)
		}
	}
	for _, server := range servers[1:] {
		shutdown(server)
	}
	if stopErr := s.client.Stop(stopCtx); stopErr != nil {
		logger.Warn("jobs did not finish in time; cancelling them", zap.Error(stopErr))
		hardCtx, hardCancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer hardCancel()
		_ = s.client.StopAndCancel(hardCtx)
	}
	shutdown(servers[0])
	return err
}

// mountAPI serves regsync's HTTP API on listener.
func (s *service) mountAPI(listener net.Listener, st *store.Store, keyring *secret.Keyring, syncTimeout time.Duration, logger *zap.Logger) error {
	api, err := httpapi.New(httpapi.Config{
		Store: st, Jobs: s.client, Keyring: keyring, Logger: logger.Named("api"), Registerer: s.reg, SyncTimeout: syncTimeout,
	})
	if err != nil {
		return fmt.Errorf("http api: %w", err)
	}
	s.api = &http.Server{
		Handler:           api,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      syncTimeout + 15*time.Second,
		IdleTimeout:       time.Minute,
	}
	s.apiListener = listener
	return nil
}

// registrarsFlag binds --registrars, env REGSYNC_REGISTRARS.
func (c *cli) registrarsFlag(fs *flag.FlagSet) *string {
	return fs.String("registrars", envOr(c.getenv, "REGSYNC_REGISTRARS", "hostup"),
		"comma-separated registrar adapters to load: "+strings.Join(factory.Names(), ", ")+" (env REGSYNC_REGISTRARS)")
}

// adapters builds the comma-separated registrar adapters, each configured
// from its REGSYNC_<NAME>_* variables.
func (c *cli) adapters(names string) ([]registrar.Named, error) {
	adapters, err := factory.New(strings.Split(names, ","), c.getenv)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errUsage, err)
	}
	return adapters, nil
}

// rateLimitsFlag binds --rate-limits, env REGSYNC_RATE_LIMITS: comma-
// separated NAME=RATE[:BURST] entries, RATE requests per second shared by
// every process, BURST defaulting to RATE (at least 1).
func (c *cli) rateLimitsFlag(fs *flag.FlagSet) *[]store.RateLimit {
	limits := &rateLimits{}
	if v := c.getenv("REGSYNC_RATE_LIMITS"); v != "" {
		c.envErr("REGSYNC_RATE_LIMITS", limits.Set(v))
	}
	fs.Var(limits, "rate-limits", "per-registrar request limits shared by all processes, NAME=RATE[:BURST],... in requests per second (env REGSYNC_RATE_LIMITS)")
	return (*[]store.RateLimit)(limits)
}

// rateLimits is the value of --rate-limits.
type rateLimits []store.RateLimit

func (l *rateLimits) String() string {
	parts := make([]string, len(*l))
	for i, r := range *l {
		parts[i] = fmt.Sprintf("%s=%g:%g", r.Registrar, r.RequestsPerSecond, r.Burst)
	}
	return strings.Join(parts, ",")
}

func (l *rateLimits) Set(v string) error {
	var limits rateLimits
	for entry := range strings.SplitSeq(v, ",") {
		name, spec, ok := strings.Cut(strings.TrimSpace(entry), "=")
		rate, burst, hasBurst := strings.Cut(spec, ":")
		r, err := strconv.ParseFloat(rate, 64)
		if !ok || name == "" || err != nil || r <= 0 {
			return fmt.Errorf("rate limit %q: want NAME=RATE[:BURST] with a positive RATE", entry)
		}
		b := max(1, r)
		if hasBurst {
			if b, err = strconv.ParseFloat(burst, 64); err != nil || b < 1 {
				return fmt.Errorf("rate limit %q: BURST must be a number of at least 1", entry)
			}
		}
		limits = append(limits, store.RateLimit{Registrar: name, RequestsPerSecond: r, Burst: b})
	}
	*l = limits
	return nil
}

// keyring reads the secret keys from REGSYNC_SECRET_KEY or
// REGSYNC_SECRET_KEY_FILE; nil when neither is set.
func (c *cli) keyring() (*secret.Keyring, error) {
	spec, err := envconfig.OptionalSecret(c.getenv, "REGSYNC_SECRET_KEY")
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errUsage, err)
	}
	if spec == "" {
		return nil, nil
	}
	keyring, err := secret.ParseKeyring(spec)
	if err != nil {
		return nil, fmt.Errorf("%w: REGSYNC_SECRET_KEY: %v", errUsage, err)
	}
	return keyring, nil
}

func envOr(getenv func(string) string, key, fallback string) string {
	if v := getenv(key); v != "" {
		return v
	}
	return fallback
}
