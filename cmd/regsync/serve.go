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
	names := fs.String("registrars", envOr(c.getenv, "REGSYNC_REGISTRARS", "hostup"), "comma-separated registrar adapters to load: "+strings.Join(factory.Names(), ", ")+" (env REGSYNC_REGISTRARS)")
	limits := c.rateLimitsFlag(fs)
	jobUIPrefix := fs.String("job-ui-prefix", c.getenv("REGSYNC_JOB_UI_PREFIX"), "serve River's job UI under this path on --http-addr, e.g. /riverui, behind basic auth with REGSYNC_JOB_UI_USER (default regsync) and REGSYNC_JOB_UI_PASSWORD or REGSYNC_JOB_UI_PASSWORD_FILE; off when empty (env REGSYNC_JOB_UI_PREFIX)")
	if err := c.parse(fs, args, 0); err != nil {
		return err
	}
	logger := c.logger(common)
	defer func() { _ = logger.Sync() }()

	adapters, err := factory.New(strings.Split(*names, ","), c.getenv)
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
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
		logger.Warn("no secret key configured (REGSYNC_SECRET_KEY): transfer retries cannot send a new authInfo")
	}
	reg := newRegistry()
	if err := store.New(pool).SetRateLimits(ctx, *limits); err != nil {
		return err
	}
	svc, err := newService(pool, adapters, keyring, *limits, cfg, reg, logger)
	if err != nil {
		return err
	}
	if *jobUIPrefix != "" {
		if err := svc.mountJobUI(ctx, c, *jobUIPrefix, logger); err != nil {
			return err
		}
	}
	listener, err := net.Listen("tcp", *httpAddr)
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
}

// newRegistry returns a registry with the Go and process collectors.
func newRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// newService wires the store, syncer, retrier, metrics and River client.
// keyring may be nil: retries that need to send a stored authInfo then
// fail with a clear error.
func newService(pool *pgxpool.Pool, adapters map[string]registrar.Registrar, keyring *secret.Keyring, limits []store.RateLimit, cfg worker.Config, reg *prometheus.Registry, logger *zap.Logger) (*service, error) {
	metrics := worker.NewMetrics(reg)
	st := store.New(pool)
	limiter := worker.NewRateLimiter(st, limits, metrics)
	reg.MustRegister(worker.NewDatabaseCollector(st, 5*time.Second))
	syncer, err := worker.NewSyncer(st, adapters, cfg.Sync, limiter, metrics)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errUsage, err)
	}
	retrier, err := worker.NewRetrier(st, adapters, keyring, cfg.Transfer, limiter, metrics)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errUsage, err)
	}
	client, err := worker.NewClient(pool, cfg, syncer, retrier, metrics, logger)
	if err != nil {
		return nil, err
	}
	return &service{pool: pool, client: client, reg: reg}, nil
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
	password, err := factory.Secret(c.getenv, "REGSYNC_JOB_UI_PASSWORD")
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

// serve runs the workers, and the HTTP endpoints on listener unless it is
// nil, until ctx ends, then stops both gracefully: running jobs get a
// grace period to finish, and jobs still running after it are cancelled
// and retried later.
func (s *service) serve(ctx context.Context, listener net.Listener, logger *zap.Logger) error {
	server := &http.Server{Handler: s.handler(), ReadHeaderTimeout: 5 * time.Second}
	serveErr := make(chan error, 1)
	if listener != nil {
		go func() { serveErr <- server.Serve(listener) }()
	}

	if err := s.client.Start(ctx); err != nil {
		_ = server.Close()
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
	if stopErr := s.client.Stop(stopCtx); stopErr != nil {
		logger.Warn("jobs did not finish in time; cancelling them", zap.Error(stopErr))
		hardCtx, hardCancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer hardCancel()
		_ = s.client.StopAndCancel(hardCtx)
	}
	if shutdownErr := server.Shutdown(stopCtx); shutdownErr != nil && !errors.Is(shutdownErr, http.ErrServerClosed) {
		err = errors.Join(err, shutdownErr)
	}
	return err
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
	if c.getenv("REGSYNC_SECRET_KEY") == "" && c.getenv("REGSYNC_SECRET_KEY_FILE") == "" {
		return nil, nil
	}
	spec, err := factory.Secret(c.getenv, "REGSYNC_SECRET_KEY")
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errUsage, err)
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
