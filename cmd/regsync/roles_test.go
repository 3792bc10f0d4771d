package main

import (
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/regsync/regsync/internal/pgtest"
	"github.com/regsync/regsync/internal/secret"
	"github.com/regsync/regsync/migrations"
)

// TestCommandsRunAsTheirRoles runs each command as a login user that is a
// member of the role the README's "Database roles" names for it, and no
// more, and a few as a role that may not.
func TestCommandsRunAsTheirRoles(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	databaseURL := pgtest.NewDatabase(t)
	s, env := hostupSim(t, databaseURL)
	keySpec, err := secret.GenerateKey("k1")
	require.NoError(t, err)
	env["REGSYNC_SECRET_KEY"] = keySpec
	as := func(role string) map[string]string {
		roleEnv := maps.Clone(env)
		roleEnv["DATABASE_URL"] = pgtest.NewLogin(t, databaseURL, role)
		return roleEnv
	}
	migrator, worker, enqueuer, reader := as(migrations.MigratorRole), as(migrations.WorkerRole), as(migrations.EnqueuerRole), as(migrations.ReaderRole)
	addDomain(t, databaseURL, "dom_roles", "roles.example.com", "pending")
	require.NoError(t, s.Script("dom_roles", "roles.example.com", []string{"active"}, false))

	ok := func(env map[string]string, stdin string, args ...string) string {
		t.Helper()
		r := regsyncWithInput(ctx, stdin, env, args...)
		require.Equal(t, 0, r.code, "%v: %s", args, r.stderr)
		return r.stdout
	}
	ok(migrator, "", "migrate")
	ok(migrator, "", "transfer", "add", "--id", "trf_roles", "--account", "acct1", "--domain", "roles.se",
		"--registrar", "hostway", "--reason", "wrong_auth_info")
	token := strings.TrimSpace(ok(migrator, "", "apikey", "create", "--name", "roles", "--scope", "read:domains"))
	keyID := strings.Fields(strings.Split(ok(reader, "", "apikey", "list"), "\n")[1])[0]
	receiver := newTestReceiver(t, http.StatusNoContent)
	signingSecret := strings.TrimSpace(ok(migrator, "", "webhook", "add", "--events", "changed", "--allow-http", receiver.URL))
	webhookID := strings.Fields(strings.Split(ok(reader, "", "webhook", "list"), "\n")[1])[0]
	ok(worker, "", "webhook", "test", webhookID)
	ok(migrator, "", "domain", "add", "dom_rolesadded", "roles-added.se", "--registrar", "hostup")
	ok(migrator, "", "domain", "import", writeFile(t, "roles.csv", "id,name,registrar\ndom_rolesimported,roles-imported.se,hostup\n"))
	ok(reader, "", "domain", "list")
	ok(reader, "", "domain", "show", "dom_roles")
	ok(worker, "", "sync", "dom_roles")
	ok(worker, "", "domain", "sync", "dom_roles")
	ok(worker, "Good-Code-42\n", "transfer", "set-auth-info", "trf_roles")
	ok(worker, "", "transfer", "list")
	ok(worker, "", "transfer", "show", "trf_roles")
	ok(enqueuer, "", "enqueue", "status-sync", "dom_roles")
	ok(enqueuer, "", "transfer", "retry", "trf_roles")

	for _, denied := range []struct {
		env  map[string]string
		args []string
		want string
	}{
		{enqueuer, []string{"sync", "dom_roles"}, "permission denied for table domains"},
		{enqueuer, []string{"domain", "list"}, "permission denied for table domains"},
		{worker, []string{"domain", "add", "dom_rolesworker", "roles-worker.se", "--registrar", "hostup"}, "permission denied for table domains"},
		{reader, []string{"domain", "import", writeFile(t, "reader.csv", "id,name,registrar\ndom_rolesreader,roles-reader.se,hostup\n")}, "permission denied for table domains"},
		{enqueuer, []string{"transfer", "show", "trf_roles"}, "permission denied for table transfers"},
		{reader, []string{"enqueue", "status-sync", "dom_roles"}, "permission denied for function enqueue_status_sync"},
		{worker, []string{"apikey", "create", "--name", "more", "--scope", "write:transfers"}, "permission denied for table api_keys"},
		{worker, []string{"apikey", "revoke", "key_aaaaaaaaaaaaaaaaaaaaaaaaaa"}, "permission denied for table api_keys"},
		{worker, []string{"migrate"}, "may not create regsync's roles or join regsync_migrator"},
		{worker, []string{"webhook", "add", "--events", "changed", "https://billing.example/hook"}, "permission denied for table webhook_subscriptions"},
		{worker, []string{"webhook", "remove", webhookID}, "permission denied for table webhook_subscriptions"},
		{reader, []string{"webhook", "test", webhookID}, "permission denied for table webhook_subscriptions"},
	} {
		r := regsync(ctx, denied.env, denied.args...)
		require.Equal(t, 1, r.code, "%v", denied.args)
		require.Contains(t, r.stderr, denied.want, "%v", denied.args)
	}

	// serve as the worker: it says River's nightly reindex is off, runs the
	// queued jobs, answers the HTTP API and shows the job UI.
	worker["REGSYNC_LOG_LEVEL"] = "info"
	worker["REGSYNC_JOB_UI_PASSWORD"] = "ui-pass-42"
	addr, apiAddr := freeAddr(t), freeAddr(t)
	serveCtx, cancel := context.WithCancel(ctx)
	done := make(chan result, 1)
	go func() {
		done <- regsync(serveCtx, worker, "serve", "--http-addr", addr, "--api-addr", apiAddr, "--job-ui-prefix", "/riverui")
	}()
	require.Eventually(t, func() bool {
		code, _ := get(t, "http://"+addr+"/readyz")
		return code == http.StatusOK
	}, 30*time.Second, 50*time.Millisecond)
	req, err := http.NewRequest(http.MethodPost, "http://"+apiAddr+"/api/v2/domains/dom_roles/actions/status-sync", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := testClient.Do(req)
	require.NoError(t, err)
	var synced map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&synced))
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, synced)
	require.Equal(t, true, synced["syncSuccess"])
	// The sync's change, enqueued by "regsync sync" as the worker, is
	// delivered by serve as the worker.
	require.Eventually(t, func() bool {
		receiver.mu.Lock()
		defer receiver.mu.Unlock()
		return len(receiver.requests) == 2
	}, 30*time.Second, 20*time.Millisecond, "the test event and the change")
	header, body := receiver.last(t)
	require.Equal(t, "changed", header.Get("Regsync-Event"))
	requireSignedWith(t, header, body, signingSecret)
	for _, path := range []string{"/riverui/api/features", "/riverui/api/queues", "/riverui/api/jobs?state=completed"} {
		req, err := http.NewRequest(http.MethodGet, "http://"+addr+path, nil)
		require.NoError(t, err)
		req.SetBasicAuth("regsync", "ui-pass-42")
		resp, err := testClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode, path)
	}
	cancel()
	select {
	case r := <-done:
		require.Equal(t, 0, r.code, r.stderr)
		require.Contains(t, r.stderr, "River's nightly reindex of its job table is off")
		require.NotContains(t, r.stderr, `"level":"error"`)
	case <-time.After(45 * time.Second):
		t.Fatal("serve did not stop after its context was cancelled")
	}
	ok(migrator, "", "apikey", "revoke", keyID)
	ok(migrator, "", "webhook", "enable", webhookID)
	ok(migrator, "", "webhook", "remove", webhookID)
}

func TestMigratePrintRoles(t *testing.T) {
	t.Parallel()
	r := regsync(context.Background(), nil, "migrate", "--print-roles")
	require.Equal(t, 0, r.code, r.stderr)
	require.Equal(t, migrations.RoleStatements(""), r.stdout)
	require.Contains(t, r.stdout, "GRANT regsync_migrator TO MIGRATING_USER;")
}
