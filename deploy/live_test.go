package deploy_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/regsync/regsync/internal/localpg"
)

// simToken is the simulator's bearer token, which both registrar adapters
// send.
const simToken = "live-test-token"

// secretKey seals the webhooks' signing secrets: key id "live", 32 bytes.
const secretKey = "live:bGl2ZS10ZXN0LWtleS1vZi10aGlydHktdHdvLWJ5dGU="

// TestAlertsLive proves the alert rules and the dashboard against what
// regsync serve really exports. A real Prometheus server, loading
// prometheus/alerts.yml unchanged and scraping and evaluating every
// second, scrapes a regsync serve built from this repository, which syncs
// domains against regsync simulate on a throwaway database. The test
// injects faults and asserts through Prometheus' HTTP API that exactly the
// matching alerts become active and that the dashboard's queries return
// data; then that losing the database, and then the process, raise their
// alerts.
//
// The rules wait minutes before firing; the test does not: an alert whose
// expression holds is pending from the first evaluation, and pending or
// firing counts as active.
func TestAlertsLive(t *testing.T) {
	prometheusBin := prometheusServer(t)
	dir := t.TempDir()
	regsyncBin := buildRegsync(t, dir)
	admin, dbName, databaseURL := liveDatabase(t)
	addrs := freeAddrs(t, 4)
	simAddr, metricsAddr, apiAddr, promAddr := addrs[0], addrs[1], addrs[2], addrs[3]

	env := []string{
		"DATABASE_URL=" + databaseURL,
		"REGSYNC_SIM_TOKEN=" + simToken,
		"REGSYNC_HOSTUP_URL=http://" + simAddr,
		"REGSYNC_HOSTUP_TOKEN=" + simToken,
		"REGSYNC_HOSTWAY_URL=http://" + simAddr,
		"REGSYNC_HOSTWAY_TOKEN=" + simToken,
		"REGSYNC_SECRET_KEY=" + secretKey,
	}
	runRegsync(t, regsyncBin, env, "migrate")
	apiToken := strings.TrimSpace(runRegsync(t, regsyncBin, env, "apikey", "create", "--name", "live-test", "--scope", "read:domains"))
	db := connect(t, databaseURL)

	startProcess(t, dir, "simulate", env, regsyncBin, "simulate", "--addr", simAddr)
	sim := simulator("http://" + simAddr)
	waitHTTP(t, string(sim)+"/sim/domains/dom_none", simToken)

	// Before serve starts, so that its first gauges count them: acme, a
	// registrar no adapter here serves, has a domain two days overdue
	// whose sync waits in acme's queue, which no process works, and a
	// transfer blocked 58 days ago, two days before its deadline, whose
	// retries meet no adapter that can make them.
	execSQL(t, db, `INSERT INTO regsync.domains (id, name, registrar, status, next_sync_at)
		VALUES ('dom_stuck', 'stuck.example.com', 'acme', 'active', now() - interval '2 days')`)
	execSQL(t, db, `SELECT regsync.enqueue_status_sync('dom_stuck')`)
	runRegsync(t, regsyncBin, env, "transfer", "add", "--id", "trf_acme", "--account", "acct1",
		"--domain", "deadline-live.se", "--registrar", "acme", "--reason", "no_response",
		"--blocked-since", time.Now().Add(-58*24*time.Hour).UTC().Format(time.RFC3339))

	// Three webhook endpoints take every change: one delivers, one
	// answers 503 and is retried, one is gone (410) and is disabled.
	for _, code := range []int{http.StatusNoContent, http.StatusServiceUnavailable, http.StatusGone} {
		endpoint := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(code) }))
		t.Cleanup(endpoint.Close)
		runRegsync(t, regsyncBin, env, "webhook", "add", endpoint.URL, "--allow-http",
			"--events", "changed,unconfirmed,confirmed,reverted")
	}

	// Rate limits, so that their waits are measured, and the HTTP API,
	// whose syncs time out after a second.
	serve := startProcess(t, dir, "serve", env, regsyncBin, "serve", "--http-addr", metricsAddr, "--api-addr", apiAddr,
		"--registrars", "hostup,hostway", "--rate-limits", "hostup=1000,hostway=100",
		"--sweep-interval", "1s", "--double-sync-delay", "100ms", "--api-sync-timeout", "1s")
	waitHTTP(t, "http://"+metricsAddr+"/readyz", "")
	prom := startPrometheus(t, dir, prometheusBin, promAddr, metricsAddr)
	// The counters must have been scraped before the faults increment them.
	eventually(t, 30*time.Second, func() error { return prom.hasData(t, `up{job="regsync"} == 1`) })

	// Hostup refuses regsync's credentials while four new domains are
	// synced. The outage ends once Prometheus has seen it, and their syncs
	// go through.
	sim.put(t, "/sim/outage", `{"status": 401, "for": "1m"}`)
	addDomains(t, db, sim, "outage", 4, "pending", `["active"]`, false)
	eventually(t, 30*time.Second, func() error {
		return prom.alertActive(t, `RegsyncRegistrarCredentialsRefused{registrar="hostup"}`)
	})
	sim.put(t, "/sim/outage", `{"status": 401, "for": "1ns"}`)

	// Fifteen flapping domains, more than RegsyncRevertSpike's 10 and
	// RegsyncContradictions' least count of confirming reads: each first
	// read leaves active, a guarded change; the confirming read
	// contradicts it and the change is reverted. Twenty domains whose
	// every read answers 503: with their retries, over a tenth of
	// hostup's requests, which number more than RegsyncRegistrarErrors'
	// least count of 20. A hostway transfer of another account, whose
	// reset is forbidden.
	addDomains(t, db, sim, "flap", 15, "active", `["suspended", "active"]`, true)
	addDomains(t, db, sim, "down", 20, "active", `["!503"]`, false)
	sim.put(t, "/sim/transfers/acct1/forbidden-live.se", `{"owner": "acct2"}`)
	runRegsync(t, regsyncBin, env, "transfer", "add", "--id", "trf_forbidden", "--account", "acct1",
		"--domain", "forbidden-live.se", "--registrar", "hostway", "--reason", "rejected")

	// The HTTP API: a sync that times out waiting in acme's queue.
	apiSync(t, "http://"+apiAddr, apiToken, "dom_stuck", http.StatusGatewayTimeout)

	// Exactly these alerts become active (the webhooks' from the changes
	// above). Every other rule stays
	// inactive: RegsyncRevertFailed (no revert failed), RegsyncDown,
	// RegsyncInstanceDown, RegsyncDatabaseDown, RegsyncGaugesStale,
	// RegsyncHistoryPartitionMissing, RegsyncAuthInfoRevertFailed; and so
	// do these alerts for other labels: hostway's two requests are too few
	// for RegsyncRegistrarErrors, the outage was over before hostway was
	// asked anything, and the other queues are worked.
	want := []string{
		`RegsyncContradictions{}`,
		`RegsyncQueueStuck{queue="status_sync_acme"}`,
		`RegsyncRegistrarCredentialsRefused{registrar="hostup"}`,
		`RegsyncRegistrarErrors{registrar="hostup"}`,
		`RegsyncRegistrarNotConfigured{registrar="acme"}`,
		`RegsyncRevertSpike{}`,
		`RegsyncSyncFallingBehind{}`,
		`RegsyncSyncLagBeyondInterval{}`,
		`RegsyncTransferResetForbidden{registrar="hostway"}`,
		`RegsyncTransfersNearDeadline{}`,
		`RegsyncWebhookDeliveriesLost{}`,
		`RegsyncWebhookFailing{}`,
	}
	eventually(t, 60*time.Second, func() error {
		active := prom.activeAlerts(t)
		var missing, extra []string
		for _, a := range want {
			if !slices.Contains(active, a) {
				missing = append(missing, a)
			}
		}
		for _, a := range active {
			if !slices.Contains(want, a) {
				extra = append(extra, a)
			}
		}
		if len(missing) > 0 || len(extra) > 0 {
			return fmt.Errorf("alerts not active: %q; active but not expected: %q", missing, extra)
		}
		return nil
	})

	// A rate needs a second sample that differs from the first: the API's
	// counters, new with the first request, have been scraped by now.
	apiSync(t, "http://"+apiAddr, apiToken, "dom_stuck", http.StatusGatewayTimeout)
	checkDashboardLive(t, prom)

	// The database refuses connections: serve is still scraped, and says
	// it cannot query it.
	instance := fmt.Sprintf(`{instance=%q,job="regsync"}`, metricsAddr)
	execSQL(t, admin, `ALTER DATABASE `+pgx.Identifier{dbName}.Sanitize()+` ALLOW_CONNECTIONS false`)
	execSQL(t, admin, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1`, dbName)
	eventually(t, 30*time.Second, func() error { return prom.alertActive(t, `RegsyncDatabaseDown`+instance) })

	// The process dies: its scrapes fail, and no instance is up.
	serve.kill()
	eventually(t, 30*time.Second, func() error {
		if err := prom.alertActive(t, `RegsyncInstanceDown`+instance); err != nil {
			return err
		}
		return prom.alertActive(t, `RegsyncDown{}`)
	})
}

// liveNoData are the dashboard queries that return nothing in
// TestAlertsLive, and why. The test fails when one of them returns data,
// so that the list stays true.
var liveNoData = map[string]string{
	`row "Registrations" panel "Second opinions" target A`: "fallbacks are counted only when --confirm-via names a second opinion (an RDAP or EPP server), which the test does not run",
}

// checkDashboardLive checks that every query of the dashboard returns data
// (a sample that is a number, not NaN), with each variable at its "All"
// value, except those in liveNoData.
func checkDashboardLive(t *testing.T, prom *promServer) {
	t.Helper()
	d := loadDashboard(t)
	values := map[string]string{}
	for _, v := range d.Templating.List {
		if v.AllValue != "" {
			values[v.Name] = v.AllValue
		}
	}
	queries := dashboardQueries(t, d)
	for where := range liveNoData {
		if !slices.ContainsFunc(queries, func(q query) bool { return q.where == where }) {
			t.Errorf("liveNoData names %s, which the dashboard does not have", where)
		}
	}
	// Gauges are computed every 15 s, and some series need a second
	// sample: wait for them.
	eventually(t, 30*time.Second, func() error {
		var empty []string
		for _, q := range queries {
			if _, ok := liveNoData[q.where]; ok {
				continue
			}
			if err := prom.hasData(t, expandGrafanaWith(q.expr, values)); err != nil {
				empty = append(empty, q.where)
			}
		}
		if len(empty) > 0 {
			return fmt.Errorf("dashboard queries without data: %s", strings.Join(empty, "; "))
		}
		return nil
	})
	for _, q := range queries {
		if why, ok := liveNoData[q.where]; ok && prom.hasData(t, expandGrafanaWith(q.expr, values)) == nil {
			t.Errorf("%s returns data: take it out of liveNoData (%s)", q.where, why)
		}
	}
}

// prometheusServer returns the path of the prometheus server: $PROMETHEUS,
// the one "make tools" fetches into .tools, or one on PATH.
func prometheusServer(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("PROMETHEUS"); p != "" {
		return p
	}
	if p, err := filepath.Abs(filepath.Join(repoRoot, ".tools", "prometheus")); err == nil {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("prometheus"); err == nil {
		return p
	}
	t.Skip("SKIP: the prometheus server was not found, so the alerts and the dashboard are not proven against a live regsync serve. " +
		"\"make tools\" fetches it from Debian's prometheus package into .tools/; or set PROMETHEUS or put it on PATH.")
	return ""
}

// buildRegsync builds the regsync command of this repository into dir.
func buildRegsync(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "regsync")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/regsync")
	cmd.Dir = repoRoot
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/regsync: %v\n%s", err, out)
	}
	return bin
}

// liveDatabase creates an empty database, dropped when the test ends, on
// the server DATABASE_URL names or else on a throwaway cluster of the
// local PostgreSQL binaries, as the other tests of make test do. It
// returns a connection to the server's own database, and the new
// database's name and connection string.
func liveDatabase(t *testing.T) (admin *pgx.Conn, name, databaseURL string) {
	t.Helper()
	adminURL := os.Getenv("DATABASE_URL")
	if adminURL == "" {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		c, err := localpg.Start(ctx, localpg.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := c.Stop(); err != nil {
				t.Error(err)
			}
		})
		adminURL = c.URL("postgres")
	}
	name = fmt.Sprintf("regsync_live_%d", os.Getpid())
	admin = connect(t, adminURL)
	execSQL(t, admin, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	t.Cleanup(func() {
		if _, err := admin.Exec(context.Background(), "DROP DATABASE "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	return admin, name, localpg.WithDatabase(adminURL, name)
}

// connect opens a connection, closed when the test ends.
func connect(t *testing.T, databaseURL string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), databaseURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

// execSQL runs a statement on conn.
func execSQL(t *testing.T, conn *pgx.Conn, sql string, args ...any) {
	t.Helper()
	if _, err := conn.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// addDomains scripts n domains named after prefix in the simulator, then
// adds them with status and enqueues their syncs.
func addDomains(t *testing.T, db *pgx.Conn, sim simulator, prefix string, n int, status, statuses string, cycle bool) {
	t.Helper()
	for i := 1; i <= n; i++ {
		sim.put(t, fmt.Sprintf("/sim/domains/dom_%s%d", prefix, i),
			fmt.Sprintf(`{"name": "%s%d.example.com", "statuses": %s, "cycle": %t}`, prefix, i, statuses, cycle))
	}
	execSQL(t, db, `INSERT INTO regsync.domains (id, name, registrar, status)
		SELECT 'dom_' || $1 || i, $1 || i || '.example.com', 'hostup', $2 FROM generate_series(1, $3::int) i`,
		prefix, status, n)
	execSQL(t, db, `SELECT regsync.enqueue_status_sync(id) FROM regsync.domains WHERE id LIKE 'dom_' || $1 || '%'`, prefix)
}

// runRegsync runs a regsync command to its end and returns its standard
// output.
func runRegsync(t *testing.T, bin string, env []string, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("regsync %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String()
}

// process is a child process whose output goes to a file.
type process struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
}

// startProcess starts bin with args and env, logging into dir under
// name. It is killed when the test ends, and the end of its log is shown
// if the test failed.
func startProcess(t *testing.T, dir, name string, env []string, bin string, args ...string) *process {
	t.Helper()
	p := &process{name: name, log: filepath.Join(dir, name+".log"), done: make(chan struct{})}
	f, err := os.Create(p.log)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p.cmd = exec.Command(bin, args...)
	p.cmd.Env = env
	p.cmd.Stdout, p.cmd.Stderr = f, f
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", p.name, err)
	}
	go func() {
		_ = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			t.Logf("the end of %s's log:\n%s", p.name, logTail(p.log, 40))
		}
	})
	return p
}

// kill kills the process and waits for it to end.
func (p *process) kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// exited reports an error if the process has ended.
func (p *process) exited() error {
	select {
	case <-p.done:
		return fmt.Errorf("%s exited: %v; the end of its log:\n%s", p.name, p.cmd.ProcessState, logTail(p.log, 40))
	default:
		return nil
	}
}

// logTail returns the last lines of the file at path.
func logTail(path string, lines int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	all := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(all[max(0, len(all)-lines):], "\n")
}

// freeAddrs returns n distinct local addresses free to listen on.
func freeAddrs(t *testing.T, n int) []string {
	t.Helper()
	// Each listener stays open until all are taken, so that no address is
	// given twice.
	var listeners []net.Listener
	defer func() {
		for _, l := range listeners {
			_ = l.Close()
		}
	}()
	var addrs []string
	for range n {
		l, err := new(net.ListenConfig).Listen(context.Background(), "tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		listeners = append(listeners, l)
		addrs = append(addrs, l.Addr().String())
	}
	return addrs
}

// eventually calls check every half second until it returns nil, and
// fails the test with its last error after timeout.
func eventually(t *testing.T, timeout time.Duration, check func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %v", timeout, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// waitHTTP waits until url answers 200 to a GET with token.
func waitHTTP(t *testing.T, url, token string) {
	t.Helper()
	eventually(t, 30*time.Second, func() error {
		resp, err := httpDo(http.MethodGet, url, token, "")
		if err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET %s: %s", url, resp.Status)
		}
		return nil
	})
}

// httpResponse is an answer read whole.
type httpResponse struct {
	StatusCode int
	Status     string
	Body       []byte
}

// httpDo sends a request, with a bearer token unless it is empty, and
// reads the answer.
func httpDo(method, url, token, body string) (httpResponse, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, strings.NewReader(body))
	if err != nil {
		return httpResponse{}, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return httpResponse{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return httpResponse{}, fmt.Errorf("%s %s: %w", method, url, err)
	}
	return httpResponse{StatusCode: resp.StatusCode, Status: resp.Status, Body: b}, nil
}

// apiSync asks regsync's HTTP API for a status sync of domainID and checks
// the answer's status code.
func apiSync(t *testing.T, apiURL, token, domainID string, want int) {
	t.Helper()
	resp, err := httpDo(http.MethodPost, apiURL+"/api/v2/domains/"+domainID+"/actions/status-sync", token, "")
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != want {
		t.Fatalf("status sync of %s through the API: %s, want %d: %s", domainID, resp.Status, want, resp.Body)
	}
}

// simulator is the base URL of regsync simulate, scripted over HTTP.
type simulator string

// put sends a PUT to the simulator's scripting API.
func (s simulator) put(t *testing.T, path, body string) {
	t.Helper()
	resp, err := httpDo(http.MethodPut, string(s)+path, simToken, body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("PUT %s: %s: %s", path, resp.Status, resp.Body)
	}
}

// promServer is a running Prometheus server.
type promServer struct {
	url  string
	proc *process
}

// startPrometheus runs the prometheus server with alerts.yml, scraping
// regsync serve's metrics at target, as job regsync, and evaluating the
// rules every second.
func startPrometheus(t *testing.T, dir, bin, addr, target string) *promServer {
	t.Helper()
	rules, err := filepath.Abs(rulesPath)
	if err != nil {
		t.Fatal(err)
	}
	config := fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - %q
scrape_configs:
  - job_name: regsync
    static_configs:
      - targets: [%q]
`, rules, target)
	configPath := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(configPath, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	p := &promServer{url: "http://" + addr}
	p.proc = startProcess(t, dir, "prometheus", nil, bin, "--config.file="+configPath,
		"--storage.tsdb.path="+filepath.Join(dir, "tsdb"), "--web.listen-address="+addr)
	waitHTTP(t, p.url+"/-/ready", "")
	return p
}

// get calls Prometheus' HTTP API and decodes the data of its answer into
// v. It fails the test on an answer that is not a success.
func (p *promServer) get(t *testing.T, path string, query url.Values, v any) {
	t.Helper()
	resp, err := httpDo(http.MethodGet, p.url+path+"?"+query.Encode(), "", "")
	if err != nil {
		t.Fatal(err)
	}
	var answer struct {
		Status string          `json:"status"`
		Error  string          `json:"error"`
		Data   json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(resp.Body, &answer); err != nil || answer.Status != "success" {
		t.Fatalf("GET %s %s: %s: %s", path, query.Encode(), resp.Status, resp.Body)
	}
	if err := json.Unmarshal(answer.Data, v); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
}

// hasData runs an instant query, which must give a vector, and reports an
// error unless some sample of it is a number, not NaN or infinite.
func (p *promServer) hasData(t *testing.T, expr string) error {
	t.Helper()
	var data struct {
		ResultType string `json:"resultType"`
		Result     []struct {
			Value [2]any `json:"value"`
		} `json:"result"`
	}
	p.get(t, "/api/v1/query", url.Values{"query": {expr}}, &data)
	if data.ResultType != "vector" {
		t.Fatalf("%s: result type %s, want a vector", expr, data.ResultType)
	}
	for _, sample := range data.Result {
		s, _ := sample.Value[1].(string)
		if f, err := strconv.ParseFloat(s, 64); err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) {
			return nil
		}
	}
	return fmt.Errorf("%s returns no data", expr)
}

// activeAlerts returns the pending and firing alerts, each as its name and
// the labels its expression gave it, such as
// RegsyncQueueStuck{queue="status_sync_acme"}. It fails the test when a
// rule could not be evaluated.
func (p *promServer) activeAlerts(t *testing.T) []string {
	t.Helper()
	if err := p.proc.exited(); err != nil {
		t.Fatal(err)
	}
	var data struct {
		Groups []struct {
			Rules []struct {
				Name      string `json:"name"`
				Type      string `json:"type"`
				Health    string `json:"health"`
				LastError string `json:"lastError"`
				Alerts    []struct {
					Labels map[string]string `json:"labels"`
				} `json:"alerts"`
			} `json:"rules"`
		} `json:"groups"`
	}
	p.get(t, "/api/v1/rules", url.Values{"type": {"alert"}}, &data)
	var active []string
	for _, g := range data.Groups {
		for _, r := range g.Rules {
			if r.Health == "err" {
				t.Fatalf("alert %s cannot be evaluated: %s", r.Name, r.LastError)
			}
			for _, a := range r.Alerts {
				var labels []string
				for name, value := range a.Labels {
					if name != "alertname" && name != "severity" {
						labels = append(labels, fmt.Sprintf("%s=%q", name, value))
					}
				}
				slices.Sort(labels)
				active = append(active, r.Name+"{"+strings.Join(labels, ",")+"}")
			}
		}
	}
	slices.Sort(active)
	return active
}

// alertActive reports an error unless the alert is pending or firing.
func (p *promServer) alertActive(t *testing.T, alert string) error {
	t.Helper()
	active := p.activeAlerts(t)
	if !slices.Contains(active, alert) {
		return fmt.Errorf("%s is not active; active: %q", alert, active)
	}
	return nil
}
