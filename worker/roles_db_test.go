package worker

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/regsync/regsync/internal/pgtest"
	"github.com/regsync/regsync/migrations"
	"github.com/regsync/regsync/registrar"
	"github.com/regsync/regsync/store"
)

// as returns the env's database and simulator as a login user that is a
// member of role sees them: its own pool, store, syncer and retrier. The
// env it is called on keeps the superuser the tests set up with.
func (e *dbEnv) as(t *testing.T, role string) *dbEnv {
	t.Helper()
	return newEnvOn(t, pgtest.LoginAs(t, e.pool, role), e.sim, e.sim, e.keyring)
}

// TestWorkerRoleRunsSyncsAndRetries runs River's client, the sweep, status
// syncs with their double syncs and reverts, transfer retries with a new
// authInfo, and the calls behind the HTTP API and the gauges, all as a
// member of regsync_worker, and requires that nothing was refused: every
// outcome is recorded and no error was logged.
func TestWorkerRoleRunsSyncsAndRetries(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	admin := newDBEnv(t, nil)
	admin.addDomain(t, "dom_confirmed", registrar.StatusActive, "suspended", "suspended")
	admin.addDomain(t, "dom_flap", registrar.StatusActive, "expired", "active")
	admin.addDomain(t, "dom_new", registrar.StatusPending, "active", "active")
	admin.addTransfer(t, store.NewTransfer{ID: "trf_accepted", DomainName: "accepted.example"},
		[]string{"202"}, []string{"blocked:resettable", "pending"})
	admin.addTransfer(t, store.NewTransfer{ID: "trf_auth", DomainName: "auth.example", BlockReason: "wrong_auth_info"},
		[]string{"404bad", "202"}, []string{"blocked:resettable", "blocked:resettable", "pending"})
	_, token, err := admin.store.CreateAPIKey(ctx, "api", []string{"read:domains"})
	require.NoError(t, err)
	receiver := newEndpoint(t, always(http.StatusNoContent))
	gone := newEndpoint(t, always(http.StatusGone))
	receiverSub, signingSecret := admin.subscribe(t, receiver, store.WebhookEvents...)
	goneSub, _ := admin.subscribe(t, gone, store.WebhookChanged)

	w := admin.as(t, migrations.WorkerRole)
	logged, logs := observer.New(zapcore.ErrorLevel)
	w.logger = zap.New(zapcore.NewTee(w.logger.Core(), logged))
	canReindex, err := w.store.CanReindexJobs(ctx)
	require.NoError(t, err)
	require.False(t, canReindex, "the worker does not own River's job table")
	canReindex, err = admin.store.CanReindexJobs(ctx)
	require.NoError(t, err)
	require.True(t, canReindex, "a superuser may")

	// What serve does before it starts its client.
	require.NoError(t, w.store.SetRateLimits(ctx, []store.RateLimit{{Registrar: "sim", RequestsPerSecond: 1, Burst: 1}}))
	cfg := testConfig()
	cfg.SkipJobReindex = true
	client := w.startClient(t, cfg)
	w.waitForJobs(t)

	// The HTTP API's transfer reset with a new authInfo, then its retry.
	_, err = w.store.RequestReset(ctx, w.keyring, store.ResetRequest{TransferID: "trf_auth", AuthInfo: "New-Code-42"})
	require.NoError(t, err)
	// The HTTP API's status sync: enqueue, find the job, wait for its outcome.
	jobID, inserted, err := w.store.EnqueueStatusSync(ctx, "dom_new")
	require.NoError(t, err)
	require.True(t, inserted, "no sync of the domain was pending")
	var output []byte
	require.Eventually(t, func() bool {
		job, err := client.JobGet(ctx, jobID)
		require.NoError(t, err)
		output = job.Output()
		return job.State == rivertype.JobStateCompleted
	}, time.Minute, 20*time.Millisecond)
	var outcome store.Outcome
	require.NoError(t, json.Unmarshal(output, &outcome))
	require.True(t, outcome.SyncSuccess)
	w.waitForJobs(t)

	for id, want := range map[string]registrar.Status{
		"dom_confirmed": registrar.StatusSuspended,
		"dom_flap":      registrar.StatusActive,
		"dom_new":       registrar.StatusActive,
	} {
		d, err := admin.store.Domain(ctx, id)
		require.NoError(t, err)
		require.Equal(t, want, d.Status, id)
	}
	var outcomes, reverted int
	require.NoError(t, admin.pool.QueryRow(ctx, `
		SELECT count(*), count(*) FILTER (WHERE revert_succeeded) FROM regsync.status_sync_outcomes`).Scan(&outcomes, &reverted))
	require.Equal(t, 4, outcomes, "one per sync, the API's included")
	require.Equal(t, 1, reverted)
	for id, want := range map[string]store.TransferState{"trf_accepted": store.TransferInProgress, "trf_auth": store.TransferInProgress} {
		tr, err := admin.store.Transfer(ctx, id)
		require.NoError(t, err)
		require.Equal(t, want, tr.State, id)
	}
	attempts, err := admin.store.TransferAttempts(ctx, "trf_auth")
	require.NoError(t, err)
	require.True(t, attempts[len(attempts)-1].SentNewAuthInfo)

	// Webhooks: every change delivered, signed with the secret the worker
	// opened, and logged; a gone endpoint's subscription disabled.
	var events []string
	for _, r := range receiver.received() {
		require.NoError(t, verifySignature([]byte(signingSecret), r.header.Get(SignatureHeader), r.body, r.at))
		events = append(events, r.header.Get(EventHeader))
	}
	require.ElementsMatch(t, []string{"changed", "unconfirmed", "confirmed", "unconfirmed", "reverted"}, events)
	log, _ := admin.attempts(t, receiverSub.ID)
	require.Len(t, log, 5)
	log, _ = admin.attempts(t, goneSub.ID)
	require.Equal(t, []attemptRow{{Attempt: 1, Result: "gone", StatusCode: 410, Error: "answered 410: answer 0"}}, log)
	goneNow, err := admin.store.WebhookSubscription(ctx, goneSub.ID)
	require.NoError(t, err)
	require.False(t, goneNow.DisabledAt.IsZero())

	// The HTTP API's authentication, the leader's gauges and the shared
	// rate limit, which keeps a slot for a job that cannot wait for it.
	key, err := w.store.AuthenticateAPIKey(ctx, token)
	require.NoError(t, err)
	require.Equal(t, "api", key.Name)
	require.NoError(t, w.store.RefreshGauges(ctx))
	_, computed, err := w.store.Gauges(ctx)
	require.NoError(t, err)
	require.True(t, computed)
	for range 2 {
		_, err := w.store.ReserveRegistrarSlot(ctx, "sim", 1, 0)
		require.NoError(t, err)
	}

	require.Empty(t, logs.All(), "errors logged while working as regsync_worker")
}

// TestEnqueuerWakesTheWorkerRole enqueues a sync in SQL as a member of
// regsync_enqueuer while a client runs as a member of regsync_worker and
// polls only once an hour: the insert notification alone gets the job
// picked up.
func TestEnqueuerWakesTheWorkerRole(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	admin := newDBEnv(t, nil)
	admin.addDomain(t, "dom_wake", registrar.StatusPending, "active")
	_, err := admin.pool.Exec(ctx, `UPDATE regsync.domains SET next_sync_at = now() + interval '1 day'`)
	require.NoError(t, err)
	enqueuer := pgtest.LoginAs(t, admin.pool, migrations.EnqueuerRole)

	w := admin.as(t, migrations.WorkerRole)
	cfg := testConfig()
	cfg.FetchPollInterval = time.Hour
	client := w.startClient(t, cfg)
	events, cancel := client.Subscribe(river.EventKindJobCompleted)
	defer cancel()
	waitForEvent(t, events, "sweep")

	var jobID int64
	require.NoError(t, enqueuer.QueryRow(ctx, "SELECT regsync.enqueue_status_sync('dom_wake')").Scan(&jobID))
	ev := waitForEvent(t, events, "status_sync")
	require.Equal(t, jobID, ev.Job.ID)
}
