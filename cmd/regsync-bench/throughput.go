package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime/pprof"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"go.uber.org/zap"

	"github.com/regsync/regsync/migrations"
	"github.com/regsync/regsync/registrar"
	"github.com/regsync/regsync/registrar/sim"
	"github.com/regsync/regsync/store"
	"github.com/regsync/regsync/worker"
)

// throughputSuite measures status_sync throughput against River's no-op
// jobs, the scale-out against a 50 ms registrar, and guarded changes per
// worker. It returns the status-sync/noop ratio.
func throughputSuite(ctx context.Context, opts options) (float64, error) {
	pool, _, err := newDatabase(ctx, opts, "bench_throughput", opts.maxConns)
	if err != nil {
		return 0, err
	}
	defer pool.Close()
	if _, err := migrations.Up(ctx, pool, nil); err != nil {
		return 0, err
	}
	fmt.Printf("throughput: %d jobs a run, %d workers, fetch cooldown %s, %d pooled connections\n", opts.jobs, opts.workers, opts.cooldown, opts.maxConns)
	noop, err := measureNoop(ctx, pool, opts)
	if err != nil {
		return 0, fmt.Errorf("no-op run: %w", err)
	}
	note("river no-op jobs (the baseline)", fmt.Sprintf("%.0f jobs/s", perSecond(opts.jobs, noop)))
	syncs, err := measureStatusSync(ctx, pool, opts, syncRun{name: "bench", jobs: opts.jobs, processes: 1, workers: opts.workers, profile: opts.cpuProfile})
	if err != nil {
		return 0, fmt.Errorf("status-sync run: %w", err)
	}
	ratio := perSecond(opts.jobs, syncs) / perSecond(opts.jobs, noop)
	note("status_sync jobs, zero-latency registrar, 1 in 10 changes", fmt.Sprintf("%.0f jobs/s", perSecond(opts.jobs, syncs)))
	figure("status_sync / no-op throughput", fmt.Sprintf("%.2f", ratio), "at least 0.8", ratio >= 0.8)

	for _, processes := range []int{1, 2, 4} {
		run := syncRun{name: fmt.Sprintf("scale%d", processes), jobs: 2000 * processes, processes: processes, workers: 25, latency: 50 * time.Millisecond}
		took, err := measureStatusSync(ctx, pool, opts, run)
		if err != nil {
			return 0, fmt.Errorf("scale-out run: %w", err)
		}
		ideal := float64(processes*run.workers) / run.latency.Seconds()
		note(fmt.Sprintf("scale-out, %d process(es) x 25 workers, 50 ms registrar", processes),
			fmt.Sprintf("%.0f jobs/s (ideal %.0f)", perSecond(run.jobs, took), ideal))
	}

	perWorker, err := measureGuarded(ctx, pool, opts)
	if err != nil {
		return 0, fmt.Errorf("guarded run: %w", err)
	}
	// Holding its worker through the double-sync delay, as before, a worker
	// finished at most one guarded change per delay plus its two reads.
	before := 1 / (worker.DefaultSyncConfig().DoubleSyncDelay + 2*50*time.Millisecond).Seconds()
	figure("guarded changes per second per worker, 2 s double-sync delay", fmt.Sprintf("%.2f", perWorker),
		fmt.Sprintf("above the %.2f of a worker held through the delay", before), perWorker > before)
	return ratio, nil
}

// noopArgs is River's baseline: a job that does nothing, on the same queue
// and client configuration as status_sync.
type noopArgs struct{}

func (noopArgs) Kind() string { return "bench_noop" }

type noopWorker struct {
	river.WorkerDefaults[noopArgs]
}

func (noopWorker) Work(context.Context, *river.Job[noopArgs]) error { return nil }

func measureNoop(ctx context.Context, pool *pgxpool.Pool, opts options) (time.Duration, error) {
	workers := river.NewWorkers()
	river.AddWorker(workers, noopWorker{})
	client, err := river.NewClient(riverpgxv5.New(pool), &river.Config{
		Schema:        migrations.Schema,
		Queues:        map[string]river.QueueConfig{worker.QueueStatusSync: {MaxWorkers: opts.workers}},
		Workers:       workers,
		FetchCooldown: opts.cooldown,
	})
	if err != nil {
		return 0, err
	}
	params := make([]river.InsertManyParams, opts.jobs)
	for i := range params {
		params[i] = river.InsertManyParams{Args: noopArgs{}, InsertOpts: &river.InsertOpts{Queue: worker.QueueStatusSync}}
	}
	if _, err := client.InsertManyFast(ctx, params); err != nil {
		return 0, err
	}
	return timeUntilDone(ctx, []*river.Client[pgx.Tx]{client}, noopArgs{}.Kind(), opts.jobs)
}

// syncRun is one status-sync throughput run: processes clients, each with
// its own connection pool as separate processes would have, against a
// simulated registrar answering after latency.
type syncRun struct {
	name      string
	jobs      int
	processes int
	workers   int
	latency   time.Duration
	// guarded makes every domain's status change a guarded one, confirmed
	// by its double sync after the default delay.
	guarded bool
	// profile, when not empty, is where a CPU profile of the run goes.
	profile string
}

func measureStatusSync(ctx context.Context, pool *pgxpool.Pool, opts options, run syncRun) (time.Duration, error) {
	simulator, err := sim.New(sim.Config{Name: "sim", Latency: run.latency})
	if err != nil {
		return 0, err
	}
	st := store.New(pool)
	domains := make([]store.NewDomain, run.jobs)
	for i := range domains {
		d := store.NewDomain{ID: fmt.Sprintf("dom_%s%d", run.name, i), Name: fmt.Sprintf("%s-%d.example.com", run.name, i), Registrar: "sim", Status: "active"}
		reads := []string{"active"}
		switch {
		case run.guarded:
			reads = []string{"expired"}
		case i%10 == 0:
			// One in ten changes, pending to active: the status and the
			// outcome written in one statement.
			d.Status = "pending"
		}
		domains[i] = d
		if err := simulator.Script(d.ID, d.Name, reads, false); err != nil {
			return 0, err
		}
	}
	if err := st.AddDomains(ctx, domains); err != nil {
		return 0, err
	}
	// The clients are regsync's own; their start-up sweep finds no due
	// domain because the jobs are inserted below and the domains not due.
	if _, err := pool.Exec(ctx, `UPDATE regsync.domains SET next_sync_at = now() + interval '1 day'`); err != nil {
		return 0, err
	}
	cfg := worker.DefaultConfig()
	cfg.StatusSyncWorkers = run.workers
	cfg.FetchCooldown = opts.cooldown
	cfg.Sweep.Interval = 24 * time.Hour
	if !run.guarded {
		cfg.Sync.DoubleSyncDelay = 0
	}
	clients := make([]*river.Client[pgx.Tx], run.processes)
	pools := []*pgxpool.Pool{pool}
	defer func() {
		for _, p := range pools[1:] {
			p.Close()
		}
	}()
	for i := range clients {
		processPool := pool
		if i > 0 {
			if processPool, err = pgxpool.NewWithConfig(ctx, pool.Config().Copy()); err != nil {
				return 0, err
			}
			pools = append(pools, processPool)
		}
		if clients[i], err = newClient(processPool, cfg, []registrar.Named{simulator}); err != nil {
			return 0, err
		}
	}
	params := make([]river.InsertManyParams, run.jobs)
	for i := range params {
		params[i] = river.InsertManyParams{Args: worker.StatusSyncArgs{DomainID: domains[i].ID}}
	}
	if _, err := clients[0].InsertMany(ctx, params); err != nil {
		return 0, err
	}
	if run.profile != "" {
		f, err := os.Create(run.profile)
		if err != nil {
			return 0, err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return 0, err
		}
		defer pprof.StopCPUProfile()
	}
	return timeUntilDone(ctx, clients, worker.StatusSyncArgs{}.Kind(), run.jobs)
}

// newClient returns a River client of regsync's workers over pool, as
// one `regsync serve` process builds it.
func newClient(pool *pgxpool.Pool, cfg worker.Config, adapters []registrar.Named) (*river.Client[pgx.Tx], error) {
	st := store.New(pool)
	metrics := worker.NewMetrics(prometheus.NewRegistry())
	wrapped := worker.NewAdapters(adapters, worker.NewRateLimiter(st, cfg.RateLimitWait(), metrics), metrics)
	syncer, err := worker.NewSyncer(st, wrapped, cfg.Sync, metrics)
	if err != nil {
		return nil, err
	}
	retrier, err := worker.NewRetrier(st, wrapped, nil, cfg.Transfer, metrics)
	if err != nil {
		return nil, err
	}
	return worker.NewClient(st, cfg, syncer, retrier, nil, metrics, zap.NewNop())
}

// measureGuarded times guarded changes, each confirmed by its double sync
// after the default 2 s delay, through 5 workers against a 50 ms
// registrar, and returns how many one worker finished a second.
func measureGuarded(ctx context.Context, pool *pgxpool.Pool, opts options) (float64, error) {
	const jobs, workers = 300, 5
	run := syncRun{name: "guarded", jobs: jobs, processes: 1, workers: workers, latency: 50 * time.Millisecond, guarded: true}
	took, err := measureStatusSync(ctx, pool, opts, run)
	if err != nil {
		return 0, err
	}
	var confirmed int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM regsync.status_sync_outcomes
		WHERE domain_id LIKE 'dom_guarded%' AND double_sync_succeeded`).Scan(&confirmed); err != nil {
		return 0, err
	}
	if confirmed != jobs {
		return 0, fmt.Errorf("%d of %d guarded changes confirmed", confirmed, jobs)
	}
	return float64(jobs) / took.Seconds() / workers, nil
}

// timeUntilDone starts the clients and returns how long they take to
// complete n jobs of kind between them. It counts River's completion
// events rather than polling the job table, so that measuring adds no load
// to the database. Snoozes (a guarded change waiting for its double sync)
// are not ends.
func timeUntilDone(ctx context.Context, clients []*river.Client[pgx.Tx], kind string, n int) (time.Duration, error) {
	events := make(chan *river.Event, n+1000)
	var started []*river.Client[pgx.Tx]
	var unsubscribe []func()
	defer func() {
		for _, client := range started {
			_ = client.Stop(ctx)
		}
		for _, cancel := range unsubscribe {
			cancel()
		}
	}()
	for _, client := range clients {
		sub, cancel := client.SubscribeConfig(&river.SubscribeConfig{
			ChanSize: n + 1000,
			Kinds:    []river.EventKind{river.EventKindJobCompleted, river.EventKindJobFailed, river.EventKindJobCancelled},
		})
		unsubscribe = append(unsubscribe, cancel)
		go func() {
			for ev := range sub {
				events <- ev
			}
		}()
	}
	start := time.Now()
	for _, client := range clients {
		if err := client.Start(ctx); err != nil {
			return 0, err
		}
		started = append(started, client)
	}
	timeout := time.After(10 * time.Minute)
	for done := 0; done < n; {
		select {
		case ev := <-events:
			if ev.Job.Kind != kind {
				continue
			}
			if ev.Kind != river.EventKindJobCompleted {
				return 0, fmt.Errorf("%s job %d ended %s", kind, ev.Job.ID, ev.Kind)
			}
			done++
		case <-timeout:
			return 0, fmt.Errorf("%s jobs did not finish within 10 minutes", kind)
		}
	}
	return time.Since(start), nil
}

func build(ctx context.Context, binary string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-o", binary, "./cmd/regsync")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("build regsync: %w", err)
	}
	return nil
}
