// Command regsync-bench measures regsync against its goals and prints each
// figure next to its goal and the baseline it is compared with, measured
// in the same run. It starts its own throwaway PostgreSQL (durable or not,
// as --durable says) unless DATABASE_URL is set, and prints the server
// settings it ran with. Suites:
//
//	throughput  status_sync against River's own no-op jobs on the same
//	            database and client settings; scale-out against a 50 ms
//	            registrar; guarded changes per second per worker
//	sweep       the sweep's enqueue of --domains due domains
//	million     --domains domains: migration of a database the previous
//	            release left, the sweep, then a real `regsync serve` on the
//	            backlog: /metrics scrape time, peak RSS and the HTTP API's
//	            status-sync latency
//	ratelimit   three registrars at their limits, served by three processes,
//	            and the same without the tightest one
//	history     outcome inserts into the partitioned table against an
//	            unpartitioned twin; retention's drop of a partition of
//	            2 x --domains outcomes; the disk a year of history takes
//	import      `regsync domain import` of --domains lines, CSV and JSON
//	            Lines, each into an empty database; the CSV file again
//
// The last line of its output is "status-sync/noop throughput ratio: X.XX"
// when the throughput suite ran.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/regsync/regsync/internal/localpg"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "regsync-bench:", err)
		os.Exit(1)
	}
}

type options struct {
	jobs        int
	domains     int
	workers     int
	maxConns    int
	cooldown    time.Duration
	durable     bool
	databaseURL string
	cpuProfile  string
	suites      []string
	binary      string
}

var allSuites = []string{"throughput", "sweep", "million", "ratelimit", "history", "import"}

func run() error {
	var opts options
	flag.IntVar(&opts.jobs, "jobs", 10000, "jobs per throughput run")
	flag.IntVar(&opts.domains, "domains", 1_000_000, "domains of the sweep, million and import suites")
	flag.IntVar(&opts.workers, "workers", 100, "workers of the measured queue, for both throughput runs")
	flag.DurationVar(&opts.cooldown, "fetch-cooldown", 10*time.Millisecond, "least time between job fetches, for both throughput runs")
	flag.IntVar(&opts.maxConns, "db-max-conns", 8, "connection pool size, for both throughput runs; on two cores fewer connections contend less")
	flag.StringVar(&opts.cpuProfile, "cpuprofile", "", "write a CPU profile of the status-sync run to this file")
	flag.BoolVar(&opts.durable, "durable", false, "run the throwaway PostgreSQL with fsync and synchronous commit on")
	flag.StringVar(&opts.binary, "regsync", "", "regsync binary the million and import suites run (default: build ./cmd/regsync)")
	suites := flag.String("suites", strings.Join(allSuites, ","), "comma-separated suites to run: "+strings.Join(allSuites, ", "))
	flag.Parse()
	opts.suites = strings.Split(*suites, ",")
	for _, s := range opts.suites {
		if !slices.Contains(allSuites, s) {
			return fmt.Errorf("unknown suite %q: want some of %s", s, strings.Join(allSuites, ", "))
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
	if (slices.Contains(opts.suites, "million") || slices.Contains(opts.suites, "import")) && opts.binary == "" {
		dir, err := os.MkdirTemp("", "regsync-bench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		opts.binary = filepath.Join(dir, "regsync")
		if err := build(ctx, opts.binary); err != nil {
			return err
		}
	}
	if err := printSettings(ctx, opts); err != nil {
		return err
	}

	var ratio float64
	for _, suite := range opts.suites {
		var err error
		switch suite {
		case "throughput":
			ratio, err = throughputSuite(ctx, opts)
		case "sweep":
			err = sweepSuite(ctx, opts)
		case "million":
			err = millionSuite(ctx, opts)
		case "ratelimit":
			err = rateLimitSuite(ctx, opts)
		case "history":
			err = historySuite(ctx, opts)
		case "import":
			err = importSuite(ctx, opts)
		}
		if err != nil {
			return fmt.Errorf("%s suite: %w", suite, err)
		}
	}
	if ratio > 0 {
		fmt.Printf("status-sync/noop throughput ratio: %.2f\n", ratio)
	}
	return nil
}

// figure prints one measured figure next to its goal; met says whether it
// reached it.
func figure(name, value, goal string, met bool) {
	verdict := "met"
	if !met {
		verdict = "SHORT"
	}
	fmt.Printf("%-58s %-26s goal %s: %s\n", name+":", value, goal, verdict)
}

// note prints a figure that has no goal of its own, a baseline say.
func note(name, value string) {
	fmt.Printf("%-58s %s\n", name+":", value)
}

func printSettings(ctx context.Context, opts options) error {
	conn, err := pgx.Connect(ctx, opts.databaseURL)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	var version, fsync, syncCommit, fullPages string
	err = conn.QueryRow(ctx, `SELECT current_setting('server_version'), current_setting('fsync'),
		current_setting('synchronous_commit'), current_setting('full_page_writes')`).Scan(&version, &fsync, &syncCommit, &fullPages)
	if err != nil {
		return err
	}
	fmt.Printf("PostgreSQL %s: fsync=%s synchronous_commit=%s full_page_writes=%s; GOMAXPROCS=%d, %d CPUs\n",
		version, fsync, syncCommit, fullPages, runtime.GOMAXPROCS(0), runtime.NumCPU())
	return nil
}

// newDatabase creates a database named name on the server, dropping an
// earlier one of that name, and returns a pool of size conns on it.
func newDatabase(ctx context.Context, opts options, name string, conns int) (*pgxpool.Pool, string, error) {
	admin, err := pgx.Connect(ctx, opts.databaseURL)
	if err != nil {
		return nil, "", err
	}
	ident := pgx.Identifier{name}.Sanitize()
	_, err = admin.Exec(ctx, "DROP DATABASE IF EXISTS "+ident+" WITH (FORCE)")
	if err == nil {
		_, err = admin.Exec(ctx, "CREATE DATABASE "+ident)
	}
	_ = admin.Close(ctx)
	if err != nil {
		return nil, "", err
	}
	cfg, err := pgxpool.ParseConfig(opts.databaseURL)
	if err != nil {
		return nil, "", err
	}
	cfg.ConnConfig.Database = name
	cfg.MaxConns = int32(conns) //nolint:gosec // G115: a small pool size
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, "", err
	}
	return pool, localpg.WithDatabase(opts.databaseURL, name), nil
}

func perSecond(n int, d time.Duration) float64 { return float64(n) / d.Seconds() }

// peakRSS reads a process's peak resident set size, in kB, from /proc.
func peakRSS(pid string) (int, error) {
	status, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(status)) {
		if value, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kb int
			_, err := fmt.Sscanf(strings.TrimSpace(value), "%d kB", &kb)
			return kb, err
		}
	}
	return 0, fmt.Errorf("no VmHWM in /proc/%s/status", pid)
}
