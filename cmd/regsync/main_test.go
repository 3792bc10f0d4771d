package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/regsync/regsync/internal/pgtest"
	"github.com/regsync/regsync/internal/secret"
	"github.com/regsync/regsync/registrar"
	"github.com/regsync/regsync/registrar/sim"
)

// testClient has a transport of its own: httptest.Server.Close closes the
// idle connections of http.DefaultTransport, which can break a request of a
// parallel test that has just picked one.
var testClient = registrar.NewHTTPClient()

func TestMain(m *testing.M) { pgtest.RunMain(m) }

// result is what one regsync invocation printed and returned.
type result struct {
	code           int
	stdout, stderr string
}

// regsync runs the command in-process with env as its whole environment
// and an empty stdin.
func regsync(ctx context.Context, env map[string]string, args ...string) result {
	return regsyncWithInput(ctx, "", env, args...)
}

func regsyncWithInput(ctx context.Context, stdin string, env map[string]string, args ...string) result {
	var stdout, stderr lockedBuffer
	c := &cli{stdin: strings.NewReader(stdin), stdout: &stdout, stderr: &stderr, getenv: func(k string) string { return env[k] }}
	code := run(ctx, c, args)
	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// lockedBuffer is a buffer safe for the concurrent writes of a running
// command, as os.Stderr is.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestUsage(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r := regsync(ctx, nil, "help")
	require.Equal(t, 0, r.code)
	for _, cmd := range commands {
		require.Contains(t, r.stderr, cmd.name)
	}
	require.Equal(t, 2, regsync(ctx, nil).code)

	r = regsync(ctx, nil, "frobnicate")
	require.Equal(t, 2, r.code)
	require.Contains(t, r.stderr, `unknown command "frobnicate"`)

	for _, cmd := range commands {
		r := regsync(ctx, nil, cmd.name, "--help")
		require.Equal(t, 0, r.code, cmd.name)
		require.Contains(t, r.stderr, "Usage: regsync "+cmd.name, cmd.name)
	}

	r = regsync(ctx, map[string]string{"REGSYNC_WORKERS": "many"}, "serve")
	require.Equal(t, 2, r.code)
	require.Contains(t, r.stderr, "REGSYNC_WORKERS")
	r = regsync(ctx, map[string]string{"REGSYNC_GUARDED_TO": "gone"}, "serve")
	require.Equal(t, 2, r.code)
	require.Contains(t, r.stderr, `invalid status "gone"`)
	for _, tt := range []struct{ env, value, want string }{
		{"REGSYNC_CONFIRM_VIA", "hostup", `"hostup" is not KEY:VALUE`},
		{"REGSYNC_CONFIRM_VIA", "hostup:rdap,hostup:epp", `registrar "hostup" is named twice`},
		{"REGSYNC_OWN_SPONSORS", "epp:ClientX", `"epp:ClientX" is not KEY=VALUE`},
		{"REGSYNC_TRANSFERRED_AWAY_AFTER", "a day", "REGSYNC_TRANSFERRED_AWAY_AFTER"},
	} {
		r = regsync(ctx, map[string]string{tt.env: tt.value}, "serve")
		require.Equal(t, 2, r.code, tt.env)
		require.Contains(t, r.stderr, tt.want, tt.env)
	}
	var via confirmVia
	require.NoError(t, via.Set("hostup:rdap, epp : rdap"))
	require.Equal(t, confirmVia{"hostup": "rdap", "epp": "rdap"}, via)
	var dry dryRunList
	require.NoError(t, dry.Set("true"))
	require.Equal(t, dryRunList{"all"}, dry, "--dry-run alone is every registrar")
	require.NoError(t, dry.Set("hostup, epp"))
	require.Equal(t, dryRunList{"hostup", "epp"}, dry)
	var own ownSponsors
	require.NoError(t, own.Set("rdap=1234,epp=ClientX,rdap=5678"))
	require.Equal(t, ownSponsors{"rdap": {"1234", "5678"}, "epp": {"ClientX"}}, own)
	require.Equal(t, "epp=ClientX,rdap=1234,rdap=5678", own.String())
	r = regsync(ctx, nil, "sync", "dom_a", "dom_b")
	require.Equal(t, 2, r.code)
	r = regsync(ctx, nil, "sync", "DOM-1")
	require.Equal(t, 2, r.code)
	require.Contains(t, r.stderr, "invalid domain id")
	r = regsync(ctx, map[string]string{"DATABASE_URL": "postgres://u:hunter2@%zz/db"}, "enqueue", "status-sync", "dom_a")
	require.Equal(t, 2, r.code)
	require.NotContains(t, r.stderr, "hunter2", "the database password is never printed")
}

// hostupSim serves a simulator in Hostup's wire format and returns it with
// the environment pointing the hostup adapter at it.
func hostupSim(t *testing.T, databaseURL string) (*sim.Sim, map[string]string) {
	t.Helper()
	s, err := sim.New(sim.DefaultConfig())
	require.NoError(t, err)
	server := httptest.NewServer(sim.Handler(s, "test-token-123"))
	t.Cleanup(server.Close)
	return s, map[string]string{
		"DATABASE_URL":         databaseURL,
		"REGSYNC_HOSTUP_URL":   server.URL,
		"REGSYNC_HOSTUP_TOKEN": "test-token-123",
		"REGSYNC_LOG_LEVEL":    "warn",
	}
}

func addDomain(t *testing.T, databaseURL, id, name, status string) {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), databaseURL)
	require.NoError(t, err)
	defer pool.Close()
	_, err = pool.Exec(context.Background(),
		`INSERT INTO regsync.domains (id, name, registrar, status) VALUES ($1, $2, 'hostup', $3)`, id, name, status)
	require.NoError(t, err)
}

func TestMigrateSyncAndEnqueue(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	databaseURL := pgtest.NewDatabase(t)
	s, env := hostupSim(t, databaseURL)

	r := regsync(ctx, env, "migrate")
	require.Equal(t, 0, r.code, r.stderr)
	require.Contains(t, r.stdout, "database is up to date (0 migrations applied now)")

	addDomain(t, databaseURL, "dom_cli1", "cli-one.example.com", "pending")
	require.NoError(t, s.Script("dom_cli1", "cli-one.example.com", []string{"active"}, false))
	r = regsync(ctx, env, "sync", "dom_cli1")
	require.Equal(t, 0, r.code, r.stderr)
	var outcome map[string]any
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &outcome))
	require.Equal(t, map[string]any{
		"id": "dom_cli1", "name": "cli-one.example.com",
		"previousStatus": "pending", "newStatus": "active",
		"statusChanged": true, "statusChangedToActive": true, "syncSuccess": true,
		"info": "Domain status was updated.", "error": nil,
		"revertAttempted": false, "revertSucceeded": false, "revertError": nil,
		"doubleSyncAttempted": false, "doubleSyncSucceeded": false, "doubleSyncError": nil,
	}, outcome)

	// A failed sync still prints its outcome, and exits 1.
	require.NoError(t, s.Script("dom_cli1", "cli-one.example.com", []string{"!503"}, false))
	r = regsync(ctx, env, "sync", "dom_cli1")
	require.Equal(t, 1, r.code)
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &outcome))
	require.Equal(t, false, outcome["syncSuccess"])
	require.Contains(t, outcome["error"], "hostup: HTTP 503")
	require.NotContains(t, r.stdout+r.stderr, "test-token-123", "the registrar token is never printed")

	r = regsync(ctx, env, "sync", "dom_nosuch")
	require.Equal(t, 1, r.code)
	require.Contains(t, r.stderr, "domain not found")

	r = regsync(ctx, env, "enqueue", "status-sync", "dom_cli1")
	require.Equal(t, 0, r.code, r.stderr)
	require.Regexp(t, `^enqueued job \d+\n$`, r.stdout)
	r = regsync(ctx, env, "enqueue", "status-sync", "dom_cli1")
	require.Equal(t, 0, r.code, r.stderr)
	require.Equal(t, "a status sync of dom_cli1 is already pending\n", r.stdout)
	r = regsync(ctx, env, "enqueue", "status-sync", "dom_nosuch")
	require.Equal(t, 1, r.code)
	require.Contains(t, r.stderr, "domain not found")
	r = regsync(ctx, env, "enqueue", "transfer", "dom_cli1")
	require.Equal(t, 2, r.code)
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return addr
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := testClient.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(body)
}

func TestServe(t *testing.T) {
	t.Parallel()
	databaseURL := pgtest.NewDatabase(t)
	s, env := hostupSim(t, databaseURL)
	addDomain(t, databaseURL, "dom_served", "served.example.com", "pending")
	require.NoError(t, s.Script("dom_served", "served.example.com", []string{"active"}, false))
	addr := freeAddr(t)

	env["REGSYNC_JOB_UI_PASSWORD"] = "ui-pass-42"
	key := regsync(context.Background(), env, "apikey", "create", "--name", "test", "--scope", "read:domains")
	require.Equal(t, 0, key.code, key.stderr)
	token := strings.TrimSpace(key.stdout)
	apiAddr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan result, 1)
	go func() {
		done <- regsync(ctx, env, "serve", "--http-addr", addr, "--job-ui-prefix", "/riverui", "--api-addr", apiAddr)
	}()

	base := "http://" + addr
	require.Eventually(t, func() bool {
		code, _ := get(t, base+"/readyz")
		return code == http.StatusOK
	}, 30*time.Second, 50*time.Millisecond)
	code, body := get(t, base+"/healthz")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "ok\n", body)

	// The start-up sweep syncs the due domain; the metrics say so.
	require.Eventually(t, func() bool {
		_, metrics := get(t, base+"/metrics")
		return strings.Contains(metrics, `regsync_status_sync_total{dry_run="false",registrar="hostup",result="changed"} 1`)
	}, 30*time.Second, 50*time.Millisecond)
	_, metrics := get(t, base+"/metrics")
	for _, want := range []string{
		// The leader's gauges job ran at start, before or after the sync.
		`regsync_domains{status="active"} `, "regsync_gauges_age_seconds",
		`regsync_status_transitions_total{from="pending",to="active"} 1`,
		`regsync_registrar_request_duration_seconds_count{code="ok",operation="read_status",registrar="hostup"} 1`,
		`regsync_job_duration_seconds_count{kind="status_sync",queue="status_sync_hostup",result="completed"} 1`,
		"go_goroutines", "process_resident_memory_bytes",
	} {
		require.Contains(t, metrics, want)
	}

	// The HTTP API answers a status sync with the seed's 15 keys.
	req, err := http.NewRequest(http.MethodPost, "http://"+apiAddr+"/api/v2/domains/dom_served/actions/status-sync", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := testClient.Do(req)
	require.NoError(t, err)
	var synced map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&synced))
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, synced)
	require.Len(t, synced, 15)
	require.Equal(t, "active", synced["newStatus"])
	_, metrics = get(t, base+"/metrics")
	require.Contains(t, metrics, `regsync_http_requests_total{code="200",route="POST /api/v2/domains/{id}/actions/status-sync"} 1`)

	// The job UI is there, behind its basic auth.
	code, _ = get(t, base+"/riverui/")
	require.Equal(t, http.StatusUnauthorized, code)
	jobsPage := func(user, password string) (int, string) {
		req, err := http.NewRequest(http.MethodGet, base+"/riverui/api/jobs?state=completed", nil)
		require.NoError(t, err)
		req.SetBasicAuth(user, password)
		resp, err := testClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, string(body)
	}
	code, _ = jobsPage("regsync", "wrong")
	require.Equal(t, http.StatusUnauthorized, code)
	require.Eventually(t, func() bool {
		code, jobs := jobsPage("regsync", "ui-pass-42")
		return code == http.StatusOK && strings.Contains(jobs, "status_sync")
	}, 30*time.Second, 50*time.Millisecond, "the completed sync is listed")

	cancel()
	select {
	case r := <-done:
		require.Equal(t, 0, r.code, r.stderr)
	case <-time.After(45 * time.Second):
		t.Fatal("serve did not stop after its context was cancelled")
	}
}

func TestDemo(t *testing.T) {
	t.Parallel()
	databaseURL := pgtest.NewDatabase(t)
	env := map[string]string{"DATABASE_URL": databaseURL}
	r := regsync(context.Background(), env, "demo", "--once", "--domains", "300", "--double-sync-delay", "0s", "--sim-fault-rate", "0")
	require.Equal(t, 0, r.code, r.stderr)
	require.Contains(t, r.stdout, "regsync demo summary")
	for _, want := range []string{"unchanged", "changed", "reverted", "error", "pending -> active", "contradicted"} {
		require.Contains(t, r.stdout, want)
	}
	require.Contains(t, r.stderr, "synced")
	for _, want := range []string{"-> in_progress", "-> waiting_auth_info", "-> closed", "-> completed", "-> expired", "-> forbidden", "(waiting)", "(conflict)"} {
		require.Contains(t, r.stdout, want)
	}
	// The domains on the local EPP registry, confirmed through its RDAP
	// server.
	for _, want := range []string{"epp -> applied", "epp -> rejected"} {
		require.Contains(t, r.stdout, want)
	}
	require.Regexp(t, `epp +300 domains; double syncs confirmed by rdap [1-9]\d*, by the registrar itself when the second opinion had no say [1-9]\d*; transferred away \(waiting a day to cancel\) [1-9]\d*; active and expiring within 30 days [1-9]\d*`, r.stdout)

	// The demo refuses a database that already has domains.
	r = regsync(context.Background(), env, "demo", "--once")
	require.Equal(t, 2, r.code)
	require.Contains(t, r.stderr, "the demo needs an empty database")
}

// TestDemoPrintsItsSummaryWhenInterrupted runs the demo as a process,
// interrupts it with SIGINT while it runs, as Ctrl-C in `make run` does,
// and checks that it prints its summary and exits 0.
func TestDemoPrintsItsSummaryWhenInterrupted(t *testing.T) {
	t.Parallel()
	bin := filepath.Join(t.TempDir(), "regsync")
	build := exec.Command("go", "build", "-o", bin, ".")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "%s", out)

	cmd := exec.Command(bin, "demo", "--domains", "200", "--registry-domains", "50")
	cmd.Env = append(os.Environ(), "DATABASE_URL="+pgtest.NewDatabase(t))
	var stdout lockedBuffer
	cmd.Stdout = &stdout
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	progress := bufio.NewScanner(stderr)
	for progress.Scan() {
		if strings.Contains(progress.Text(), "synced") {
			break
		}
	}
	require.NoError(t, cmd.Process.Signal(syscall.SIGINT), "the demo is running: it printed a progress line")
	go func() { _, _ = io.Copy(io.Discard, stderr) }()
	require.NoError(t, cmd.Wait(), "exit status 0 after an interrupt")
	require.Contains(t, stdout.String(), "regsync demo summary")
	require.Contains(t, stdout.String(), "jobs by kind and state")
}

func TestTransferCommands(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	databaseURL := pgtest.NewDatabase(t)
	keySpec, err := secret.GenerateKey("k1")
	require.NoError(t, err)
	env := map[string]string{"DATABASE_URL": databaseURL, "REGSYNC_SECRET_KEY": keySpec}

	r := regsync(ctx, env, "transfer", "add", "--id", "trf_cli1", "--account", "acct1", "--domain", "Bücher.de",
		"--registrar", "hostway", "--reason", "wrong_auth_info", "--registrar-reason", "authInfo rejected by registry")
	require.Equal(t, 0, r.code, r.stderr)
	require.Equal(t, "added transfer trf_cli1 of xn--bcher-kva.de\n", r.stdout)
	for _, bad := range [][]string{
		{"--id", "trf_x", "--account", "a", "--domain", "www.example.com", "--registrar", "hostway"},
		{"--id", "TRF", "--account", "a", "--domain", "example.com", "--registrar", "hostway"},
		{"--id", "trf_y", "--account", "a", "--domain", "example.com", "--registrar", "hostway", "--reason", "bored"},
		{"--id", "trf_z", "--account", "a", "--domain", "example.com", "--registrar", "hostway", "--deadline", "soon"},
	} {
		r := regsync(ctx, env, append([]string{"transfer", "add"}, bad...)...)
		require.Equal(t, 2, r.code, "%v: %s", bad, r.stderr)
	}

	r = regsync(ctx, env, "transfer", "list")
	require.Equal(t, 0, r.code, r.stderr)
	require.Contains(t, r.stdout, "trf_cli1")
	require.Contains(t, r.stdout, "wrong_auth_info")
	r = regsync(ctx, env, "transfer", "list", "--state", "closed")
	require.Equal(t, 0, r.code, r.stderr)
	require.NotContains(t, r.stdout, "trf_cli1")

	// A bad authInfo is refused and never echoed.
	r = regsyncWithInput(ctx, "tiny\n", env, "transfer", "set-auth-info", "trf_cli1")
	require.Equal(t, 1, r.code)
	require.Contains(t, r.stderr, "authInfo must be 6 to 16 characters")
	require.NotContains(t, r.stderr, "tiny")
	r = regsyncWithInput(ctx, "", env, "transfer", "set-auth-info", "trf_cli1")
	require.Equal(t, 2, r.code)
	require.Contains(t, r.stderr, "no authInfo on stdin")
	r = regsyncWithInput(ctx, "Good-Code-42\n", map[string]string{"DATABASE_URL": databaseURL}, "transfer", "set-auth-info", "trf_cli1")
	require.Equal(t, 2, r.code, "no key, nothing stored")
	require.Contains(t, r.stderr, "REGSYNC_SECRET_KEY")

	r = regsyncWithInput(ctx, "Good-Code-42\n", env, "transfer", "set-auth-info", "trf_cli1")
	require.Equal(t, 0, r.code, r.stderr)
	require.Regexp(t, `^stored a new authInfo for trf_cli1\nenqueued job \d+\n$`, r.stdout)
	require.NotContains(t, r.stdout+r.stderr, "Good-Code-42")
	r = regsync(ctx, env, "transfer", "retry", "trf_cli1")
	require.Equal(t, 0, r.code, r.stderr)
	require.Equal(t, "a retry of trf_cli1 is already pending\n", r.stdout)

	r = regsync(ctx, env, "transfer", "show", "trf_cli1")
	require.Equal(t, 0, r.code, r.stderr)
	var shown map[string]any
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &shown))
	require.Equal(t, "xn--bcher-kva.de", shown["domainName"])
	require.Equal(t, true, shown["authInfoUnsent"])
	require.Empty(t, shown["attempts"])
	require.NotContains(t, r.stdout, "Good-Code-42")
	require.NotContains(t, r.stdout, "iphertext", "the sealed value is not shown either")

	r = regsync(ctx, env, "transfer", "show", "trf_nosuch")
	require.Equal(t, 1, r.code)
	require.Contains(t, r.stderr, "transfer not found")
	r = regsync(ctx, env, "transfer", "frob")
	require.Equal(t, 2, r.code)
	require.Equal(t, 0, regsync(ctx, env, "transfer", "--help").code)
}

// TestFlagsAmongArguments parses flags before, between and after the
// positional arguments, and "--" ending them.
func TestFlagsAmongArguments(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		args      []string
		registrar string
		want      []string
	}{
		{[]string{"a", "b", "--registrar", "r"}, "r", []string{"a", "b"}},
		{[]string{"--registrar", "r", "a", "b"}, "r", []string{"a", "b"}},
		{[]string{"a", "--registrar=r", "b"}, "r", []string{"a", "b"}},
		{[]string{"-", "b"}, "", []string{"-", "b"}},
		{[]string{"a", "--", "--registrar", "r"}, "", []string{"a", "--registrar", "r"}},
	} {
		c := &cli{stderr: &strings.Builder{}, getenv: func(string) string { return "" }}
		fs := c.flagSet("test", "", "test")
		registrar := fs.String("registrar", "", "")
		err := c.parse(fs, tt.args, len(tt.want))
		require.NoError(t, err, tt.args)
		require.Equal(t, tt.registrar, *registrar, tt.args)
		require.Equal(t, tt.want, fs.Args(), tt.args)
	}
	c := &cli{stderr: &strings.Builder{}, getenv: func(string) string { return "" }}
	fs := c.flagSet("test", "", "test")
	require.ErrorIs(t, c.parse(fs, []string{"a", "--nosuch"}, 1), errUsage)
	require.ErrorIs(t, c.parse(fs, []string{"a", "--help"}, 1), flag.ErrHelp)
}
