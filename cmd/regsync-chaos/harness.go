package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/regsync/regsync/internal/localpg"
	"github.com/regsync/regsync/internal/secret"
	"github.com/regsync/regsync/migrations"
	"github.com/regsync/regsync/registrar"
	"github.com/regsync/regsync/store"
)

// The secrets a run must never leak.
const (
	registrarToken = "chaos-registrar-token-7f3a"
	authInfoPrefix = "Chs!"
)

// workerApplicationName names the worker processes' database connections,
// so that the connection-kills scenario finds them.
const workerApplicationName = "regsync-worker"

// harness runs one scenario.
type harness struct {
	opts     options
	cluster  *localpg.Cluster
	dir      string
	scenario scenario
	seed     uint64

	pool      *pgxpool.Pool
	dbURL     string
	simURL    string
	simulator *process
	workers   []*process
	pop       population
	rep       *report

	mu      sync.Mutex
	scraped []string
}

func (h *harness) run(ctx context.Context) (*report, error) {
	started := time.Now()
	h.rep = &report{scenario: h.scenario, domains: h.opts.domains, transfers: h.opts.transfers, processes: h.opts.processes}
	if err := os.MkdirAll(h.dir, 0o700); err != nil {
		return nil, err
	}
	if err := h.setUp(ctx); err != nil {
		return nil, err
	}
	defer h.tearDown()

	// The fault runs while the work does; each injection is bounded in
	// time, and the work then drains.
	if err := h.scenario.inject(ctx, h); err != nil {
		return h.rep, fmt.Errorf("inject %s: %w", h.scenario.name, err)
	}
	if err := h.waitForDrain(ctx, time.Now().Add(h.opts.timeout)); err != nil {
		h.rep.fail("%v", err)
	}
	for _, w := range h.workers {
		h.scrape(w)
		w.stop()
	}
	h.simulator.stop()
	h.rep.elapsed = time.Since(started)
	if err := h.check(ctx); err != nil {
		return h.rep, err
	}
	return h.rep, nil
}

// setUp makes the scenario's database, simulator, population and worker
// processes.
func (h *harness) setUp(ctx context.Context) error {
	dbName := "chaos_" + h.scenario.dbName()
	admin, err := pgx.Connect(ctx, h.cluster.URL("postgres"))
	if err != nil {
		return err
	}
	_, err = admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{dbName}.Sanitize())
	_ = admin.Close(ctx)
	if err != nil {
		return fmt.Errorf("create database: %w", err)
	}
	h.dbURL = h.cluster.URL(dbName)
	if h.pool, err = pgxpool.New(ctx, h.dbURL); err != nil {
		return err
	}
	if _, err := migrations.Up(ctx, h.pool, nil); err != nil {
		return err
	}

	simAddr, err := freeAddr()
	if err != nil {
		return err
	}
	h.simulator = &process{name: "simulate", binary: h.opts.binary, logPath: filepath.Join(h.dir, "simulate.log"),
		args: []string{"simulate", "--addr", simAddr, "--latency", "2ms", "--fault-rate", fmt.Sprint(h.opts.faultRate), "--seed", fmt.Sprint(h.seed)},
		env:  []string{"REGSYNC_SIM_TOKEN=" + registrarToken}}
	if err := h.simulator.start(); err != nil {
		return err
	}
	h.simURL = "http://" + simAddr
	if err := waitForHTTP(h.simURL+"/sim/domains/dom_probe", http.StatusOK, 10*time.Second); err != nil {
		return fmt.Errorf("simulator: %w", err)
	}

	keySpec, err := secret.GenerateKey("chaos")
	if err != nil {
		return err
	}
	keyring, err := secret.ParseKeyring(keySpec)
	if err != nil {
		return err
	}
	if h.pop, err = h.seedPopulation(ctx, store.New(h.pool), keyring); err != nil {
		return err
	}

	workerURL, err := url.Parse(h.dbURL)
	if err != nil {
		return err
	}
	q := workerURL.Query()
	q.Set("application_name", workerApplicationName)
	workerURL.RawQuery = q.Encode()
	env := append([]string{
		"DATABASE_URL=" + workerURL.String(),
		"REGSYNC_REGISTRARS=hostup,hostway",
		"REGSYNC_HOSTUP_URL=" + h.simURL, "REGSYNC_HOSTUP_TOKEN=" + registrarToken, "REGSYNC_HOSTUP_TIMEOUT=1s",
		"REGSYNC_HOSTWAY_URL=" + h.simURL, "REGSYNC_HOSTWAY_TOKEN=" + registrarToken, "REGSYNC_HOSTWAY_TIMEOUT=1s",
		"REGSYNC_SECRET_KEY=" + keySpec,
		"REGSYNC_LOG_LEVEL=debug",
	}, h.scenario.env...)
	args := []string{"serve", "--workers", "25", "--double-sync-delay", "100ms", "--sweep-interval", "2s",
		"--job-timeout", "3s", "--rescue-after", "10s", "--max-retry-delay", "2s", "--db-max-conns", "10"}
	args = append(args, h.scenario.args...)
	h.workers = make([]*process, h.opts.processes)
	for i := range h.workers {
		addr, err := freeAddr()
		if err != nil {
			return err
		}
		h.workers[i] = &process{name: fmt.Sprintf("serve-%d", i), binary: h.opts.binary, env: env,
			logPath: filepath.Join(h.dir, fmt.Sprintf("serve-%d.log", i)), args: append(args, "--http-addr", addr), metricsURL: "http://" + addr + "/metrics"}
		if err := h.workers[i].start(); err != nil {
			return err
		}
	}
	return nil
}

func (h *harness) tearDown() {
	for _, w := range h.workers {
		w.stop()
	}
	if h.simulator != nil {
		h.simulator.stop()
	}
	if h.pool != nil {
		h.pool.Close()
	}
}

// scrape keeps a worker's metrics page, for the checks.
func (h *harness) scrape(w *process) {
	page := w.scrape()
	h.mu.Lock()
	h.scraped = append(h.scraped, page)
	h.mu.Unlock()
}

// population is what was seeded: each domain's initial status, and the
// authInfo values supplied.
type population struct {
	initialStatus  map[string]registrar.Status
	authInfos      []string
	scriptedFaults int
}

// domainScript is one registrar behaviour of the population mix.
type domainScript struct {
	weight   int // in percent
	status   registrar.Status
	statuses []string
	cycle    bool
	faults   int
}

// baseScripts is every scenario's mix of registrar behaviours; a
// scenario's own scripts take the first part of the population.
var baseScripts = []domainScript{
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

// pick draws a script from mix by weight.
func pick(rng *rand.Rand, mix []domainScript) domainScript {
	total := 0
	for _, s := range mix {
		total += s.weight
	}
	n := rng.IntN(total)
	for _, s := range mix {
		if n < s.weight {
			return s
		}
		n -= s.weight
	}
	return mix[0]
}

func (h *harness) seedPopulation(ctx context.Context, st *store.Store, keyring *secret.Keyring) (population, error) {
	rng := rand.New(rand.NewPCG(h.seed, 1))
	pop := population{initialStatus: map[string]registrar.Status{}}
	domains := make([]store.NewDomain, h.opts.domains)
	own := h.opts.domains * h.scenario.share / 100
	for i := range domains {
		script := pick(rng, baseScripts)
		if i < own {
			script = pick(rng, h.scenario.scripts)
		}
		d := store.NewDomain{ID: fmt.Sprintf("dom_chaos%06d", i), Name: fmt.Sprintf("chaos-%06d.se", i), Registrar: "hostup", Status: script.status}
		domains[i] = d
		pop.initialStatus[d.ID] = d.Status
		pop.scriptedFaults += script.faults
		body, _ := json.Marshal(map[string]any{"name": d.Name, "statuses": script.statuses, "cycle": script.cycle})
		if err := put(h.simURL+"/sim/domains/"+d.ID, body); err != nil {
			return pop, err
		}
	}
	if err := st.AddDomains(ctx, domains); err != nil {
		return pop, err
	}
	for i := range h.opts.transfers {
		script := transferScripts[rng.IntN(len(transferScripts))]
		t := store.NewTransfer{ID: fmt.Sprintf("trf_chaos%05d", i), AccountNumber: "acct-chaos", DomainName: fmt.Sprintf("chaos-transfer-%05d.se", i),
			Registrar: "hostway", BlockReason: "no_response"}
		if err := st.AddTransfer(ctx, t); err != nil {
			return pop, err
		}
		body, _ := json.Marshal(map[string]any{"owner": t.AccountNumber, "resets": script.resets, "statuses": script.statuses})
		if err := put(h.simURL+"/sim/transfers/"+t.AccountNumber+"/"+t.DomainName, body); err != nil {
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
func (h *harness) waitForDrain(ctx context.Context, deadline time.Time) error {
	for {
		var unsynced, open int
		err := h.pool.QueryRow(ctx, `
			SELECT (SELECT count(*) FROM regsync.domains d
					WHERE NOT EXISTS (SELECT 1 FROM regsync.status_sync_outcomes o WHERE o.domain_id = d.id)),
				(SELECT count(*) FROM regsync.river_job WHERE kind <> 'sweep'
					AND state IN ('available', 'pending', 'running', 'retryable', 'scheduled'))`).Scan(&unsynced, &open)
		if err == nil && unsynced == 0 && open == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w: %d domains never synced, %d jobs open (last error %v)", errDrain, unsynced, open, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// process is a regsync child process, its output appended to a log file.
type process struct {
	name, binary, logPath, metricsURL string
	args, env                         []string
	cmd                               *exec.Cmd
	done                              chan struct{}
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
		_ = logFile.Close()
		return fmt.Errorf("start %s: %w", p.name, err)
	}
	p.done = make(chan struct{})
	go func() {
		_ = p.cmd.Wait()
		_ = logFile.Close()
		close(p.done)
	}()
	return nil
}

func (p *process) kill() error {
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		return fmt.Errorf("kill %s: %w", p.name, err)
	}
	<-p.done
	return nil
}

// stop asks the process to stop and waits for it, killing it after 30 s.
func (p *process) stop() {
	if p.cmd == nil {
		return
	}
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
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

func build(ctx context.Context, binary string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-o", binary, "./cmd/regsync")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("build regsync: %w", err)
	}
	return nil
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
