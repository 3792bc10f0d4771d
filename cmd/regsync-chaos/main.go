// Command regsync-chaos is regsync's reliability harness. It runs several
// `regsync serve` processes against a throwaway PostgreSQL and a simulated
// registrar that injects faults (timeouts, 5xx, 429 bursts, malformed and
// oversized bodies, flapping statuses), kills worker processes with
// SIGKILL mid-run and restarts PostgreSQL once, and then checks that
// nothing was lost: every domain synced, every job ended, outcome rows
// matching job completions one to one, no domain in a status no registrar
// read reported, and no secret in any table, log or metric. It prints its
// figures and exits non-zero when any check fails.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/regsync/regsync/internal/localpg"
	"github.com/regsync/regsync/internal/secret"
	"github.com/regsync/regsync/migrations"
	"github.com/regsync/regsync/registrar"
	"github.com/regsync/regsync/store"
)

type options struct {
	domains, transfers, processes, kills int
	faultRate                            float64
	seed                                 uint64
	timeout                              time.Duration
	binary                               string
}

func main() {
	var opts options
	flag.IntVar(&opts.domains, "domains", 10000, "domains to sync")
	flag.IntVar(&opts.transfers, "transfers", 300, "blocked transfers to retry")
	flag.IntVar(&opts.processes, "processes", 3, "regsync serve processes")
	flag.IntVar(&opts.kills, "kills", 4, "SIGKILLs of worker processes during the run")
	flag.Float64Var(&opts.faultRate, "fault-rate", 0.05, "probability of a random 5xx or 429 on any registrar read")
	flag.Uint64Var(&opts.seed, "seed", 1, "seed of the population and the faults")
	flag.DurationVar(&opts.timeout, "timeout", 8*time.Minute, "give up when the work has not drained by then")
	flag.StringVar(&opts.binary, "regsync", "", "regsync binary to run (default: build ./cmd/regsync)")
	flag.Parse()
	report, err := run(opts)
	if report != nil {
		report.print(os.Stdout)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "regsync-chaos:", err)
		os.Exit(1)
	}
}

// report holds the run's figures and the failed checks.
type report struct {
	domains, transfers, processes          int
	statusJobs, transferJobs, outcomes     int
	attempts, errorOutcomes, scriptedFault int
	kills, postgresRestarts, rescued       int
	elapsed                                time.Duration
	failures                               []string
}

func (r *report) fail(format string, args ...any) {
	r.failures = append(r.failures, fmt.Sprintf(format, args...))
}

func (r *report) print(w io.Writer) {
	fmt.Fprintf(w, "regsync chaos: %d domains, %d transfers, %d processes, %.0fs\n", r.domains, r.transfers, r.processes, r.elapsed.Seconds())
	fmt.Fprintf(w, "  jobs: %d status_sync, %d transfer_retry; %d sync outcomes, %d transfer attempts\n", r.statusJobs, r.transferJobs, r.outcomes, r.attempts)
	fmt.Fprintf(w, "  faults: %d scripted, plus random 5xx/429 on reads; %d syncs recorded a registrar error\n", r.scriptedFault, r.errorOutcomes)
	fmt.Fprintf(w, "  survived: %d SIGKILLs of worker processes (%d jobs they were running rescued and rerun), %d PostgreSQL restart\n", r.kills, r.rescued, r.postgresRestarts)
	fmt.Fprintf(w, "  lost: %d\n", len(r.failures))
	for _, f := range r.failures {
		fmt.Fprintf(w, "  FAILED: %s\n", f)
	}
}

// The secrets the run must never leak.
const (
	registrarToken = "chaos-registrar-token-7f3a"
	authInfoPrefix = "Chs!"
)

func run(opts options) (*report, error) {
	ctx := context.Background()
	started := time.Now()
	rep := &report{domains: opts.domains, transfers: opts.transfers, processes: opts.processes}
	dir, err := os.MkdirTemp("", "regsync-chaos-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)

	if opts.binary == "" {
		opts.binary = filepath.Join(dir, "regsync")
		build := exec.CommandContext(ctx, "go", "build", "-o", opts.binary, "./cmd/regsync")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			return nil, fmt.Errorf("build regsync: %w", err)
		}
	}
	// Durable: the run crashes the server, and without fsync and
	// synchronous commit a crash loses transactions already reported
	// committed, which no application can survive.
	cluster, err := localpg.Start(ctx, localpg.Options{Durable: true})
	if err != nil {
		return nil, err
	}
	defer func() { _ = cluster.Stop() }()
	databaseURL := cluster.URL("postgres")
	pool, err := pgxpool.New(ctx, databaseURL)
	if err != nil {
		return nil, err
	}
	defer pool.Close()
	if _, err := migrations.Up(ctx, pool, nil); err != nil {
		return nil, err
	}

	simAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	simulator := &process{name: "simulate", binary: opts.binary, logPath: filepath.Join(dir, "simulate.log"),
		args: []string{"simulate", "--addr", simAddr, "--latency", "2ms", "--fault-rate", fmt.Sprint(opts.faultRate), "--seed", fmt.Sprint(opts.seed)},
		env:  []string{"REGSYNC_SIM_TOKEN=" + registrarToken}}
	if err := simulator.start(); err != nil {
		return nil, err
	}
	defer simulator.stop()
	simURL := "http://" + simAddr
	if err := waitForHTTP(simURL+"/sim/domains/dom_probe", http.StatusOK, 10*time.Second); err != nil {
		return nil, fmt.Errorf("simulator: %w", err)
	}

	keySpec, err := secret.GenerateKey("chaos")
	if err != nil {
		return nil, err
	}
	keyring, err := secret.ParseKeyring(keySpec)
	if err != nil {
		return nil, err
	}
	pop, err := seed(ctx, store.New(pool), keyring, simURL, opts)
	if err != nil {
		return nil, err
	}
	rep.scriptedFault = pop.scriptedFaults

	env := []string{
		"DATABASE_URL=" + databaseURL,
		"REGSYNC_REGISTRARS=hostup,hostway",
		"REGSYNC_HOSTUP_URL=" + simURL, "REGSYNC_HOSTUP_TOKEN=" + registrarToken, "REGSYNC_HOSTUP_TIMEOUT=1s",
		"REGSYNC_HOSTWAY_URL=" + simURL, "REGSYNC_HOSTWAY_TOKEN=" + registrarToken, "REGSYNC_HOSTWAY_TIMEOUT=1s",
		"REGSYNC_SECRET_KEY=" + keySpec,
		"REGSYNC_LOG_LEVEL=debug",
	}
	workerArgs := []string{"serve", "--workers", "25", "--double-sync-delay", "100ms", "--sweep-interval", "2s",
		"--job-timeout", "5s", "--rescue-after", "8s", "--max-retry-delay", "3s", "--db-max-conns", "10"}
	workers := make([]*process, opts.processes)
	for i := range workers {
		addr, err := freeAddr()
		if err != nil {
			return nil, err
		}
		workers[i] = &process{name: fmt.Sprintf("serve-%d", i), binary: opts.binary, env: env,
			logPath: filepath.Join(dir, fmt.Sprintf("serve-%d.log", i)), args: append(workerArgs, "--http-addr", addr), metricsURL: "http://" + addr + "/metrics"}
		if err := workers[i].start(); err != nil {
			return nil, err
		}
	}
	defer func() {
		for _, w := range workers {
			w.stop()
		}
	}()

	// Chaos: kill a worker every few seconds, restart it, and restart
	// PostgreSQL once half-way, while the work drains.
	rng := rand.New(rand.NewPCG(opts.seed, 2))
	var scraped []string
	deadline := time.Now().Add(opts.timeout)
	restartAt := opts.kills / 2
	for rep.kills < opts.kills {
		time.Sleep(time.Duration(2000+rng.IntN(2000)) * time.Millisecond)
		if rep.kills == restartAt && rep.postgresRestarts == 0 {
			if err := cluster.Restart(ctx); err != nil {
				return rep, fmt.Errorf("restart PostgreSQL: %w", err)
			}
			rep.postgresRestarts++
		}
		victim := workers[rng.IntN(len(workers))]
		scraped = append(scraped, victim.scrape())
		if err := victim.kill(); err != nil {
			return rep, err
		}
		rep.kills++
		if err := victim.start(); err != nil {
			return rep, err
		}
	}
	if err := waitForDrain(ctx, pool, deadline); err != nil {
		rep.fail("%v", err)
	}
	for _, w := range workers {
		scraped = append(scraped, w.scrape())
		w.stop()
	}
	simulator.stop()
	rep.elapsed = time.Since(started)

	if err := check(ctx, pool, pop, rep); err != nil {
		return rep, err
	}
	checkSecrets(ctx, store.New(pool), pop.authInfos, append(scraped, logs(dir)...), rep)
	if len(rep.failures) > 0 {
		return rep, errors.New("checks failed")
	}
	return rep, nil
}

// population is what was seeded: each domain's initial status, and the
// authInfo values supplied.
type population struct {
	initialStatus  map[string]registrar.Status
	authInfos      []string
	scriptedFaults int
}

// domainScripts is the mix of registrar behaviours, weights in percent.
var domainScripts = []struct {
	weight   int
	status   registrar.Status
	statuses []string
	cycle    bool
	faults   int
}{
	{55, "active", []string{"active"}, false, 0},
	{8, "pending", []string{"active"}, false, 0},
	{6, "active", []string{"expired"}, false, 0},
	{6, "active", []string{"expired", "active"}, true, 0},
	{5, "active", []string{"!500", "active"}, false, 1},
	{5, "active", []string{"!429:1s", "!429:1s", "active"}, false, 2},
	{4, "pending", []string{"!garbage", "active"}, false, 1},
	{3, "active", []string{"!huge", "active"}, false, 1},
	{3, "suspended", []string{"!timeout", "suspended"}, false, 1},
	{3, "active", []string{"parked"}, false, 1},
	{2, "active", []string{"!404"}, false, 1},
}

// transferScripts is the mix of transfer orders: resets and status reads.
var transferScripts = []struct {
	resets, statuses []string
	authInfo         bool
}{
	{[]string{"202"}, []string{"blocked:resettable", "pending"}, false},
	{[]string{"500", "202"}, []string{"blocked:resettable"}, false},
	{[]string{"!timeout", "202"}, []string{"blocked:resettable"}, true},
	{[]string{"404bad"}, []string{"blocked:resettable"}, true},
	{[]string{"409"}, []string{"blocked:resettable"}, false},
	{[]string{"404"}, []string{"blocked:resettable"}, false},
	{nil, []string{"completed"}, false},
	{[]string{"!429", "204"}, []string{"blocked:resettable", "pending"}, true},
}

func seed(ctx context.Context, st *store.Store, keyring *secret.Keyring, simURL string, opts options) (population, error) {
	rng := rand.New(rand.NewPCG(opts.seed, 1))
	pop := population{initialStatus: map[string]registrar.Status{}}
	domains := make([]store.NewDomain, opts.domains)
	for i := range domains {
		pick := rng.IntN(100)
		script := domainScripts[0]
		for _, s := range domainScripts {
			if pick < s.weight {
				script = s
				break
			}
			pick -= s.weight
		}
		d := store.NewDomain{ID: fmt.Sprintf("dom_chaos%06d", i), Name: fmt.Sprintf("chaos-%06d.se", i), Registrar: "hostup", Status: script.status}
		domains[i] = d
		pop.initialStatus[d.ID] = d.Status
		pop.scriptedFaults += script.faults
		body, _ := json.Marshal(map[string]any{"name": d.Name, "statuses": script.statuses, "cycle": script.cycle})
		if err := put(simURL+"/sim/domains/"+d.ID, body); err != nil {
			return pop, err
		}
	}
	if err := st.AddDomains(ctx, domains); err != nil {
		return pop, err
	}
	for i := range opts.transfers {
		script := transferScripts[rng.IntN(len(transferScripts))]
		t := store.NewTransfer{ID: fmt.Sprintf("trf_chaos%05d", i), AccountNumber: "acct-chaos", DomainName: fmt.Sprintf("chaos-transfer-%05d.se", i),
			Registrar: "hostway", BlockReason: "no_response"}
		if err := st.AddTransfer(ctx, t); err != nil {
			return pop, err
		}
		body, _ := json.Marshal(map[string]any{"owner": t.AccountNumber, "resets": script.resets, "statuses": script.statuses})
		if err := put(simURL+"/sim/transfers/"+t.AccountNumber+"/"+t.DomainName, body); err != nil {
			return pop, err
		}
		if script.authInfo {
			authInfo := fmt.Sprintf("%s%08d", authInfoPrefix, i)
			if _, err := st.RequestReset(ctx, keyring, store.ResetRequest{TransferID: t.ID, AuthInfo: authInfo}); err != nil {
				return pop, err
			}
			pop.authInfos = append(pop.authInfos, authInfo)
		}
	}
	return pop, nil
}

// waitForDrain waits until no domain has gone unsynced and no job is left
// to run.
func waitForDrain(ctx context.Context, pool *pgxpool.Pool, deadline time.Time) error {
	for {
		var unsynced, open int
		err := pool.QueryRow(ctx, `
			SELECT (SELECT count(*) FROM regsync.domains d
					WHERE NOT EXISTS (SELECT 1 FROM regsync.status_sync_outcomes o WHERE o.domain_id = d.id)),
				(SELECT count(*) FROM regsync.river_job WHERE kind <> 'sweep'
					AND state IN ('available', 'pending', 'running', 'retryable', 'scheduled'))`).Scan(&unsynced, &open)
		if err == nil && unsynced == 0 && open == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("work did not drain in time: %d domains never synced, %d jobs open (last error %v)", unsynced, open, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// check runs the database checks.
func check(ctx context.Context, pool *pgxpool.Pool, pop population, rep *report) error {
	counts := []struct {
		into  *int
		query string
	}{
		{&rep.statusJobs, `SELECT count(*) FROM regsync.river_job WHERE kind = 'status_sync'`},
		{&rep.transferJobs, `SELECT count(*) FROM regsync.river_job WHERE kind = 'transfer_retry'`},
		{&rep.outcomes, `SELECT count(*) FROM regsync.status_sync_outcomes`},
		{&rep.attempts, `SELECT count(*) FROM regsync.transfer_attempts`},
		{&rep.errorOutcomes, `SELECT count(*) FROM regsync.status_sync_outcomes WHERE NOT sync_success`},
		{&rep.rescued, `SELECT count(*) FROM regsync.river_job WHERE errors::text LIKE '%rescued by JobRescuer%'`},
	}
	for _, c := range counts {
		if err := pool.QueryRow(ctx, c.query).Scan(c.into); err != nil {
			return err
		}
	}
	violations := []struct {
		what  string
		query string
	}{
		{"domains never synced", `SELECT count(*) FROM regsync.domains d
			WHERE NOT EXISTS (SELECT 1 FROM regsync.status_sync_outcomes o WHERE o.domain_id = d.id)`},
		{"jobs not ended", `SELECT count(*) FROM regsync.river_job WHERE kind <> 'sweep' AND state NOT IN ('completed', 'cancelled', 'discarded')`},
		{"jobs discarded after exhausting their attempts", `SELECT count(*) FROM regsync.river_job WHERE state = 'discarded'`},
		{"completed status_sync jobs without exactly one outcome of their last run", `SELECT count(*) FROM regsync.river_job j
			WHERE j.kind = 'status_sync' AND j.state = 'completed'
			AND (SELECT count(*) FROM regsync.status_sync_outcomes o WHERE o.job_id = j.id AND o.job_attempted_at = j.attempted_at) <> 1`},
		{"completed transfer_retry jobs without exactly one attempt row of their last run", `SELECT count(*) FROM regsync.river_job j
			WHERE j.kind = 'transfer_retry' AND j.state = 'completed'
			AND (SELECT count(*) FROM regsync.transfer_attempts a WHERE a.job_id = j.id AND a.job_attempted_at = j.attempted_at) <> 1`},
		{"outcome rows written twice for one job run", `SELECT count(*) FROM (SELECT job_id, job_attempted_at FROM regsync.status_sync_outcomes
			WHERE job_id IS NOT NULL GROUP BY job_id, job_attempted_at HAVING count(*) > 1) dup`},
		{"transfer attempt rows written twice for one job run", `SELECT count(*) FROM (SELECT job_id, job_attempted_at FROM regsync.transfer_attempts
			WHERE job_id IS NOT NULL GROUP BY job_id, job_attempted_at HAVING count(*) > 1) dup`},
		{"outcome rows of jobs that do not exist", `SELECT count(*) FROM regsync.status_sync_outcomes o
			WHERE o.job_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM regsync.river_job j WHERE j.id = o.job_id)`},
		{"domains left with an unconfirmed change", `SELECT count(*) FROM regsync.domains WHERE unconfirmed_from_status IS NOT NULL`},
		{"transfers left open and due", `SELECT count(*) FROM regsync.transfers WHERE state IN ('blocked', 'in_progress') AND next_retry_at <= now() - interval '30 seconds'`},
	}
	for _, v := range violations {
		var n int
		if err := pool.QueryRow(ctx, v.query).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			rep.fail("%s: %d", v.what, n)
		}
	}

	// No domain is in a status that no registrar read reported, other than
	// the one it started with.
	rows, err := pool.Query(ctx, `
		SELECT d.id, d.status, coalesce(array_agg(DISTINCT r.raw) FILTER (WHERE r.raw IS NOT NULL), '{}')
		FROM regsync.domains d
		LEFT JOIN regsync.status_sync_outcomes o ON o.domain_id = d.id
		LEFT JOIN LATERAL (VALUES (o.raw_status_first), (o.raw_status_second)) r(raw) ON true
		GROUP BY d.id, d.status`)
	if err != nil {
		return err
	}
	defer rows.Close()
	unexplained := 0
	for rows.Next() {
		var id string
		var status registrar.Status
		var raws []string
		if err := rows.Scan(&id, &status, &raws); err != nil {
			return err
		}
		explained := status == pop.initialStatus[id]
		for _, raw := range raws {
			explained = explained || registrar.MapHostup(raw) == status
		}
		if !explained {
			unexplained++
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if unexplained > 0 {
		rep.fail("domains in a status no registrar read reported: %d", unexplained)
	}
	return nil
}

// checkSecrets looks for the registrar token and every authInfo in the
// database, the processes' logs and the scraped metrics.
func checkSecrets(ctx context.Context, st *store.Store, authInfos []string, texts []string, rep *report) {
	for _, s := range append([]string{registrarToken}, authInfos...) {
		tables, err := st.TablesContaining(ctx, s)
		if err != nil {
			rep.fail("search the database for secrets: %v", err)
			return
		}
		if len(tables) > 0 {
			rep.fail("a secret is stored in plaintext in %s", strings.Join(tables, ", "))
		}
		for _, text := range texts {
			if strings.Contains(text, s) {
				rep.fail("a secret appears in a log or a metric")
				break
			}
		}
	}
}

func logs(dir string) []string {
	paths, _ := filepath.Glob(filepath.Join(dir, "*.log"))
	var texts []string
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err == nil {
			texts = append(texts, string(b))
		}
	}
	return texts
}

// process is a regsync child process, its output appended to a log file.
type process struct {
	name, binary, logPath, metricsURL string
	args, env                         []string
	cmd                               *exec.Cmd
}

func (p *process) start() error {
	logFile, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	p.cmd = exec.Command(p.binary, p.args...) //nolint:noctx // killed and stopped by signals, not by a context
	p.cmd.Env = append(os.Environ(), p.env...)
	p.cmd.Stdout, p.cmd.Stderr = logFile, logFile
	if err := p.cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", p.name, err)
	}
	go func() { _ = p.cmd.Wait(); _ = logFile.Close() }()
	return nil
}

func (p *process) kill() error {
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		return fmt.Errorf("kill %s: %w", p.name, err)
	}
	for p.cmd.ProcessState == nil {
		time.Sleep(10 * time.Millisecond)
	}
	return nil
}

// stop asks the process to stop and waits for it.
func (p *process) stop() {
	if p.cmd == nil || p.cmd.ProcessState != nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	for range 600 {
		if p.cmd.ProcessState != nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	_ = p.cmd.Process.Kill()
}

// scrape returns the process's metrics page, or nothing when it does not
// answer.
func (p *process) scrape() string {
	if p.metricsURL == "" {
		return ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.metricsURL, nil)
	if err != nil {
		return ""
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func put(url string, body []byte) error {
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPut, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+registrarToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("PUT %s: %s: %s", url, resp.Status, b)
	}
	return nil
}

func waitForHTTP(url string, want int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, url, nil)
		req.Header.Set("Authorization", "Bearer "+registrarToken)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == want {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not answer %d in %s", url, want, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func freeAddr() (string, error) {
	l, err := new(net.ListenConfig).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}
