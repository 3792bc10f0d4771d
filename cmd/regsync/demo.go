package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/regsync/regsync/internal/httpapi"
	"github.com/regsync/regsync/internal/localpg"
	"github.com/regsync/regsync/internal/secret"
	"github.com/regsync/regsync/migrations"
	"github.com/regsync/regsync/registrar"
	"github.com/regsync/regsync/registrar/epp"
	"github.com/regsync/regsync/registrar/epp/epptest"
	"github.com/regsync/regsync/registrar/rdap"
	"github.com/regsync/regsync/registrar/rdap/rdaptest"
	"github.com/regsync/regsync/registrar/sim"
	"github.com/regsync/regsync/store"
	"github.com/regsync/regsync/worker"
)

// demoProfile is one kind of demo domain: its stored status and the
// simulator script of its registrar reads.
type demoProfile struct {
	name     string
	weight   int
	status   registrar.Status
	reads    []string // nil: the registrar does not know the domain
	flapping bool
}

// demoPopulation is the demo's mix, weights in percent: mostly steady
// domains, some changing, some flapping, and registrar trouble of every
// kind the worker must survive.
var demoPopulation = []demoProfile{
	{name: "steady active", weight: 60, status: "active", reads: []string{"active"}},
	{name: "steady suspended", weight: 4, status: "suspended", reads: []string{"suspended"}},
	{name: "steady expired", weight: 4, status: "expired", reads: []string{"expired"}},
	{name: "pending to active", weight: 8, status: "pending", reads: []string{"active"}},
	{name: "active to expired", weight: 5, status: "active", reads: []string{"expired"}},
	{name: "flapping", weight: 5, status: "active", reads: []string{"expired", "active"}, flapping: true},
	{name: "registrar 503 once", weight: 5, status: "active", reads: []string{"!503", "active"}},
	{name: "rate limited once", weight: 3, status: "active", reads: []string{"!429:1s", "active"}},
	{name: "garbage answer once", weight: 2, status: "pending", reads: []string{"!garbage", "active"}},
	{name: "unrecognised status", weight: 2, status: "active", reads: []string{"parked"}},
	{name: "unknown at registrar", weight: 1, status: "active"},
	{name: "fraud (local, sticky)", weight: 1, status: "fraud", reads: []string{"active"}},
}

// demoRegistryProfile is one kind of demo domain on the EPP registry,
// whose guarded changes the registry's RDAP server confirms. The EPP and
// RDAP servers answer from the same simulator, so successive reads of a
// domain, whichever the protocol, take successive entries of its script.
type demoRegistryProfile struct {
	name     string
	weight   int
	status   registrar.Status
	reads    []string
	flapping bool
	tld      string        // "se" unless set: a TLD the RDAP server answers for
	sponsor  string        // "ClientX", the provider's own id, unless set
	expires  time.Duration // from now; a year unless set
	expiry   time.Time     // a fixed expiry date, for placeholders
}

// demoRegistryPopulation is the mix of the EPP domains, weights in percent.
var demoRegistryPopulation = []demoRegistryProfile{
	{name: "steady active", weight: 60, status: "active", reads: []string{"active"}},
	{name: "suspended, confirmed by RDAP", weight: 10, status: "active", reads: []string{"suspended"}},
	{name: "in redemption, confirmed by RDAP", weight: 5, status: "active", reads: []string{"expired"}},
	{name: "flapping, contradicted by RDAP", weight: 5, status: "active", reads: []string{"expired", "active"}, flapping: true},
	{name: "expiring within 30 days", weight: 8, status: "active", reads: []string{"active"}, expires: 20 * 24 * time.Hour},
	{name: "placeholder expiry date", weight: 3, status: "active", reads: []string{"active"}, expiry: time.Date(1969, 12, 31, 0, 0, 0, 0, time.UTC)},
	{name: "transferred away", weight: 4, status: "active", reads: []string{"active"}, sponsor: "OtherRegistrar"},
	{name: "suspended on a TLD without RDAP", weight: 5, status: "active", reads: []string{"suspended"}, tld: "zz"},
}

// demoSponsor is the provider's own sponsor id at the demo EPP registry.
const demoSponsor = "ClientX"

func runDemo(ctx context.Context, c *cli, args []string) error {
	fs := c.flagSet("demo", "", "Run the worker end to end on the in-process registrar simulator: with no DATABASE_URL it starts a throwaway PostgreSQL from the local binaries (stopped on exit), migrates, seeds a demo population, runs the sweep and the workers with a progress line, and prints a summary")
	common := c.commonFlags(fs)
	if c.getenv("REGSYNC_LOG_LEVEL") == "" {
		common.logLevel = zapcore.WarnLevel
	}
	cfg := worker.DefaultConfig()
	cfg.Sync.DoubleSyncDelay = 200 * time.Millisecond
	cfg.Transfer.ConfirmDelay = 200 * time.Millisecond
	// A demo should drain in seconds, not wait out River's later backoffs.
	cfg.MaxRetryDelay = 3 * time.Second
	c.workerFlags(fs, &cfg)
	cfg.Sync.ConfirmVia = map[string]string{"epp": "rdap"}
	cfg.Sync.OwnSponsors = map[string][]string{"epp": {demoSponsor}}
	domains := fs.Int("domains", 3000, "how many demo domains to seed on the simulated registrar")
	registryDomains := fs.Int("registry-domains", 300, "how many demo domains to seed on the local EPP registry, confirmed through its RDAP server")
	once := fs.Bool("once", false, "exit when the sweep has drained instead of running until interrupted")
	latency := fs.Duration("sim-latency", 2*time.Millisecond, "simulated registrar latency per read")
	faultRate := fs.Float64("sim-fault-rate", 0.01, "probability that a read fails with a random 5xx or 429")
	seed := fs.Uint64("seed", 1, "seed of the demo population and the simulator's faults")
	httpAddr := fs.String("http-addr", "", "serve /metrics, /healthz and /readyz here while the demo runs (off when empty)")
	apiAddr := fs.String("api-addr", "", "serve the HTTP API here while the demo runs, with a fresh API key printed on stderr (off when empty)")
	if err := c.parse(fs, args, 0); err != nil {
		return err
	}
	logger := c.logger(common)
	defer func() { _ = logger.Sync() }()

	throwaway := common.databaseURL == ""
	if throwaway {
		fmt.Fprintln(c.stderr, "demo: DATABASE_URL is not set; starting a throwaway PostgreSQL")
		cluster, err := localpg.Start(ctx, localpg.Options{})
		if err != nil {
			return fmt.Errorf("start throwaway PostgreSQL: %w", err)
		}
		defer func() {
			if err := cluster.Stop(); err != nil {
				fmt.Fprintln(c.stderr, "demo: stop PostgreSQL:", err)
			}
		}()
		common.databaseURL = cluster.URL("postgres")
	}
	pool, err := connect(ctx, common)
	if err != nil {
		return err
	}
	defer pool.Close()
	if _, err := migrations.Up(ctx, pool, nil); err != nil {
		return err
	}

	simulator, err := sim.New(sim.Config{Name: "sim", Latency: *latency, FaultRate: *faultRate, Seed: int64(*seed)}) //nolint:gosec // G115: a seed's bits, not a quantity
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	st := store.New(pool)
	if err := seedDemo(ctx, st, simulator, *domains, *seed); err != nil {
		return err
	}
	if err := seedDemoRegistry(ctx, st, simulator, *registryDomains, *seed); err != nil {
		return err
	}
	registries, closeRegistries, err := startDemoRegistries(simulator)
	if err != nil {
		return err
	}
	defer closeRegistries()
	keyring, err := c.keyring()
	if err != nil {
		return err
	}
	keyFile := ""
	if keyring == nil {
		// A throwaway key for a throwaway database, in a file only this
		// user can read, so that other commands can seal and open its
		// secrets while the demo runs.
		spec, err := secret.GenerateKey("demo")
		if err != nil {
			return err
		}
		if keyring, err = secret.ParseKeyring(spec); err != nil {
			return err
		}
		if keyFile, err = writeDemoKey(spec); err != nil {
			return err
		}
		defer func() { _ = os.RemoveAll(filepath.Dir(keyFile)) }()
	}
	if err := seedDemoTransfers(ctx, st, simulator, keyring); err != nil {
		return err
	}
	fmt.Fprintf(c.stderr, "demo: seeded %d domains and %d blocked transfers on the simulated registrar, %d domains on a local EPP registry with an RDAP server\n",
		*domains, len(demoTransfers), *registryDomains)
	if throwaway {
		fmt.Fprintf(c.stderr, "demo: other regsync commands reach its database while it runs with DATABASE_URL='%s'\n", common.databaseURL)
	}
	if keyFile != "" {
		fmt.Fprintf(c.stderr, "demo: and its secret key (for webhook add and test, transfer set-auth-info) with REGSYNC_SECRET_KEY_FILE='%s'\n", keyFile)
	}

	reg := newRegistry()
	svc, err := newService(st, append([]registrar.Named{simulator}, registries...), keyring, cfg, reg, logger)
	if err != nil {
		return err
	}
	if *apiAddr != "" {
		if err := demoAPI(ctx, c, svc, st, keyring, *apiAddr, logger); err != nil {
			return err
		}
	}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	var listener net.Listener
	if *httpAddr != "" {
		if listener, err = new(net.ListenConfig).Listen(ctx, "tcp", *httpAddr); err != nil {
			return fmt.Errorf("listen on %s: %w", *httpAddr, err)
		}
		fmt.Fprintf(c.stderr, "demo: metrics on http://%s/metrics\n", listener.Addr())
	}
	served := make(chan error, 1)
	go func() { served <- svc.serve(runCtx, listener, logger) }()

	started := time.Now()
	err = watchDemo(runCtx, c.stderr, pool, *once, served, started)
	stop()
	if serveErr := <-served; serveErr != nil && err == nil {
		err = serveErr
	}
	if err != nil {
		return err
	}
	// Interrupted or drained, the demo ends with its summary: on a fresh
	// context, since an interrupt has cancelled ctx.
	summaryCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	return printDemoSummary(summaryCtx, c.stdout, st, reg, time.Since(started))
}

// demoAPI mounts the HTTP API on addr and prints a key for it with both
// scopes, and a call to try.
func demoAPI(ctx context.Context, c *cli, svc *service, st *store.Store, keyring *secret.Keyring, addr string, logger *zap.Logger) error {
	listener, err := new(net.ListenConfig).Listen(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	if err := svc.mountAPI(listener, st, keyring, httpapi.DefaultSyncTimeout, logger); err != nil {
		return err
	}
	_, token, err := st.CreateAPIKey(ctx, "demo", store.Scopes)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stderr, "demo: HTTP API on http://%s with the throwaway key %s, for example:\n", listener.Addr(), token)
	fmt.Fprintf(c.stderr, "  curl -X POST -H 'Authorization: Bearer %s' http://%s/api/v2/domains/dom_demo000001/actions/status-sync\n", token, listener.Addr())
	return nil
}

// seedDemo adds n demo domains, drawing each one's profile from
// demoPopulation with a generator seeded by seed, and scripts their reads.
func seedDemo(ctx context.Context, st *store.Store, s *sim.Sim, n int, seed uint64) error {
	var existing int
	if err := st.Pool().QueryRow(ctx, `SELECT count(*) FROM regsync.domains`).Scan(&existing); err != nil {
		return fmt.Errorf("count domains: %w", err)
	}
	if existing > 0 {
		return fmt.Errorf("%w: the demo needs an empty database, and this one has %d domains; unset DATABASE_URL to use a throwaway one", errUsage, existing)
	}
	rng := rand.New(rand.NewPCG(seed, 0))
	domains := make([]store.NewDomain, n)
	for i := range domains {
		p := pickWeighted(demoPopulation, func(p demoProfile) int { return p.weight }, rng.IntN(100))
		d := store.NewDomain{ID: fmt.Sprintf("dom_demo%06d", i), Name: fmt.Sprintf("demo-%06d.se", i), Registrar: "sim", Status: p.status}
		domains[i] = d
		if p.reads != nil {
			if err := s.Script(d.ID, d.Name, p.reads, p.flapping); err != nil {
				return err
			}
		}
	}
	return st.AddDomains(ctx, domains)
}

// seedDemoRegistry adds n demo domains on the EPP registry ("epp"),
// drawing each one's profile from demoRegistryPopulation, and scripts
// their reads and registry facts.
func seedDemoRegistry(ctx context.Context, st *store.Store, s *sim.Sim, n int, seed uint64) error {
	rng := rand.New(rand.NewPCG(seed, 1))
	now := time.Now()
	domains := make([]store.NewDomain, n)
	for i := range domains {
		p := pickWeighted(demoRegistryPopulation, func(p demoRegistryProfile) int { return p.weight }, rng.IntN(100))
		tld := cmp.Or(p.tld, "se")
		d := store.NewDomain{ID: fmt.Sprintf("dom_epp%06d", i), Name: fmt.Sprintf("epp-demo-%06d.%s", i, tld), Registrar: "epp", Status: p.status}
		domains[i] = d
		if err := s.Script(d.ID, d.Name, p.reads, p.flapping); err != nil {
			return err
		}
		expiry := p.expiry
		if expiry.IsZero() {
			expiry = now.Add(cmp.Or(p.expires, 365*24*time.Hour)).Truncate(time.Second)
		}
		s.SetInfo(d.ID, sim.DomainInfo{ExpiresAt: expiry, Sponsor: cmp.Or(p.sponsor, demoSponsor)})
	}
	return st.AddDomains(ctx, domains)
}

// startDemoRegistries serves the simulator as a local EPP registry and
// its RDAP server (for .se only: other TLDs have none) and returns an
// adapter for each, and a function that closes them and their servers.
func startDemoRegistries(s *sim.Sim) ([]registrar.Named, func(), error) {
	eppServer, err := epptest.NewServer(epptest.Config{Backend: s, ClientID: demoSponsor, Password: "demo-Pass1"})
	if err != nil {
		return nil, nil, err
	}
	rdapServer := rdaptest.Start(s)
	eppCfg := epp.DefaultConfig()
	eppCfg.Addr, eppCfg.ClientID, eppCfg.Password, eppCfg.TLS = eppServer.Addr(), demoSponsor, "demo-Pass1", eppServer.ClientTLS()
	eppCfg.Sessions = 4
	eppClient, err := epp.New(eppCfg)
	if err != nil {
		eppServer.Close()
		rdapServer.Close()
		return nil, nil, err
	}
	rdapCfg := rdap.DefaultConfig()
	rdapCfg.Overrides = map[string]string{"se": rdapServer.BaseURL()}
	rdapCfg.HTTPClient = rdapServer.Client()
	rdapClient, err := rdap.New(rdapCfg)
	if err != nil {
		_ = eppClient.Close()
		eppServer.Close()
		rdapServer.Close()
		return nil, nil, err
	}
	closeAll := func() {
		_ = eppClient.Close()
		eppServer.Close()
		rdapServer.Close()
	}
	return []registrar.Named{eppClient, rdapClient}, closeAll, nil
}

// demoTransfer is one demo blocked transfer and its simulated registrar's
// answers.
type demoTransfer struct {
	transfer store.NewTransfer
	owner    string   // the account the registrar says owns it; the transfer's own when empty
	resets   []string // successive reset answers
	statuses []string // successive transfer status reads
	authInfo string   // a new authInfo the customer supplied, if any
}

// demoTransfers covers each way a retry can end.
var demoTransfers = func() []demoTransfer {
	now := time.Now()
	resettable := []string{"blocked:resettable", "pending"}
	t := func(id, domain, reason string) store.NewTransfer {
		return store.NewTransfer{ID: id, AccountNumber: "acct-demo", DomainName: domain, Registrar: "sim", BlockReason: reason}
	}
	young := t("trf_demo4", "young-domain-demo.se", "registered_recently")
	young.RegisteredAt = now.Add(-20 * 24 * time.Hour)
	old := t("trf_demo8", "sixty-days-ago-demo.se", "no_response")
	old.BlockedSince = now.Add(-61 * 24 * time.Hour)
	return []demoTransfer{
		{transfer: t("trf_demo1", "no-answer-demo.se", "no_response"), resets: []string{"202"}, statuses: resettable},
		{transfer: t("trf_demo2", "new-code-demo.se", "wrong_auth_info"), resets: []string{"202"}, statuses: resettable, authInfo: "Fr3sh-Code!"},
		{transfer: t("trf_demo3", "bad-code-demo.se", "wrong_auth_info"), resets: []string{"404bad"}, statuses: resettable, authInfo: "Stale-Code1"},
		{transfer: young, resets: []string{"202"}, statuses: resettable},
		{transfer: t("trf_demo5", "awaiting-registrar-demo.se", "already_pending"), resets: []string{"409"}, statuses: resettable},
		{transfer: t("trf_demo6", "order-gone-demo.se", "rejected"), resets: []string{"404"}, statuses: resettable},
		{transfer: t("trf_demo7", "went-through-demo.se", "registry_status"), statuses: []string{"completed"}},
		{transfer: old, resets: []string{"202"}, statuses: resettable},
		{transfer: t("trf_demo9", "someone-else-demo.se", "rejected"), owner: "acct-other", statuses: resettable},
		{transfer: t("trf_demo10", "flaky-registrar-demo.se", "no_response"), resets: []string{"503", "202"},
			statuses: []string{"blocked:resettable", "blocked:resettable", "pending"}},
	}
}()

// seedDemoTransfers adds the demo's blocked transfers, scripts their
// registrar answers and stores the authInfo values customers supplied.
func seedDemoTransfers(ctx context.Context, st *store.Store, s *sim.Sim, keyring *secret.Keyring) error {
	for _, d := range demoTransfers {
		if err := st.AddTransfer(ctx, d.transfer); err != nil {
			return err
		}
		order := registrar.Transfer{Account: d.transfer.AccountNumber, DomainName: d.transfer.DomainName}
		if err := s.ScriptTransfer(order, d.owner, d.resets, d.statuses); err != nil {
			return err
		}
		if d.authInfo != "" {
			if _, err := st.RequestReset(ctx, keyring, store.ResetRequest{TransferID: d.transfer.ID, AuthInfo: d.authInfo}); err != nil {
				return err
			}
		}
	}
	return nil
}

// pickWeighted returns the profile of population that percent (0 to 99)
// falls in, each profile taking weight(p) percent in order; the first when
// the weights add up to less.
func pickWeighted[P any](population []P, weight func(P) int, percent int) P {
	for _, p := range population {
		if percent < weight(p) {
			return p
		}
		percent -= weight(p)
	}
	return population[0]
}

// watchDemo prints a progress line every second until ctx ends, the
// service stops, or, with once, the sweep has drained: no domain is due
// and no status_sync or transfer_retry job is left to run.
func watchDemo(ctx context.Context, w io.Writer, pool *pgxpool.Pool, once bool, served <-chan error, started time.Time) error {
	ticker := time.NewTicker(time.Second)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-served:
			return fmt.Errorf("worker stopped: %w", err)
		case <-ticker.C:
		}
		var total, synced, due, open, outcomes int
		err := pool.QueryRow(ctx, `
			SELECT (SELECT count(*) FROM regsync.domains),
				(SELECT count(*) FROM regsync.domains WHERE last_synced_at IS NOT NULL),
				(SELECT count(*) FROM regsync.domains WHERE next_sync_at <= now()),
				(SELECT count(*) FROM regsync.river_job WHERE kind <> 'sweep'
					AND state IN ('available', 'pending', 'running', 'retryable', 'scheduled')),
				(SELECT count(*) FROM regsync.status_sync_outcomes)`).Scan(&total, &synced, &due, &open, &outcomes)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("read progress: %w", err)
		}
		elapsed := time.Since(started)
		fmt.Fprintf(w, "demo: %5.1fs  synced %d/%d domains  due %d  jobs open %d  outcomes %d (%.0f/s)\n",
			elapsed.Seconds(), synced, total, due, open, outcomes, float64(outcomes)/elapsed.Seconds())
		if once && due == 0 && open == 0 {
			return nil
		}
	}
}

// printDemoSummary prints what the demo did: syncs by result, status
// transitions, double syncs and the jobs' final states.
func printDemoSummary(ctx context.Context, w io.Writer, st *store.Store, reg *prometheus.Registry, elapsed time.Duration) error {
	pool := st.Pool()
	families, err := reg.Gather()
	if err != nil {
		return err
	}
	var outcomes int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM regsync.status_sync_outcomes`).Scan(&outcomes); err != nil {
		return fmt.Errorf("count outcomes: %w", err)
	}
	fmt.Fprintf(w, "\nregsync demo summary: %d syncs recorded in %.1fs (%.0f syncs/s)\n", outcomes, elapsed.Seconds(), float64(outcomes)/elapsed.Seconds())
	printCounter(w, families, "regsync_status_sync_total", "syncs by result", "result")
	printCounter(w, families, "regsync_status_transitions_total", "status transitions kept", "from", "to")
	printCounter(w, families, "regsync_double_sync_total", "double syncs", "result")
	if err := printRegistrySummary(ctx, w, pool); err != nil {
		return err
	}
	printCounter(w, families, "regsync_expiry_changes_total", "expiry dates", "registrar", "result")
	printCounter(w, families, "regsync_jobs_rejected_total", "jobs rejected", "reason")

	printCounter(w, families, "regsync_transfer_reset_total", "transfer resets by result", "result")
	printCounter(w, families, "regsync_transfer_auth_info_reverts_total", "authInfo reverts", "succeeded")
	transfers, err := st.Transfers(ctx, "")
	if err != nil {
		return err
	}
	fmt.Fprintln(w, "transfers:")
	for _, t := range transfers {
		fmt.Fprintf(w, "  %-11s %-20s %-30s -> %-17s (%s)\n", t.ID, t.BlockReason, t.DomainName, t.State, t.LastResult)
	}

	rows, err := pool.Query(ctx, `
		SELECT kind, state::text, count(*) FROM regsync.river_job GROUP BY kind, state ORDER BY kind, state`)
	if err != nil {
		return fmt.Errorf("count jobs: %w", err)
	}
	defer rows.Close()
	fmt.Fprintln(w, "jobs by kind and state:")
	for rows.Next() {
		var kind, state string
		var n int
		if err := rows.Scan(&kind, &state, &n); err != nil {
			return fmt.Errorf("count jobs: %w", err)
		}
		fmt.Fprintf(w, "  %-20s %-10s %d\n", kind, state, n)
	}
	return rows.Err()
}

// printRegistrySummary prints, per registrar, the domains and what the
// syncs learned about their registrations: which source confirmed the
// guarded changes, the transferred-away sightings, and the active domains
// expiring within 30 days.
func printRegistrySummary(ctx context.Context, w io.Writer, pool *pgxpool.Pool) error {
	rows, err := pool.Query(ctx, `
		SELECT d.registrar, count(*),
			count(*) FILTER (WHERE d.status = 'active' AND d.expires_at < now() + interval '30 days'),
			count(*) FILTER (WHERE d.transferred_away_at IS NOT NULL),
			coalesce((SELECT string_agg(format('%s %s', coalesce(confirm_source, '?'), n), ', ' ORDER BY confirm_source)
				FROM (SELECT confirm_source, count(*) AS n FROM regsync.status_sync_outcomes o
					WHERE o.registrar = d.registrar AND o.double_sync_attempted AND confirm_fallback IS NULL GROUP BY confirm_source) c), 'none'),
			(SELECT count(*) FROM regsync.status_sync_outcomes o WHERE o.registrar = d.registrar AND confirm_fallback IS NOT NULL)
		FROM regsync.domains d GROUP BY d.registrar ORDER BY d.registrar`)
	if err != nil {
		return fmt.Errorf("summarize registrars: %w", err)
	}
	defer rows.Close()
	fmt.Fprintln(w, "domains by registrar:")
	for rows.Next() {
		var name, confirmedBy string
		var domains, expiringSoon, away, fallbacks int
		if err := rows.Scan(&name, &domains, &expiringSoon, &away, &confirmedBy, &fallbacks); err != nil {
			return fmt.Errorf("summarize registrars: %w", err)
		}
		fmt.Fprintf(w, "  %-6s %5d domains; double syncs confirmed by %s, by the registrar itself when the second opinion had no say %d; transferred away (waiting a day to cancel) %d; active and expiring within 30 days %d\n",
			name, domains, confirmedBy, fallbacks, away, expiringSoon)
	}
	return rows.Err()
}

// printCounter prints a counter family's series summed by the given
// labels, leaving out those still at zero.
func printCounter(w io.Writer, families []*dto.MetricFamily, name, title string, labels ...string) {
	sums := map[string]float64{}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			var key []string
			for _, l := range labels {
				for _, pair := range m.GetLabel() {
					if pair.GetName() == l {
						key = append(key, pair.GetValue())
					}
				}
			}
			if v := m.GetCounter().GetValue(); v > 0 {
				sums[strings.Join(key, " -> ")] += v
			}
		}
	}
	fmt.Fprintf(w, "%s:\n", title)
	if len(sums) == 0 {
		fmt.Fprintln(w, "  none")
	}
	keys := make([]string, 0, len(sums))
	for k := range sums {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		fmt.Fprintf(w, "  %-24s %.0f\n", k, sums[k])
	}
}

// writeDemoKey writes the demo's generated key spec to a file in a new
// directory only this user may enter, and returns the file's path.
func writeDemoKey(spec string) (string, error) {
	dir, err := os.MkdirTemp("", "regsync-demo-key-")
	if err != nil {
		return "", fmt.Errorf("write the demo's secret key: %w", err)
	}
	path := filepath.Join(dir, "secret-key")
	if err := os.WriteFile(path, []byte(spec+"\n"), 0o600); err != nil {
		_ = os.RemoveAll(dir)
		return "", fmt.Errorf("write the demo's secret key: %w", err)
	}
	return path, nil
}
