package worker

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/regsync/regsync/registrar"
	"github.com/regsync/regsync/store"
)

// received is one request a test endpoint got.
type received struct {
	header http.Header
	body   []byte
	at     time.Time
}

// endpoint is a webhook receiver for a test: it records every request and
// answers the n-th (from 0) with status(n).
type endpoint struct {
	*httptest.Server
	mu       sync.Mutex
	requests []received
}

func newEndpoint(t *testing.T, status func(n int) int) *endpoint {
	t.Helper()
	e := &endpoint{}
	e.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		e.mu.Lock()
		n := len(e.requests)
		e.requests = append(e.requests, received{header: r.Header.Clone(), body: body, at: time.Now()})
		e.mu.Unlock()
		w.WriteHeader(status(n))
		_, _ = io.WriteString(w, "answer "+strconv.Itoa(n))
	}))
	t.Cleanup(e.Close)
	return e
}

func (e *endpoint) received() []received {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]received(nil), e.requests...)
}

func always(status int) func(int) int { return func(int) int { return status } }

// subscribe adds a subscription to e for events and returns it with its
// signing secret.
func (env *dbEnv) subscribe(t *testing.T, e *endpoint, events ...string) (store.WebhookSubscription, string) {
	t.Helper()
	sub, signingSecret, err := env.store.AddWebhookSubscription(context.Background(), env.keyring, store.NewWebhookSubscription{
		URL: e.URL + "/hooks/regsync", Events: events, AllowHTTP: true,
	})
	require.NoError(t, err)
	return sub, signingSecret
}

// attemptRow is what a test checks of a row of the delivery log.
type attemptRow struct {
	Attempt    int
	Result     string
	StatusCode int
	Error      string
}

// attempts returns the delivery log of a subscription in order, with the
// job of each row's delivery.
func (env *dbEnv) attempts(t *testing.T, subscriptionID string) ([]attemptRow, []int64) {
	t.Helper()
	rows, err := env.pool.Query(context.Background(), `
		SELECT attempt, result, coalesce(status_code, 0), coalesce(error, ''), job_id
		FROM regsync.webhook_delivery_attempts WHERE subscription_id = $1 ORDER BY id`, subscriptionID)
	require.NoError(t, err)
	defer rows.Close()
	var out []attemptRow
	var jobs []int64
	for rows.Next() {
		var a attemptRow
		var job int64
		require.NoError(t, rows.Scan(&a.Attempt, &a.Result, &a.StatusCode, &a.Error, &job))
		out = append(out, a)
		jobs = append(jobs, job)
	}
	require.NoError(t, rows.Err())
	return out, jobs
}

func (env *dbEnv) webhookDeliveries(result store.WebhookResult) float64 {
	return testutil.ToFloat64(env.metrics.webhookDeliveries.WithLabelValues(string(result)))
}

// TestAChangeIsDeliveredSignedOnce syncs a domain whose status changes,
// with the River client, and checks that the one subscription taking the
// event receives it once, signed so that the README's verification
// accepts it, that the attempt is logged, and that the signing secret is
// in no table, log line or metric.
func TestAChangeIsDeliveredSignedOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	env := newDBEnv(t, nil)
	logged, logs := observer.New(zapcore.DebugLevel)
	env.logger = zap.New(logged)
	env.addDomain(t, "dom_hook", registrar.StatusPending, "active")
	billing := newEndpoint(t, always(http.StatusNoContent))
	other := newEndpoint(t, always(http.StatusNoContent))
	sub, signingSecret := env.subscribe(t, billing, store.WebhookChanged, store.WebhookConfirmed)
	env.subscribe(t, other, store.WebhookReverted)

	env.startClient(t, testConfig())
	env.waitForJobs(t)

	got := billing.received()
	require.Len(t, got, 1, "one delivery")
	require.Empty(t, other.received(), "a subscription to another event gets nothing")
	var outcomeID int64
	require.NoError(t, env.pool.QueryRow(ctx, `SELECT id FROM regsync.status_sync_outcomes WHERE domain_id = 'dom_hook'`).Scan(&outcomeID))
	var deliveryID, jobID int64
	var occurredAt time.Time
	require.NoError(t, env.pool.QueryRow(ctx, `
		SELECT d.id, d.created_at, j.id FROM regsync.webhook_deliveries d
		JOIN regsync.river_job j ON j.args = jsonb_build_object('delivery_id', d.id) AND j.state = 'completed'`).Scan(&deliveryID, &occurredAt, &jobID))

	r := got[0]
	require.NoError(t, verifySignature([]byte(signingSecret), r.header.Get(SignatureHeader), r.body, r.at))
	require.Error(t, verifySignature([]byte(signingSecret+"x"), r.header.Get(SignatureHeader), r.body, r.at))
	require.Equal(t, "application/json", r.header.Get("Content-Type"))
	require.Equal(t, "changed", r.header.Get(EventHeader))
	require.Equal(t, strconv.FormatInt(deliveryID, 10), r.header.Get(DeliveryHeader))
	var body map[string]any
	require.NoError(t, json.Unmarshal(r.body, &body))
	require.Equal(t, map[string]any{
		"delivery_id": float64(deliveryID), "event": "changed", "domain_id": "dom_hook", "from": "pending", "to": "active",
		"outcome_id": float64(outcomeID), "occurred_at": occurredAt.UTC().Format(time.RFC3339Nano),
	}, body)

	log, jobs := env.attempts(t, sub.ID)
	require.Equal(t, []attemptRow{{Attempt: 1, Result: "delivered", StatusCode: 204}}, log)
	require.Equal(t, []int64{jobID}, jobs)
	require.Equal(t, 1.0, env.webhookDeliveries(store.WebhookDelivered))
	require.Equal(t, 0.0, env.webhookDeliveries(store.WebhookFailedRetrying))
	require.Equal(t, uint64(1), histogramCount(t, env, "regsync_webhook_delivery_duration_seconds"))

	// The secret: only sealed in the database, never logged or exported.
	found, err := env.store.TablesContaining(ctx, signingSecret)
	require.NoError(t, err)
	require.Empty(t, found)
	found, err = env.store.TablesContaining(ctx, sub.ID)
	require.NoError(t, err)
	require.Contains(t, found, `"regsync"."webhook_subscriptions"`, "the search works")
	require.NotZero(t, logs.Len(), "the logs were captured")
	for _, entry := range logs.All() {
		line, err := zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()).EncodeEntry(entry.Entry, entry.Context)
		require.NoError(t, err)
		require.NotContains(t, line.String(), signingSecret)
		require.NotContains(t, line.String(), billing.URL, "logs name subscriptions by id")
	}
	families, err := env.registry.Gather()
	require.NoError(t, err)
	for _, f := range families {
		require.NotContains(t, f.String(), signingSecret)
		require.NotContains(t, f.String(), sub.ID, "no per-subscription label")
	}
}

func histogramCount(t *testing.T, env *dbEnv, name string) uint64 {
	t.Helper()
	families, err := env.registry.Gather()
	require.NoError(t, err)
	for _, f := range families {
		if f.GetName() == name {
			return f.GetMetric()[0].GetHistogram().GetSampleCount()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

// webhookTestConfig retries deliveries at once: the backoff's schedule is
// TestWebhookRetriesBackOff's; here, how many attempts and what is logged.
func webhookTestConfig() Config {
	cfg := testConfig()
	cfg.Webhook.MaxRetryDelay = time.Millisecond
	cfg.FetchCooldown = 5 * time.Millisecond
	cfg.FetchPollInterval = 20 * time.Millisecond
	return cfg
}

// TestAFailingEndpointIsRetriedThenGivenUp answers every attempt with 503:
// the delivery is tried 25 times, each attempt logged with the same body
// freshly signed, and then given up, its job discarded.
func TestAFailingEndpointIsRetriedThenGivenUp(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	env := newDBEnv(t, nil)
	env.addDomain(t, "dom_down", registrar.StatusPending, "active")
	down := newEndpoint(t, always(http.StatusServiceUnavailable))
	sub, signingSecret := env.subscribe(t, down, store.WebhookChanged)

	env.startClient(t, webhookTestConfig())
	env.waitForJobs(t)

	got := down.received()
	require.Len(t, got, WebhookMaxAttempts)
	for _, r := range got {
		require.Equal(t, got[0].body, r.body, "every attempt posts the same event")
		require.Equal(t, got[0].header.Get(DeliveryHeader), r.header.Get(DeliveryHeader))
		require.NoError(t, verifySignature([]byte(signingSecret), r.header.Get(SignatureHeader), r.body, r.at))
	}
	log, jobs := env.attempts(t, sub.ID)
	require.Len(t, log, WebhookMaxAttempts)
	for i, a := range log {
		want := attemptRow{Attempt: i + 1, Result: "failed_retrying", StatusCode: 503, Error: "answered 503: answer " + strconv.Itoa(i)}
		if i == WebhookMaxAttempts-1 {
			want.Result = "gave_up"
		}
		require.Equal(t, want, a)
		require.Equal(t, jobs[0], jobs[i], "one job")
	}
	var state string
	var errs []rivertype.AttemptError
	require.NoError(t, env.pool.QueryRow(ctx, `SELECT state, errors FROM regsync.river_job WHERE id = $1`, jobs[0]).Scan(&state, &errs))
	require.Equal(t, "discarded", state)
	require.Len(t, errs, WebhookMaxAttempts)
	require.Contains(t, errs[0].Error, "failed_retrying: answered 503")
	require.Equal(t, float64(WebhookMaxAttempts-1), env.webhookDeliveries(store.WebhookFailedRetrying))
	require.Equal(t, 1.0, env.webhookDeliveries(store.WebhookGaveUp))
}

// TestEndpointAnswersDecideTheDelivery checks every other way a delivery
// ends: retried after a 429 and then delivered, rejected at once by a 400,
// a 410 that disables its subscription, a redirect not followed, and the
// deliveries of a subscription removed or disabled before they ran,
// cancelled without a request. A disabled subscription gets no new
// deliveries; enabled again, it does.
func TestEndpointAnswersDecideTheDelivery(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	env := newDBEnv(t, nil)
	env.addDomain(t, "dom_answers", registrar.StatusPending)
	busy := newEndpoint(t, func(n int) int { return map[bool]int{true: http.StatusTooManyRequests, false: http.StatusOK}[n == 0] })
	refusing := newEndpoint(t, always(http.StatusBadRequest))
	gone := newEndpoint(t, always(http.StatusGone))
	redirecting := newEndpoint(t, always(http.StatusFound))
	removed := newEndpoint(t, always(http.StatusOK))
	disabled := newEndpoint(t, always(http.StatusOK))
	busySub, _ := env.subscribe(t, busy, store.WebhookChanged)
	refusingSub, _ := env.subscribe(t, refusing, store.WebhookChanged)
	goneSub, _ := env.subscribe(t, gone, store.WebhookChanged)
	redirectingSub, _ := env.subscribe(t, redirecting, store.WebhookChanged)
	removedSub, _ := env.subscribe(t, removed, store.WebhookChanged)
	disabledSub, _ := env.subscribe(t, disabled, store.WebhookChanged)

	change := func(version int64, from, to registrar.Status) {
		t.Helper()
		now := time.Now()
		_, err := env.store.FinishSync(ctx, store.SyncUpdate{IfVersion: version, Required: true, SetStatus: to, Synced: true, NextSyncAt: now.Add(time.Hour)},
			store.Outcome{ID: "dom_answers", Name: "answers.example.com", Registrar: "sim", PreviousStatus: from, NewStatus: to,
				StatusChanged: true, SyncSuccess: true, Attempt: 1, StartedAt: now, FinishedAt: now})
		require.NoError(t, err)
	}
	change(1, registrar.StatusPending, registrar.StatusActive) // and due in an hour: the sweep leaves it alone
	require.NoError(t, env.store.RemoveWebhookSubscription(ctx, removedSub.ID))
	_, err := env.pool.Exec(ctx, `UPDATE regsync.webhook_subscriptions SET disabled_at = now(), disabled_reason = 'by hand' WHERE id = $1`, disabledSub.ID)
	require.NoError(t, err)

	env.startClient(t, webhookTestConfig())
	env.waitForJobs(t)

	for _, c := range []struct {
		sub   string
		state string
		log   []attemptRow
	}{
		{busySub.ID, "completed", []attemptRow{
			{Attempt: 1, Result: "failed_retrying", StatusCode: 429, Error: "answered 429: answer 0"},
			{Attempt: 2, Result: "delivered", StatusCode: 200},
		}},
		{refusingSub.ID, "cancelled", []attemptRow{{Attempt: 1, Result: "rejected", StatusCode: 400, Error: "answered 400: answer 0"}}},
		{goneSub.ID, "cancelled", []attemptRow{{Attempt: 1, Result: "gone", StatusCode: 410, Error: "answered 410: answer 0"}}},
		{redirectingSub.ID, "cancelled", []attemptRow{
			{Attempt: 1, Result: "rejected", StatusCode: 302, Error: "answered 302, a redirect, which is not followed: answer 0"},
		}},
		{removedSub.ID, "cancelled", []attemptRow{{Attempt: 1, Result: "cancelled", Error: "the subscription was removed"}}},
		{disabledSub.ID, "cancelled", []attemptRow{{Attempt: 1, Result: "cancelled", Error: "the subscription is disabled"}}},
	} {
		log, jobs := env.attempts(t, c.sub)
		require.Equal(t, c.log, log, c.sub)
		var state string
		require.NoError(t, env.pool.QueryRow(ctx, `SELECT state FROM regsync.river_job WHERE id = $1`, jobs[0]).Scan(&state))
		require.Equal(t, c.state, state, c.sub)
	}
	require.Empty(t, removed.received())
	require.Empty(t, disabled.received())
	require.Len(t, redirecting.received(), 1, "the redirect was not followed")
	for result, want := range map[store.WebhookResult]float64{
		store.WebhookDelivered: 1, store.WebhookFailedRetrying: 1, store.WebhookRejected: 2, store.WebhookGone: 1, store.WebhookCancelled: 2, store.WebhookGaveUp: 0,
	} {
		require.Equal(t, want, env.webhookDeliveries(result), result)
	}

	subs, err := env.store.WebhookSubscriptions(ctx)
	require.NoError(t, err)
	for _, s := range subs {
		switch s.ID {
		case goneSub.ID:
			require.False(t, s.DisabledAt.IsZero())
			require.Equal(t, "answered 410: answer 0", s.DisabledReason)
		case disabledSub.ID:
			require.False(t, s.DisabledAt.IsZero())
		default:
			require.True(t, s.DisabledAt.IsZero(), s.ID)
		}
	}

	// The next change goes to the subscriptions still enabled, and to the
	// gone one once enabled again.
	change(2, registrar.StatusActive, registrar.StatusSuspended)
	require.NoError(t, env.store.EnableWebhookSubscription(ctx, goneSub.ID))
	change(3, registrar.StatusSuspended, registrar.StatusActive)
	perSubscription := map[string]int{}
	rows, err := env.pool.Query(ctx, `SELECT subscription_id, count(*) FROM regsync.webhook_deliveries GROUP BY 1`)
	require.NoError(t, err)
	var id string
	var n int
	_, err = pgx.ForEachRow(rows, []any{&id, &n}, func() error {
		perSubscription[id] = n
		return nil
	})
	require.NoError(t, err)
	require.Equal(t, map[string]int{
		busySub.ID: 3, refusingSub.ID: 3, redirectingSub.ID: 3, goneSub.ID: 2, removedSub.ID: 1, disabledSub.ID: 1,
	}, perSubscription)
}

// TestWebhookJobsInsertedWithRawSQL checks that bad delivery jobs inserted
// by hand are cancelled on their first run and counted, and that the job
// the SQL function builds is the one River's Go client inserts for
// WebhookDeliveryArgs.
func TestWebhookJobsInsertedWithRawSQL(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	env := newDBEnv(t, nil)
	client := env.startClient(t, testConfig())
	bad := map[string]string{
		`{}`:                          `"delivery_id" must be a positive integer`,
		`{"delivery_id": "1"}`:        `"delivery_id" must be a positive integer`,
		`{"delivery_id": 1, "x": 2}`:  "unknown field",
		`{"delivery_id": 9999999999}`: "webhook delivery not found",
	}
	ids := map[int64]string{}
	for args := range bad {
		var id int64
		require.NoError(t, env.pool.QueryRow(ctx, `
			INSERT INTO regsync.river_job (args, kind, queue) VALUES ($1, 'webhook_delivery', 'webhook') RETURNING id`, args).Scan(&id))
		ids[id] = args
	}
	_, err := env.pool.Exec(ctx, `NOTIFY "regsync.river_insert", '{"queue": "webhook"}'`)
	require.NoError(t, err)
	env.waitForJobs(t)
	for id, args := range ids {
		var state string
		var errs []rivertype.AttemptError
		require.NoError(t, env.pool.QueryRow(ctx, `SELECT state, errors FROM regsync.river_job WHERE id = $1`, id).Scan(&state, &errs))
		require.Equal(t, "cancelled", state, args)
		require.Contains(t, errs[0].Error, bad[args], args)
	}
	require.Equal(t, 3.0, testutil.ToFloat64(env.metrics.jobsRejected.WithLabelValues("webhook_delivery", "invalid_args")))
	require.Equal(t, 1.0, testutil.ToFloat64(env.metrics.jobsRejected.WithLabelValues("webhook_delivery", "unknown_delivery")))

	// One job from Go, one from SQL, for a delivery that does not exist
	// (it is cancelled, which does not matter here): the same row.
	tx, err := env.pool.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(ctx) }()
	fromGo, err := client.InsertTx(ctx, tx, WebhookDeliveryArgs{DeliveryID: 7}, nil)
	require.NoError(t, err)
	_, err = tx.Exec(ctx, `
		INSERT INTO regsync.domains (id, name, registrar) VALUES ('dom_a', 'a.example', 'sim');
		INSERT INTO regsync.webhook_subscriptions (id, url, events, secret_key_id, secret_ciphertext)
		VALUES ('whk_aaaaaaaaaaaaaaaaaaaaaaaaaa', 'https://billing.example/hook', ARRAY['changed'], 'k1', '\x01');
		SELECT regsync.publish_status_changes(ARRAY[('changed', 'dom_a', 'pending', 'active', 7)::regsync.status_change])`)
	require.NoError(t, err)
	var kind, queue string
	var maxAttempts, priority int
	var argKeys []string
	require.NoError(t, tx.QueryRow(ctx, `
		SELECT j.kind, j.queue, j.max_attempts, j.priority, ARRAY(SELECT jsonb_object_keys(j.args))
		FROM regsync.river_job j JOIN regsync.webhook_deliveries d ON j.args = jsonb_build_object('delivery_id', d.id)`).
		Scan(&kind, &queue, &maxAttempts, &priority, &argKeys))
	require.Equal(t, fromGo.Job.Kind, kind)
	require.Equal(t, fromGo.Job.Queue, queue)
	require.Equal(t, fromGo.Job.MaxAttempts, maxAttempts)
	require.Equal(t, fromGo.Job.Priority, priority)
	var goArgs map[string]any
	require.NoError(t, json.Unmarshal(fromGo.Job.EncodedArgs, &goArgs))
	require.Equal(t, []string{"delivery_id"}, argKeys)
	require.Contains(t, goArgs, "delivery_id")
	require.Len(t, goArgs, 1)
	require.Equal(t, rivertype.JobStateAvailable, fromGo.Job.State)
}

// TestTheLastAttemptIsLoggedWhenItsJobEnds ends the job's context (its
// timeout, or a shutdown) while the last attempt of a delivery waits for
// the endpoint: the attempt is still logged as given up and counted, so
// that the job River then discards is not lost silently.
func TestTheLastAttemptIsLoggedWhenItsJobEnds(t *testing.T) {
	t.Parallel()
	env := newDBEnv(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	slow := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		// With the body read, the server notices the client hanging up.
		_, _ = io.ReadAll(r.Body)
		cancel()
		<-r.Context().Done()
	}))
	t.Cleanup(slow.Close)
	sub, _ := env.subscribe(t, &endpoint{Server: slow}, store.WebhookChanged)
	var deliveryID int64
	require.NoError(t, env.pool.QueryRow(context.Background(), `
		INSERT INTO regsync.webhook_deliveries (subscription_id, event, domain_id, from_status, to_status)
		VALUES ($1, 'changed', 'dom_ended', 'pending', 'active') RETURNING id`, sub.ID).Scan(&deliveryID))

	w := NewWebhookDeliveryWorker(env.store, env.keyring, DefaultWebhookConfig(), env.metrics, zap.NewNop())
	err := w.Work(ctx, &river.Job[WebhookDeliveryArgs]{
		JobRow: &rivertype.JobRow{ID: 7, Attempt: WebhookMaxAttempts, MaxAttempts: WebhookMaxAttempts},
		Args:   WebhookDeliveryArgs{DeliveryID: deliveryID},
	})
	require.ErrorContains(t, err, "gave_up")
	log, jobs := env.attempts(t, sub.ID)
	require.Equal(t, []attemptRow{{Attempt: WebhookMaxAttempts, Result: "gave_up", Error: "context canceled"}}, log)
	require.Equal(t, []int64{7}, jobs)
	require.Equal(t, 1.0, env.webhookDeliveries(store.WebhookGaveUp))
}
