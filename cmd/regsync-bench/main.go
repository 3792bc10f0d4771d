// Command regsync-bench measures regsync's status-sync throughput against
// River's own no-op job throughput on the same database with the same
// client configuration, the time to sweep-enqueue 100,000 due domains, and
// the process's peak RSS. It starts its own throwaway PostgreSQL (durable
// or not, as --durable says) unless DATABASE_URL is set, and prints the
// server settings it ran with. The last line of its output is
// "status-sync/noop throughput ratio: X.XX".
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"go.uber.org/zap"

	"github.com/regsync/regsync/internal/localpg"
	"github.com/regsync/regsync/migrations"
	"github.com/regsync/regsync/registrar"
	"github.com/regsync/regsync/registrar/sim"
	"github.com/regsync/regsync/store"
	"github.com/regsync/regsync/worker"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "regsync-bench:", err)
		os.Exit(1)
	}
}

type options struct {
	jobs        int
	sweepSize   int
	workers     int
	maxConns    int
	cooldown    time.Duration
	durable     bool
	databaseURL string
	cpuProfile  string
	scaleOut    []int
}

func run() error {
	var opts options
	flag.IntVar(&opts.jobs, "jobs", 10000, "jobs per throughput run")
	flag.IntVar(&opts.sweepSize, "sweep-domains", 100000, "due domains the sweep enqueues")
	flag.IntVar(&opts.workers, "workers", 100, "workers of the measured queue, for both runs")
	flag.DurationVar(&opts.cooldown, "fetch-cooldown", 10*time.Millisecond, "least time between job fetches, for both runs")
	flag.IntVar(&opts.maxConns, "db-max-conns", 8, "connection pool size, for both runs; on two cores fewer connections contend less")
	flag.StringVar(&opts.cpuProfile, "cpuprofile", "", "write a CPU profile of the status-sync run to this file")
	flag.BoolVar(&opts.durable, "durable", false, "run the throwaway PostgreSQL with fsync and synchronous commit on")
	scaleOut := flag.String("scale-out", "1,2,4", "process counts of the scale-out runs against a 50 ms registrar; empty for none")
	flag.Parse()
	for n := range strings.SplitSeq(*scaleOut, ",") {
		var p int
		if _, err := fmt.Sscan(n, &p); err == nil && p > 0 {
			opts.scaleOut = append(opts.scaleOut, p)
		}
	}
	opts.databaseURL = os.Getenv("DATABASE_URL")
	ctx := context.Background()

	if opts.databaseURL == "" {
		// A durable run keeps its data on disk: fsync on tmpfs costs
		// nothing and would measure nothing.
		where := localpg.Options{Durable: opts.durable}
		if opts.durable {
			where.ParentDir = os.TempDir()
		}
		cluster, err := localpg.Start(ctx, where)
		if err != nil {
			return err
		}
		defer func() { _ = cluster.Stop() }()
		opts.databaseURL = cluster.URL("postgres")
		fmt.Printf("throwaway PostgreSQL cluster in %s\n", cluster.Dir())
	}
	pool, err := openPool(ctx, opts)
	if err != nil {
		return err
	}
	defer pool.Close()
	if _, err := migrations.Up(ctx, pool, nil); err != nil {
		return err
	}
	if err := printSettings(ctx, pool, opts); err != nil {
		return err
	}

	noop, err := measureNoop(ctx, pool, opts)
	if err != nil {
		return fmt.Errorf("no-op run: %w", err)
	}
	fmt.Printf("river no-op jobs:        %6d jobs in %6.2fs = %8.0f jobs/s\n", opts.jobs, noop.Seconds(), perSecond(opts.jobs, noop))
	syncs, err := measureStatusSync(ctx, pool, opts, syncRun{name: "bench", jobs: opts.jobs, processes: 1, workers: opts.workers})
	if err != nil {
		return fmt.Errorf("status-sync run: %w", err)
	}
	fmt.Printf("status_sync jobs:        %6d jobs in %6.2fs = %8.0f jobs/s\n", opts.jobs, syncs.Seconds(), perSecond(opts.jobs, syncs))
	for _, processes := range opts.scaleOut {
		run := syncRun{name: fmt.Sprintf("scale%d", processes), jobs: 2000 * processes, processes: processes, workers: 25, latency: 50 * time.Millisecond}
		took, err := measureStatusSync(ctx, pool, opts, run)
		if err != nil {
			return fmt.Errorf("scale-out run: %w", err)
		}
		fmt.Printf("scale-out, %d process(es) x %d workers, registrar latency %s: %5d jobs in %5.2fs = %6.0f jobs/s\n",
			processes, run.workers, run.latency, run.jobs, took.Seconds(), perSecond(run.jobs, took))
	}
	sweep, err := measureSweep(ctx, pool, opts)
	if err != nil {
		return fmt.Errorf("sweep run: %w", err)
	}
	fmt.Printf("sweep enqueue:           %6d due domains in %6.2fs = %8.0f domains/s\n", opts.sweepSize, sweep.Seconds(), perSecond(opts.sweepSize, sweep))
	fmt.Printf("peak RSS of this process: %s\n", peakRSS())
	fmt.Printf("status-sync/noop throughput ratio: %.2f\n", perSecond(opts.jobs, syncs)/perSecond(opts.jobs, noop))
	return nil
}

func openPool(ctx context.Context, opts options) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(opts.databaseURL)
	if err != nil {
		return nil, fmt.Errorf("parse database URL: %w", err)
	}
	if opts.maxConns < 1 || opts.maxConns > 10000 {
		return nil, fmt.Errorf("--db-max-conns %d: want 1 to 10000", opts.maxConns)
	}
	cfg.MaxConns = int32(opts.maxConns)
	return pgxpool.NewWithConfig(ctx, cfg)
}

func printSettings(ctx context.Context, pool *pgxpool.Pool, opts options) error {
	var version, fsync, syncCommit, fullPages string
	err := pool.QueryRow(ctx, `SELECT current_setting('server_version'), current_setting('fsync'),
		current_setting('synchronous_commit'), current_setting('full_page_writes')`).Scan(&version, &fsync, &syncCommit, &fullPages)
	if err != nil {
		return err
	}
	fmt.Printf("PostgreSQL %s: fsync=%s synchronous_commit=%s full_page_writes=%s\n", version, fsync, syncCommit, fullPages)
	fmt.Printf("client: %d workers, fetch cooldown %s, %d pooled connections, GOMAXPROCS=%d\n", opts.workers, opts.cooldown, opts.maxConns, runtime.GOMAXPROCS(0))
	return nil
}

// noopArgs is River's baseline: a job that does nothing, on the same queue
// and client configuration as status_sync.
type noopArgs struct{}

func (noopArgs) Kind() string { return "bench_noop" }

type noopWorker struct {
	river.WorkerDefaults[noopArgs]
}

func (noopWorker) Work(context.Context, *river.Job[noopArgs]) error { return nil }

func clientConfig(opts options, workers *river.Workers) *river.Config {
	return &river.Config{
		Schema:        migrations.Schema,
		Queues:        map[string]river.QueueConfig{worker.QueueStatusSync: {MaxWorkers: opts.workers}},
		Workers:       workers,
		FetchCooldown: opts.cooldown,
	}
}

func measureNoop(ctx context.Context, pool *pgxpool.Pool, opts options) (time.Duration, error) {
	workers := river.NewWorkers()
	river.AddWorker(workers, noopWorker{})
	client, err := river.NewClient(riverpgxv5.New(pool), clientConfig(opts, workers))
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
		if i%10 == 0 {
			// One in ten changes, pending to active: the status and the
			// outcome written in one statement.
			d.Status = "pending"
		}
		domains[i] = d
		if err := simulator.Script(d.ID, d.Name, []string{"active"}, false); err != nil {
			return 0, err
		}
	}
	if err := st.AddDomains(ctx, domains); err != nil {
		return 0, err
	}
	// The clients are regsync's own; their start-up sweep finds no due
	// domain because the jobs are inserted below and the domains leased.
	if _, err := pool.Exec(ctx, `UPDATE regsync.domains SET next_sync_at = now() + interval '1 day'`); err != nil {
		return 0, err
	}
	cfg := worker.DefaultConfig()
	cfg.StatusSyncWorkers = run.workers
	cfg.FetchCooldown = opts.cooldown
	cfg.Sweep.Interval = 24 * time.Hour
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
			if processPool, err = openPool(ctx, opts); err != nil {
				return 0, err
			}
			pools = append(pools, processPool)
		}
		processStore := store.New(processPool)
		metrics := worker.NewMetrics(prometheus.NewRegistry())
		adapters := worker.NewAdapters([]registrar.Named{simulator}, nil, metrics)
		syncer, err := worker.NewSyncer(processStore, adapters, cfg.Sync, metrics)
		if err != nil {
			return 0, err
		}
		retrier, err := worker.NewRetrier(processStore, adapters, nil, cfg.Transfer, metrics)
		if err != nil {
			return 0, err
		}
		if clients[i], err = worker.NewClient(processStore, cfg, syncer, retrier, metrics, zap.NewNop()); err != nil {
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
	if opts.cpuProfile != "" {
		f, err := os.Create(opts.cpuProfile)
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

// timeUntilDone starts the clients and returns how long they take to
// complete n jobs of kind between them. It counts River's completion
// events rather than polling the job table, so that measuring adds no load
// to the database.
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
			Kinds:    []river.EventKind{river.EventKindJobCompleted, river.EventKindJobFailed, river.EventKindJobCancelled, river.EventKindJobSnoozed},
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

func measureSweep(ctx context.Context, pool *pgxpool.Pool, opts options) (time.Duration, error) {
	if _, err := pool.Exec(ctx, `TRUNCATE regsync.domains; DELETE FROM regsync.river_job`); err != nil {
		return 0, err
	}
	st := store.New(pool)
	domains := make([]store.NewDomain, opts.sweepSize)
	for i := range domains {
		domains[i] = store.NewDomain{ID: fmt.Sprintf("dom_sweep%d", i), Name: fmt.Sprintf("sweep-%d.example.com", i), Registrar: "sim", Status: "active"}
	}
	if err := st.AddDomains(ctx, domains); err != nil {
		return 0, err
	}
	start := time.Now()
	claimed, err := worker.SweepDueDomains(ctx, st, worker.DefaultSweepConfig(), worker.NewMetrics(prometheus.NewRegistry()))
	if err != nil {
		return 0, err
	}
	elapsed := time.Since(start)
	if claimed != opts.sweepSize {
		return 0, fmt.Errorf("sweep claimed %d domains, want %d", claimed, opts.sweepSize)
	}
	return elapsed, nil
}

func perSecond(n int, d time.Duration) float64 { return float64(n) / d.Seconds() }

// peakRSS reads the process's peak resident set size from /proc.
func peakRSS() string {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "unknown (" + err.Error() + ")"
	}
	for line := range strings.Lines(string(status)) {
		if value, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			return strings.TrimSpace(value)
		}
	}
	return "unknown"
}
