package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/regsync/regsync/internal/pgtest"
)

// domainRows returns every domain as "id name registrar status interval",
// the interval "-" when the domain has none of its own.
func domainRows(t *testing.T, databaseURL string) []string {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), databaseURL)
	require.NoError(t, err)
	defer pool.Close()
	rows, err := pool.Query(context.Background(), `
		SELECT concat_ws(' ', id, name, registrar, status, coalesce(sync_interval::text, '-'))
		FROM regsync.domains ORDER BY id`)
	require.NoError(t, err)
	var out []string
	for rows.Next() {
		var row string
		require.NoError(t, rows.Scan(&row))
		out = append(out, row)
	}
	require.NoError(t, rows.Err())
	return out
}

func TestDomainAddSyncShowList(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	databaseURL := pgtest.NewDatabase(t)
	s, env := hostupSim(t, databaseURL)

	r := regsync(ctx, env, "domain", "add", "dom_cli1", "Bücher.de", "--registrar", "hostup", "--status", "pending")
	require.Equal(t, 0, r.code, r.stderr)
	require.Equal(t, "added domain dom_cli1 (xn--bcher-kva.de), due for a sync now\n", r.stdout)
	r = regsync(ctx, env, "domain", "add", "--registrar", "hostup", "dom_cli1", "xn--bcher-kva.de")
	require.Equal(t, 0, r.code, r.stderr)
	require.Equal(t, "domain dom_cli1 (xn--bcher-kva.de) is unchanged\n", r.stdout)
	r = regsync(ctx, env, "domain", "add", "dom_cli1", "bücher.de", "--registrar", "hostup", "--sync-interval", "7d", "--status", "fraud")
	require.Equal(t, 0, r.code, r.stderr)
	require.Equal(t, "updated domain dom_cli1 (xn--bcher-kva.de)\n", r.stdout)
	require.Contains(t, r.stderr, "the status of the existing domain dom_cli1 was kept")
	require.Equal(t, []string{"dom_cli1 xn--bcher-kva.de hostup pending 168:00:00"}, domainRows(t, databaseURL))

	for _, bad := range []struct {
		args []string
		want string
	}{
		{[]string{"DOM1", "one.se", "--registrar", "hostup"}, `invalid domain id "DOM1"`},
		{[]string{"dom_x", "www.example.com", "--registrar", "hostup"}, `it is a subdomain; the registered domain is "example.com"`},
		{[]string{"dom_x", "xray.se", "--registrar", "hostpu"}, `unknown registrar "hostpu": want one of epp, hostup, hostway, rdap, sim`},
		{[]string{"dom_x", "xray.se"}, "the registrar is missing"},
		{[]string{"dom_x", "xray.se", "--registrar", "hostup", "--status", "gone"}, `invalid status "gone"`},
		{[]string{"dom_x", "xray.se", "--registrar", "hostup", "--sync-interval", "soon"}, `invalid sync interval "soon"`},
		{[]string{"dom_x", "xray.se", "--registrar", "hostup", "--sync-interval", "1ns"}, `invalid sync interval "1ns"`},
		{[]string{"dom_x", "--registrar", "hostup"}, "want 2 arguments, got 1"},
	} {
		r := regsync(ctx, env, append([]string{"domain", "add"}, bad.args...)...)
		require.Equal(t, 2, r.code, "%v: %s", bad.args, r.stderr)
		require.Contains(t, r.stderr, bad.want, bad.args)
	}
	r = regsync(ctx, env, "domain", "add", "dom_cli2", "BÜCHER.de", "--registrar", "sim")
	require.Equal(t, 1, r.code)
	require.Equal(t, "regsync domain add: domain name xn--bcher-kva.de belongs to domain dom_cli1\n", r.stderr)
	require.Equal(t, []string{"dom_cli1 xn--bcher-kva.de hostup pending 168:00:00"}, domainRows(t, databaseURL))

	// "domain sync" is "sync".
	require.NoError(t, s.Script("dom_cli1", "xn--bcher-kva.de", []string{"active"}, false))
	r = regsync(ctx, env, "domain", "sync", "dom_cli1")
	require.Equal(t, 0, r.code, r.stderr)
	var outcome map[string]any
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &outcome))
	require.Equal(t, "active", outcome["newStatus"])
	require.NoError(t, s.Script("dom_cli1", "xn--bcher-kva.de", []string{"!503"}, false))
	r = regsync(ctx, env, "domain", "sync", "dom_cli1")
	require.Equal(t, 1, r.code)

	// The last outcomes, as a timeline, oldest first.
	r = regsync(ctx, env, "domain", "show", "dom_cli1")
	require.Equal(t, 0, r.code, r.stderr)
	require.Regexp(t, `(?m)^status +active$`, r.stdout)
	require.Regexp(t, `(?m)^sync interval +7d$`, r.stdout)
	require.Regexp(t, `(?m)^sync outcomes, the last 2, oldest first:\nFINISHED +JOB +STATUS +SUCCESS +WHAT HAPPENED\n`+
		`\S+Z +cli +pending -> active +yes +Domain status was updated\.\n`+
		`\S+Z +cli +active +no +.*hostup: HTTP 503`, r.stdout)

	r = regsync(ctx, env, "domain", "show", "dom_cli1", "--json")
	require.Equal(t, 0, r.code, r.stderr)
	var shown struct {
		Status       string           `json:"status"`
		SyncInterval string           `json:"syncInterval"`
		Unconfirmed  map[string]any   `json:"unconfirmed"`
		Outcomes     []map[string]any `json:"outcomes"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &shown))
	require.Equal(t, "active", shown.Status)
	require.Equal(t, "7d", shown.SyncInterval)
	require.Nil(t, shown.Unconfirmed)
	require.Len(t, shown.Outcomes, 2)
	require.Equal(t, "pending", shown.Outcomes[0]["previousStatus"])
	require.Equal(t, true, shown.Outcomes[0]["syncSuccess"])
	require.Equal(t, false, shown.Outcomes[1]["syncSuccess"])
	require.Equal(t, "hostup", shown.Outcomes[1]["registrar"])
	require.Nil(t, shown.Outcomes[1]["jobId"], "a sync from the command line has no job")
	require.NotEmpty(t, shown.Outcomes[1]["finishedAt"])
	r = regsync(ctx, env, "domain", "show", "--outcomes", "1", "--json", "dom_cli1")
	require.Equal(t, 0, r.code, r.stderr)
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &shown))
	require.Len(t, shown.Outcomes, 1)
	require.Equal(t, false, shown.Outcomes[0]["syncSuccess"], "the newest")

	// A guarded change waiting for its double sync shows as unconfirmed.
	pool, err := pgxpool.New(ctx, databaseURL)
	require.NoError(t, err)
	defer pool.Close()
	_, err = pool.Exec(ctx, `UPDATE regsync.domains SET unconfirmed_from_status = 'suspended', unconfirmed_raw_status = 'ok',
		unconfirmed_at = now(), confirm_failures = 1 WHERE id = 'dom_cli1'`)
	require.NoError(t, err)
	r = regsync(ctx, env, "domain", "show", "dom_cli1")
	require.Equal(t, 0, r.code, r.stderr)
	require.Regexp(t, `(?m)^status +active \(unconfirmed: changed from suspended at \S+ on the registrar's "ok"; waits for its double sync; 1 confirming reads failed\)$`, r.stdout)
	r = regsync(ctx, env, "domain", "show", "dom_cli1", "--json")
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &shown))
	require.Equal(t, "suspended", shown.Unconfirmed["from"])
	require.Equal(t, float64(1), shown.Unconfirmed["failedConfirmingReads"])

	r = regsync(ctx, env, "domain", "add", "dom_cli3", "other.se", "--registrar", "sim", "--status", "suspended")
	require.Equal(t, 0, r.code, r.stderr)
	list := func(args ...string) []string {
		t.Helper()
		r := regsync(ctx, env, append([]string{"domain", "list"}, args...)...)
		require.Equal(t, 0, r.code, r.stderr)
		lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
		require.Regexp(t, `^ID +NAME +REGISTRAR +STATUS +UNCONFIRMED +NEXT SYNC +LAST SYNCED$`, lines[0])
		return lines[1:]
	}
	all := list()
	require.Len(t, all, 2)
	require.Regexp(t, `^dom_cli1 +xn--bcher-kva\.de +hostup +active +from suspended +\S+Z +\S+Z$`, all[0])
	require.Regexp(t, `^dom_cli3 +other\.se +sim +suspended +- +\S+Z +-$`, all[1])
	ids := func(lines []string) []string {
		out := []string{}
		for _, line := range lines {
			out = append(out, strings.Fields(line)[0])
		}
		return out
	}
	require.Equal(t, []string{"dom_cli1"}, ids(list("--status", "active")))
	require.Equal(t, []string{"dom_cli3"}, ids(list("--registrar", "sim")))
	require.Equal(t, []string{"dom_cli3"}, ids(list("--due")), "the failed sync put dom_cli1's next sync an hour away")
	require.Empty(t, list("--status", "fraud", "--registrar", "sim"))
	r = regsync(ctx, env, "domain", "list", "--status", "gone")
	require.Equal(t, 2, r.code)

	r = regsync(ctx, env, "domain", "show", "dom_nosuch")
	require.Equal(t, 1, r.code)
	require.Contains(t, r.stderr, "domain not found")
	require.Equal(t, 2, regsync(ctx, env, "domain", "show", "DOM1").code)
	require.Equal(t, 2, regsync(ctx, env, "domain", "show", "dom_cli1", "--outcomes", "0").code)
	for _, help := range []string{"add", "import", "list", "show", "sync"} {
		r := regsync(ctx, env, "domain", help, "--help")
		require.Equal(t, 0, r.code, help)
	}
	require.Equal(t, 2, regsync(ctx, env, "domain").code)
	require.Equal(t, 2, regsync(ctx, env, "domain", "frob").code)
}
