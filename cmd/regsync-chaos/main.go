// Command regsync-chaos is regsync's reliability harness. It runs named
// fault scenarios one after another, each on a fresh database of one
// throwaway PostgreSQL cluster: several `regsync serve` processes sync a
// population of domains and blocked transfers against a simulated
// registrar (with random 5xx and 429 answers on top) while the scenario's
// fault is injected:
//
//	kills             SIGKILLs of worker processes and a PostgreSQL crash-restart
//	credentials       the registrar answers 401 to everything for a while
//	row-locks         an outside writer holds domain and transfer rows past the job timeout
//	connection-kills  pg_terminate_backend on regsync's connections, also around commits
//	slow-confirm      confirming reads slower than the job timeout
//	hostile-bodies    NUL bytes, invalid UTF-8 and huge fields from the registrar
//
// After each scenario it checks the invariants and prints, per scenario,
// its figures and every invariant with its count of violations. It exits
// non-zero when any invariant was violated.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/regsync/regsync/internal/localpg"
)

type options struct {
	domains, transfers, processes, kills int
	faultRate                            float64
	seed                                 uint64
	timeout                              time.Duration
	binary                               string
	scenarios                            []string
	small                                bool
}

func main() {
	var opts options
	flag.IntVar(&opts.domains, "domains", 10000, "domains per scenario")
	flag.IntVar(&opts.transfers, "transfers", 300, "blocked transfers per scenario")
	flag.IntVar(&opts.processes, "processes", 3, "regsync serve processes")
	flag.IntVar(&opts.kills, "kills", 12, "SIGKILLs of worker processes in the kills scenario")
	flag.Float64Var(&opts.faultRate, "fault-rate", 0.05, "probability of a random 5xx or 429 on any registrar read")
	flag.Uint64Var(&opts.seed, "seed", 1, "seed of the population and the faults")
	flag.DurationVar(&opts.timeout, "timeout", 8*time.Minute, "give up on a scenario whose work has not drained by then")
	flag.StringVar(&opts.binary, "regsync", "", "regsync binary to run (default: build ./cmd/regsync)")
	flag.BoolVar(&opts.small, "small", false, "a short run of each scenario, for make test: fewer domains, transfers, kills and shorter faults")
	names := flag.String("scenarios", strings.Join(scenarioNames(), ","), "comma-separated scenarios to run")
	flag.Parse()
	opts.scenarios = strings.Split(*names, ",")
	if opts.small {
		opts.domains, opts.transfers, opts.processes, opts.kills = 600, 40, 2, 4
	}
	failed, err := run(opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, "regsync-chaos:", err)
		os.Exit(1)
	}
	if failed > 0 {
		fmt.Fprintf(os.Stderr, "regsync-chaos: %d invariant violations\n", failed)
		os.Exit(1)
	}
}

func run(opts options) (violations int, err error) {
	for _, name := range opts.scenarios {
		if !slices.Contains(scenarioNames(), name) {
			return 0, fmt.Errorf("unknown scenario %q: want some of %s", name, strings.Join(scenarioNames(), ", "))
		}
	}
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "regsync-chaos-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	if opts.binary == "" {
		opts.binary = filepath.Join(dir, "regsync")
		if err := build(ctx, opts.binary); err != nil {
			return 0, err
		}
	}
	// Durable: the kills scenario crashes the server, and without fsync and
	// synchronous commit a crash loses transactions already reported
	// committed, which no application can survive.
	cluster, err := localpg.Start(ctx, localpg.Options{Durable: true})
	if err != nil {
		return 0, err
	}
	defer func() { _ = cluster.Stop() }()

	started := time.Now()
	for i, name := range opts.scenarios {
		sc := scenarios[name]
		h := &harness{opts: opts, cluster: cluster, dir: filepath.Join(dir, name), scenario: sc, seed: opts.seed + uint64(i)}
		rep, err := h.run(ctx)
		if rep != nil {
			rep.print(os.Stdout)
			violations += rep.violations()
		}
		if err != nil {
			return violations, fmt.Errorf("scenario %s: %w", name, err)
		}
	}
	fmt.Printf("regsync chaos: %d scenarios in %.0fs, %d invariant violations\n", len(opts.scenarios), time.Since(started).Seconds(), violations)
	return violations, nil
}

// errDrain means a scenario's work did not drain in time; it is reported
// as a violation, not as a harness failure.
var errDrain = errors.New("work did not drain in time")
