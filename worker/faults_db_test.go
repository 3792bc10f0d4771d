package worker

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/regsync/regsync/internal/pgtest"
	"github.com/regsync/regsync/registrar"
	"github.com/regsync/regsync/registrar/hostup"
	"github.com/regsync/regsync/store"
)

// TestARowLockHeldLongerThanTheJobTimeoutDelaysOnlyItsDomain holds one
// domain's row lock, as an outside transaction might, for longer than the
// job timeout, and checks that the other syncs of the process finish while
// it is held, that the held domain's job fails and is retried rather than
// stalling or being rescued, and that it goes through, once, when the lock
// is released.
func TestARowLockHeldLongerThanTheJobTimeoutDelaysOnlyItsDomain(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	env := newDBEnv(t, nil)
	const free = 60
	for i := range free {
		env.addDomain(t, fmt.Sprintf("dom_free%d", i), registrar.StatusPending, "active")
	}
	env.addDomain(t, "dom_held", registrar.StatusPending, "active")

	outside, err := env.pool.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = outside.Rollback(ctx) }()
	_, err = outside.Exec(ctx, `SELECT 1 FROM regsync.domains WHERE id = 'dom_held' FOR UPDATE`)
	require.NoError(t, err)

	cfg := testConfig()
	cfg.JobTimeout = time.Second
	cfg.RescueAfter = cfg.JobTimeout + store.MaxWaitAfterCancel + time.Second
	cfg.MaxRetryDelay = 500 * time.Millisecond
	env.startClient(t, cfg)
	// The sweep skips a row another writer holds; a sync asked for
	// through the SQL enqueue meets the lock.
	_, _, err = env.store.EnqueueStatusSync(ctx, "dom_held")
	require.NoError(t, err)

	// Every other domain is synced while the lock is held.
	require.Eventually(t, func() bool {
		var synced int
		require.NoError(t, env.pool.QueryRow(ctx, `SELECT count(DISTINCT domain_id) FROM regsync.status_sync_outcomes
			WHERE domain_id LIKE 'dom_free%'`).Scan(&synced))
		return synced == free
	}, time.Minute, 20*time.Millisecond)
	// The held domain's job gave up on the row and waits for its retry.
	require.Eventually(t, func() bool {
		var failed bool
		require.NoError(t, env.pool.QueryRow(ctx, `SELECT coalesce(bool_or(jsonb_array_length(to_jsonb(errors)) > 0), false)
			FROM regsync.river_job WHERE args->>'domain_id' = 'dom_held'`).Scan(&failed))

		return failed
	}, time.Minute, 20*time.Millisecond)
	var heldOutcomes int
	require.NoError(t, env.pool.QueryRow(ctx, `SELECT count(*) FROM regsync.status_sync_outcomes WHERE domain_id = 'dom_held'`).Scan(&heldOutcomes))
	require.Zero(t, heldOutcomes, "nothing is written under another writer's lock")

	require.NoError(t, outside.Rollback(ctx))
	env.waitForJobs(t)
	var status string
	var rescued int
	require.NoError(t, env.pool.QueryRow(ctx, `SELECT status, (SELECT count(*) FROM regsync.status_sync_outcomes WHERE domain_id = 'dom_held'),
			(SELECT count(*) FROM regsync.river_job WHERE errors::text LIKE '%rescued%')
		FROM regsync.domains WHERE id = 'dom_held'`).Scan(&status, &heldOutcomes, &rescued))
	require.Equal(t, "active", status)
	require.Equal(t, 1, heldOutcomes, "one sync recorded, by the run that got the row")
	require.Zero(t, rescued, "no job ran past the rescue time")
}

// FuzzHostileRegistrarBody answers the hostup adapter's status read with
// arbitrary status codes and bodies (NUL bytes, invalid UTF-8, huge
// fields, broken JSON, in place of "$ID" the domain asked about) and
// drives each sync all the way into PostgreSQL: every sync must record
// exactly one outcome, whatever the registrar sent.
func FuzzHostileRegistrarBody(f *testing.F) {
	valid := `{"id":"$ID","name":"x.example","previousStatus":"active","newStatus":%q,"statusChanged":true,"statusChangedToActive":false,` +
		`"syncSuccess":true,"info":null,"error":null,"revertAttempted":false,"revertSucceeded":false,"revertError":null,` +
		`"doubleSyncAttempted":false,"doubleSyncSucceeded":false,"doubleSyncError":null}`
	for _, status := range []string{"active", "expired", "act\x00ive", "\xff\xfe", strings.Repeat("p", 100_000), "pending\u0000"} {
		f.Add(200, []byte(fmt.Sprintf(valid, status)))
	}
	f.Add(200, []byte(`{"id":"$ID","syncSuccess":false,"error":"registrar said \u0000\ud800 no"}`))
	f.Add(503, []byte(`{"code":"bad\u0000code","detail":"`+strings.Repeat("\xff", 5000)+`","requestId":"req\u0000"}`))
	f.Add(429, []byte(`{"code":"rate_limited"}`))
	f.Add(401, []byte("\x00\x01\x02"))
	f.Add(200, []byte(`{"id":"$ID","newStatus":`))

	pool := pgtest.NewPool(f)
	st := store.New(pool)
	var mu sync.Mutex
	var answerStatus int
	var answerBody []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		status, body := answerStatus, answerBody
		mu.Unlock()
		id := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/api/v2/domains/"), "/actions/status-sync")
		w.WriteHeader(status)
		_, _ = w.Write(bytes.ReplaceAll(body, []byte("$ID"), []byte(id)))
	}))
	f.Cleanup(srv.Close)
	cfg := hostup.DefaultConfig()
	cfg.BaseURL, cfg.Token, cfg.Timeout = srv.URL, "tok", 5*time.Second
	adapter, err := hostup.New(cfg)
	require.NoError(f, err)
	metrics := NewMetrics(prometheus.NewRegistry())
	syncCfg := DefaultSyncConfig()
	syncCfg.DoubleSyncDelay = 0
	syncer, err := NewSyncer(st, NewAdapters([]registrar.Named{adapter}, nil, metrics), syncCfg, metrics)
	require.NoError(f, err)
	var n atomic.Int64

	f.Fuzz(func(t *testing.T, status int, body []byte) {
		status = 200 + (status%400+400)%400 // 200 to 599
		mu.Lock()
		answerStatus, answerBody = status, body
		mu.Unlock()
		id := fmt.Sprintf("dom_fuzz%d", n.Add(1))
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		require.NoError(t, st.AddDomains(ctx, []store.NewDomain{{ID: id, Name: strings.TrimPrefix(id, "dom_") + ".example", Registrar: "hostup", Status: registrar.StatusActive}}))

		got, _ := syncer.SyncNow(ctx, id)
		require.Equal(t, id, got.ID, "an outcome is recorded for every answer")
		var outcomes int
		require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM regsync.status_sync_outcomes WHERE domain_id = $1`, id).Scan(&outcomes))
		require.Equal(t, 1, outcomes)
	})
}
