package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"syscall"
	"time"

	"github.com/regsync/regsync/migrations"
	"github.com/regsync/regsync/store"
)

// The goals of the million suite.
const (
	scrapeGoal = 100 * time.Millisecond
	rssGoalKB  = 100 << 10
	// The API's status-sync latency goal is the registrar's latency plus
	// the double-sync delay plus one second.
	registrarLatency = 50 * time.Millisecond
	apiLatencyGoal   = registrarLatency + 2*time.Second + time.Second
)

// millionSuite migrates a database of --domains domains that the previous
// release left, sweeps them, then runs `regsync serve` on the backlog and
// measures its scrapes, its memory and the HTTP API's status syncs, which
// must jump the queue.
func millionSuite(ctx context.Context, opts options) error {
	pool, dbURL, err := newDatabase(ctx, opts, "bench_million", 8)
	if err != nil {
		return err
	}
	defer pool.Close()
	// The last migration of the release before this one's changes.
	if _, err := migrations.UpTo(ctx, pool, nil, 4); err != nil {
		return err
	}
	if err := addDueDomains(ctx, pool, opts.domains); err != nil {
		return err
	}
	start := time.Now()
	if _, err := migrations.Up(ctx, pool, nil); err != nil {
		return err
	}
	note(fmt.Sprintf("migrate: upgrade of a database of %d domains", opts.domains), fmt.Sprintf("%.1fs", time.Since(start).Seconds()))
	if _, err := pool.Exec(ctx, `ANALYZE regsync.domains`); err != nil {
		return err
	}
	took, err := timeSweep(ctx, pool, opts.domains)
	if err != nil {
		return err
	}
	goal := time.Duration(float64(sweepGoalPerMillion) * float64(opts.domains) / 1e6)
	figure(fmt.Sprintf("sweep enqueue of %d due domains (after the upgrade)", opts.domains),
		fmt.Sprintf("%.1fs (%.0f/s)", took.Seconds(), perSecond(opts.domains, took)), fmt.Sprintf("at most %s", goal), took <= goal)

	_, token, err := store.New(pool).CreateAPIKey(ctx, "bench", store.Scopes)
	if err != nil {
		return err
	}
	httpAddr, err := freeAddr()
	if err != nil {
		return err
	}
	apiAddr, err := freeAddr()
	if err != nil {
		return err
	}
	serve := exec.Command(opts.binary, "serve", "--http-addr", httpAddr, "--api-addr", apiAddr, "--workers", "50") //nolint:noctx // stopped by a signal
	serve.Env = append(os.Environ(), "DATABASE_URL="+dbURL, "REGSYNC_REGISTRARS=sim",
		"REGSYNC_SIM_LATENCY="+registrarLatency.String(), "REGSYNC_LOG_LEVEL=error")
	serve.Stderr = os.Stderr
	if err := serve.Start(); err != nil {
		return err
	}
	defer func() {
		_ = serve.Process.Signal(syscall.SIGTERM)
		_ = serve.Wait()
	}()
	if err := waitReady("http://" + httpAddr + "/readyz"); err != nil {
		return err
	}

	var scrapes []time.Duration
	for range 20 {
		took, err := timeRequest(ctx, http.MethodGet, "http://"+httpAddr+"/metrics", "")
		if err != nil {
			return err
		}
		scrapes = append(scrapes, took)
		time.Sleep(250 * time.Millisecond)
	}
	slices.Sort(scrapes)
	figure(fmt.Sprintf("/metrics scrape with %d domains and jobs, 20 scrapes", opts.domains),
		fmt.Sprintf("median %s, max %s", ms(scrapes[len(scrapes)/2]), ms(scrapes[len(scrapes)-1])), "at most "+ms(scrapeGoal), scrapes[len(scrapes)-1] <= scrapeGoal)

	rng := rand.New(rand.NewPCG(1, 2))
	var latencies []time.Duration
	for range 100 {
		url := fmt.Sprintf("http://%s/api/v2/domains/dom_%d/actions/status-sync", apiAddr, 1+rng.IntN(opts.domains))
		took, err := timeRequest(ctx, http.MethodPost, url, token)
		if err != nil {
			return err
		}
		latencies = append(latencies, took)
	}
	slices.Sort(latencies)
	p50, p99 := latencies[49], latencies[98]
	figure(fmt.Sprintf("API status sync while %d domains wait, 100 requests", opts.domains),
		fmt.Sprintf("p50 %s, p99 %s", ms(p50), ms(p99)), "p99 at most "+ms(apiLatencyGoal), p99 <= apiLatencyGoal)

	rss, err := peakRSS(strconv.Itoa(serve.Process.Pid))
	if err != nil {
		return err
	}
	figure("peak RSS of regsync serve", fmt.Sprintf("%d MB", rss>>10), fmt.Sprintf("at most %d MB", rssGoalKB>>10), rss <= rssGoalKB)
	return nil
}

// timeRequest sends one request and times it to the end of the answer's
// body, which must come with a 200.
func timeRequest(ctx context.Context, method, url, token string) (time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, nil)
	if err != nil {
		return 0, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	took := time.Since(start)
	if err != nil {
		return 0, err
	}
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("%s %s: %s: %s", method, url, resp.Status, body)
	}
	return took, nil
}

func waitReady(url string) error {
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("%s was not ready within a minute", url)
}

func freeAddr() (string, error) {
	l, err := new(net.ListenConfig).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

func ms(d time.Duration) string { return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond)) }
