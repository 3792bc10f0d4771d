package main

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/regsync/regsync/migrations"
	"github.com/regsync/regsync/registrar"
	"github.com/regsync/regsync/registrar/sim"
	"github.com/regsync/regsync/store"
	"github.com/regsync/regsync/worker"
)

// limitedRegistrar is one registrar of the rate-limit scenario.
type limitedRegistrar struct {
	name    string
	rate    float64 // requests per second
	burst   float64
	latency time.Duration
	domains int
}

// The scenario's registrars: plenty of work for each at its limit.
var limitedRegistrars = []limitedRegistrar{
	{name: "fast", rate: 200, burst: 10, latency: 50 * time.Millisecond, domains: 6000},
	{name: "mid", rate: 50, burst: 5, latency: 200 * time.Millisecond, domains: 1500},
	{name: "tight", rate: 2, burst: 1, latency: 100 * time.Millisecond, domains: 200},
}

// The measured window of a rate-limit run, after its start: the sweep and
// the first bursts are over, and no registrar has run out of domains.
const (
	windowStart = 5 * time.Second
	windowEnd   = 25 * time.Second
)

// rateLimitSuite runs the three registrars at their limits through three
// processes, then the same without the tight one, and prints, for each
// registrar, its request rate against its limit, the most requests it got
// in any one second against its limit plus burst, and how much the tight
// registrar took from the others.
func rateLimitSuite(ctx context.Context, opts options) error {
	fmt.Printf("rate limits: 3 processes x 25 workers; %s\n", describeRegistrars(limitedRegistrars))
	with, err := rateLimitRun(ctx, opts, limitedRegistrars)
	if err != nil {
		return err
	}
	without, err := rateLimitRun(ctx, opts, limitedRegistrars[:2])
	if err != nil {
		return err
	}
	for i, r := range limitedRegistrars {
		got := with[i]
		figure(fmt.Sprintf("%s: requests per second, limit %g", r.name, r.rate), fmt.Sprintf("%.1f (%.0f%%)", got.rate, 100*got.rate/r.rate),
			"at least 95% of the limit", got.rate >= 0.95*r.rate)
		figure(fmt.Sprintf("%s: most requests in any 1 s window", r.name), fmt.Sprint(got.maxWindow),
			fmt.Sprintf("at most limit + burst = %g", r.rate+r.burst), float64(got.maxWindow) <= r.rate+r.burst)
	}
	for i, r := range limitedRegistrars[:2] {
		share := with[i].rate / without[i].rate
		figure(fmt.Sprintf("%s: throughput with the tight registrar / without", r.name), fmt.Sprintf("%.3f (%.1f / %.1f)", share, with[i].rate, without[i].rate),
			"at least 0.95", share >= 0.95)
	}
	return nil
}

func describeRegistrars(rs []limitedRegistrar) string {
	var s []string
	for _, r := range rs {
		s = append(s, fmt.Sprintf("%s %g/s (burst %g) at %s", r.name, r.rate, r.burst, r.latency))
	}
	return fmt.Sprint(s)
}

// registrarLoad is what one registrar got in a run.
type registrarLoad struct {
	rate      float64 // requests per second in the measured window
	maxWindow int     // most requests in any 1 s window of the run
}

// rateLimitRun runs three processes' clients against registrars and
// returns each one's load, measured at the registrar.
func rateLimitRun(ctx context.Context, opts options, registrars []limitedRegistrar) ([]registrarLoad, error) {
	pool, _, err := newDatabase(ctx, opts, "bench_ratelimit", 8)
	if err != nil {
		return nil, err
	}
	defer pool.Close()
	if _, err := migrations.Up(ctx, pool, nil); err != nil {
		return nil, err
	}
	st := store.New(pool)
	var adapters []registrar.Named
	var recorders []*recorder
	var limits []store.RateLimit
	for _, r := range registrars {
		s, err := sim.New(sim.Config{Name: r.name, Latency: r.latency})
		if err != nil {
			return nil, err
		}
		domains := make([]store.NewDomain, r.domains)
		for i := range domains {
			domains[i] = store.NewDomain{ID: fmt.Sprintf("dom_%s%d", r.name, i), Name: fmt.Sprintf("%s-%d.example", r.name, i), Registrar: r.name, Status: "active"}
			if err := s.Script(domains[i].ID, domains[i].Name, []string{"active"}, false); err != nil {
				return nil, err
			}
		}
		if err := st.AddDomains(ctx, domains); err != nil {
			return nil, err
		}
		rec := &recorder{inner: s}
		recorders = append(recorders, rec)
		adapters = append(adapters, rec)
		limits = append(limits, store.RateLimit{Registrar: r.name, RequestsPerSecond: r.rate, Burst: r.burst})
	}
	if err := st.SetRateLimits(ctx, limits); err != nil {
		return nil, err
	}

	cfg := worker.DefaultConfig()
	cfg.StatusSyncWorkers = 25
	cfg.Sweep.Interval = time.Hour // once, at start
	// Each process's client stops before its pool closes.
	var clients []interface{ Stop(context.Context) error }
	var pools []*pgxpool.Pool
	defer func() {
		for _, c := range clients {
			_ = c.Stop(ctx)
		}
		for _, p := range pools {
			p.Close()
		}
	}()
	start := time.Now()
	for range 3 {
		processPool, err := pgxpool.NewWithConfig(ctx, pool.Config().Copy())
		if err != nil {
			return nil, err
		}
		pools = append(pools, processPool)
		client, err := newClient(processPool, cfg, adapters)
		if err != nil {
			return nil, err
		}
		if err := client.Start(ctx); err != nil {
			return nil, err
		}
		clients = append(clients, client)
	}
	time.Sleep(time.Until(start.Add(windowEnd)))

	loads := make([]registrarLoad, len(recorders))
	for i, rec := range recorders {
		calls := rec.times()
		in := 0
		for _, t := range calls {
			if t.Sub(start) >= windowStart && t.Sub(start) < windowEnd {
				in++
			}
		}
		loads[i] = registrarLoad{rate: float64(in) / (windowEnd - windowStart).Seconds(), maxWindow: maxInWindow(calls, time.Second)}
	}
	return loads, nil
}

// recorder notes when each read reaches the registrar, after regsync's
// rate limiter let it go.
type recorder struct {
	inner *sim.Sim
	mu    sync.Mutex
	calls []time.Time
}

func (r *recorder) Name() string { return r.inner.Name() }

func (r *recorder) ReadStatus(ctx context.Context, d registrar.Domain) (registrar.StatusReading, error) {
	r.mu.Lock()
	r.calls = append(r.calls, time.Now())
	r.mu.Unlock()
	return r.inner.ReadStatus(ctx, d)
}

func (r *recorder) times() []time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	t := slices.Clone(r.calls)
	slices.SortFunc(t, func(a, b time.Time) int { return a.Compare(b) })
	return t
}

// maxInWindow is the most of the sorted times within any window of length
// w.
func maxInWindow(times []time.Time, w time.Duration) int {
	most, first := 0, 0
	for last := range times {
		for times[last].Sub(times[first]) >= w {
			first++
		}
		most = max(most, last-first+1)
	}
	return most
}
