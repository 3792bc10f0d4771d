package worker

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertest"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/regsync/regsync/internal/pgtest"
	"github.com/regsync/regsync/internal/secret"
	"github.com/regsync/regsync/migrations"
	"github.com/regsync/regsync/registrar"
	"github.com/regsync/regsync/registrar/sim"
	"github.com/regsync/regsync/store"
)

func TestMain(m *testing.M) { pgtest.RunMain(m) }

// dbEnv is a migrated database with a simulator registrar and a syncer.
type dbEnv struct {
	pool     *pgxpool.Pool
	store    *store.Store
	sim      *sim.Sim
	metrics  *Metrics
	registry *prometheus.Registry
	syncer   *Syncer
	retrier  *Retrier
	keyring  *secret.Keyring
	logger   *zap.Logger
}

func newDBEnv(t *testing.T, reg registrar.Named) *dbEnv {
	t.Helper()
	simulator, err := sim.New(sim.DefaultConfig())
	require.NoError(t, err)
	if reg == nil {
		reg = simulator
	}
	keySpec, err := secret.GenerateKey("k1")
	require.NoError(t, err)
	keyring, err := secret.ParseKeyring(keySpec)
	require.NoError(t, err)
	return newEnvOn(t, pgtest.NewPool(t), simulator, reg, keyring)
}

// newEnvOn builds a dbEnv on pool with reg as its registrar.
func newEnvOn(t *testing.T, pool *pgxpool.Pool, simulator *sim.Sim, reg registrar.Named, keyring *secret.Keyring) *dbEnv {
	t.Helper()
	registry := prometheus.NewRegistry()
	metrics := NewMetrics(registry)
	cfg := DefaultSyncConfig()
	cfg.DoubleSyncDelay = 0
	st := store.New(pool)
	adapters := NewAdapters([]registrar.Named{reg}, nil, metrics)
	syncer, err := NewSyncer(st, adapters, cfg, metrics)
	require.NoError(t, err)
	transferCfg := DefaultTransferConfig()
	transferCfg.ConfirmDelay = 0
	retrier, err := NewRetrier(st, adapters, keyring, transferCfg, metrics)
	require.NoError(t, err)
	return &dbEnv{
		pool: pool, store: st, sim: simulator, metrics: metrics, registry: registry, syncer: syncer, retrier: retrier, keyring: keyring,
		logger: zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)),
	}
}

// addDomain adds a sim domain with status and scripts its registrar reads.
func (e *dbEnv) addDomain(t *testing.T, id string, status registrar.Status, reads ...string) {
	t.Helper()
	name := strings.TrimPrefix(id, "dom_") + ".example.com"
	require.NoError(t, e.store.AddDomains(context.Background(), []store.NewDomain{{ID: id, Name: name, Registrar: "sim", Status: status}}))
	if len(reads) > 0 {
		require.NoError(t, e.sim.Script(id, name, reads, false))
	}
}

func (e *dbEnv) startClient(t *testing.T, cfg Config) *river.Client[pgx.Tx] {
	t.Helper()
	client, err := NewClient(e.store, cfg, e.syncer, e.retrier, e.keyring, e.metrics, e.logger)
	require.NoError(t, err)
	require.NoError(t, client.Start(context.Background()))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, client.Stop(ctx))
	})
	return client
}

// waitForJobs waits until the start-up sweep ran and no job is left to
// run.
func (e *dbEnv) waitForJobs(t *testing.T) {
	t.Helper()
	require.Eventually(t, func() bool {
		var swept bool
		var open int
		require.NoError(t, e.pool.QueryRow(context.Background(), `
			SELECT count(*) FILTER (WHERE kind = 'sweep' AND state = 'completed') > 0,
				count(*) FILTER (WHERE state NOT IN ('completed', 'cancelled', 'discarded'))
			FROM regsync.river_job`).Scan(&swept, &open))
		return swept && open == 0
	}, time.Minute, 20*time.Millisecond)
}

func testConfig() Config {
	cfg := DefaultConfig()
	cfg.StatusSyncWorkers = 10
	cfg.Sweep.Interval = time.Hour // the sweep runs once, on start
	return cfg
}

func TestStatusSyncWorkerRecordsOutcome(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	env := newDBEnv(t, nil)
	env.addDomain(t, "dom_flap", registrar.StatusActive, "expired", "active")

	w := rivertest.NewWorker(t, riverpgxv5.New(env.pool), &river.Config{Schema: migrations.Schema}, NewStatusSyncWorker(env.syncer, env.metrics, time.Hour))
	tx, err := env.pool.Begin(ctx)
	require.NoError(t, err)
	defer tx.Rollback(ctx)
	res, err := w.Work(ctx, t, tx, StatusSyncArgs{DomainID: "dom_flap"}, nil)
	require.NoError(t, err)
	require.Equal(t, river.EventKindJobSnoozed, res.EventKind, "the guarded change is applied and the job given back for its double sync")
	require.Nil(t, res.Job.Output(), "nothing is recorded yet")
	res, err = w.WorkJob(ctx, t, tx, res.Job)
	require.NoError(t, err)
	require.Equal(t, river.EventKindJobCompleted, res.EventKind)

	// The job's output is the seed's response: exactly its 15 keys.
	var output map[string]any
	require.NoError(t, json.Unmarshal(res.Job.Output(), &output))
	require.Equal(t, map[string]any{
		"id": "dom_flap", "name": "flap.example.com",
		"previousStatus": "active", "newStatus": "active",
		"statusChanged": false, "statusChangedToActive": false, "syncSuccess": true,
		"info":            "Status change reverted after a contradicting double sync.",
		"error":           nil,
		"revertAttempted": true, "revertSucceeded": true, "revertError": nil,
		"doubleSyncAttempted": true, "doubleSyncSucceeded": false,
		"doubleSyncError": `registrar reported "expired" then "active"`,
	}, output)

	var (
		status, unconfirmed   *string
		version               int64
		raw1, raw2, requestID *string
		jobID                 int64
		attempt               int
		duration              time.Duration
		nextSyncIn            time.Duration
	)
	require.NoError(t, env.pool.QueryRow(ctx, `
		SELECT d.status, d.unconfirmed_from_status, d.version, o.raw_status_first, o.raw_status_second,
			o.registrar_request_id, o.job_id, o.attempt, o.duration, d.next_sync_at - now()
		FROM regsync.domains d JOIN regsync.status_sync_outcomes o ON o.domain_id = d.id
		WHERE d.id = 'dom_flap'`).Scan(&status, &unconfirmed, &version, &raw1, &raw2, &requestID, &jobID, &attempt, &duration, &nextSyncIn))
	require.Equal(t, "active", *status)
	require.Nil(t, unconfirmed)
	require.Equal(t, int64(3), version, "applied, then reverted")
	require.Equal(t, "expired", *raw1)
	require.Equal(t, "active", *raw2)
	require.NotEmpty(t, *requestID)
	require.Equal(t, res.Job.ID, jobID)
	require.Equal(t, 1, attempt)
	require.GreaterOrEqual(t, duration, time.Duration(0))
	require.InDelta(t, DefaultSyncConfig().RetryAfterRevert.Seconds(), nextSyncIn.Seconds(), 60, "a flapping domain is synced again soon")
}

func TestStatusSyncStoreCompareAndSet(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	env := newDBEnv(t, nil)
	env.addDomain(t, "dom_cas", registrar.StatusPending)
	d, err := env.store.Domain(ctx, "dom_cas")
	require.NoError(t, err)

	// Someone else changes the status: the trigger bumps the version, so
	// the sync's compare-and-set at the old version loses.
	_, err = env.pool.Exec(ctx, `UPDATE regsync.domains SET status = 'suspended' WHERE id = 'dom_cas'`)
	require.NoError(t, err)
	err = env.store.MarkUnconfirmed(ctx, "dom_cas", d.Version, registrar.StatusActive, store.Unconfirmed{From: d.Status, Raw: "active"})
	require.ErrorIs(t, err, store.ErrVersionConflict)
	_, err = env.store.FinishSync(ctx, store.SyncUpdate{IfVersion: d.Version, Required: true, SetStatus: registrar.StatusActive, NextSyncAt: time.Now()},
		store.Outcome{ID: d.ID, Name: d.Name, Registrar: "sim", PreviousStatus: "pending", NewStatus: "active"})
	require.ErrorIs(t, err, store.ErrVersionConflict)

	var status string
	var outcomes int
	require.NoError(t, env.pool.QueryRow(ctx, `
		SELECT status, (SELECT count(*) FROM regsync.status_sync_outcomes) FROM regsync.domains WHERE id = 'dom_cas'`).Scan(&status, &outcomes))
	require.Equal(t, "suspended", status)
	require.Zero(t, outcomes, "a lost compare-and-set writes nothing")

	// Outcomes are append-only.
	_, err = env.syncer.Sync(ctx, "dom_cas", Run{})
	require.ErrorIs(t, err, registrar.ErrNotFound, "the domain is not scripted at the registrar")
	_, err = env.pool.Exec(ctx, `UPDATE regsync.status_sync_outcomes SET error = NULL`)
	require.ErrorContains(t, err, "append-only")
	_, err = env.pool.Exec(ctx, `DELETE FROM regsync.status_sync_outcomes`)
	require.ErrorContains(t, err, "append-only")
}

func TestEnqueueDeduplicatesAcrossGoAndSQL(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	env := newDBEnv(t, nil)
	env.addDomain(t, "dom_a", registrar.StatusActive)
	env.addDomain(t, "dom_b", registrar.StatusActive)
	jobID := requireDeduplicatedBothOrders(t, env, env.store.EnqueueStatusSync,
		func(id string) river.JobArgs { return StatusSyncArgs{DomainID: id} }, "dom_a", "dom_b")

	// The SQL-built row is the row Go would build.
	var goKey, sqlKey []byte
	var goStates, sqlStates string
	require.NoError(t, env.pool.QueryRow(ctx, `
		SELECT a.unique_key, a.unique_states::text, b.unique_key, b.unique_states::text
		FROM regsync.river_job a, regsync.river_job b
		WHERE a.args->>'domain_id' = 'dom_a' AND b.args->>'domain_id' = 'dom_b'`).Scan(&goKey, &goStates, &sqlKey, &sqlStates))
	require.Equal(t, goStates, sqlStates)
	var sqlKeyForA []byte
	require.NoError(t, env.pool.QueryRow(ctx, `
		SELECT sha256(convert_to('&kind=status_sync&args={"domain_id":"dom_a"}', 'UTF8'))`).Scan(&sqlKeyForA))
	require.Equal(t, goKey, sqlKeyForA)

	// A finished job does not block the next one.
	_, err := env.pool.Exec(ctx, `UPDATE regsync.river_job SET state = 'completed', finalized_at = now() WHERE args->>'domain_id' = 'dom_b'`)
	require.NoError(t, err)
	newID, inserted, err := env.store.EnqueueStatusSync(ctx, "dom_b")
	require.NoError(t, err)
	require.True(t, inserted)
	require.NotEqual(t, jobID, newID)

	// Bad ids are errors, not jobs.
	_, _, err = env.store.EnqueueStatusSync(ctx, "dom_missing")
	require.ErrorIs(t, err, store.ErrDomainNotFound)
	_, _, err = env.store.EnqueueStatusSync(ctx, `dom_x","kind":"evil`)
	require.ErrorContains(t, err, "invalid domain id")
}

// requireDeduplicatedBothOrders enqueues a job for first from Go, then
// through the SQL function enqueue, and one for second the other way
// round, and requires each second insert to be dropped as a duplicate of
// the first. It returns the id of second's job.
func requireDeduplicatedBothOrders(t *testing.T, env *dbEnv, enqueue func(context.Context, string) (int64, bool, error),
	newArgs func(id string) river.JobArgs, first, second string,
) int64 {
	t.Helper()
	ctx := context.Background()
	client, err := NewInsertClient(env.pool, env.logger)
	require.NoError(t, err)

	// Go first, then SQL.
	res, err := client.Insert(ctx, newArgs(first), nil)
	require.NoError(t, err)
	require.False(t, res.UniqueSkippedAsDuplicate)
	_, inserted, err := enqueue(ctx, first)
	require.NoError(t, err)
	require.False(t, inserted, "SQL sees the job inserted from Go")

	// SQL first, then Go; the sweep's lower priority is no different job.
	jobID, inserted, err := enqueue(ctx, second)
	require.NoError(t, err)
	require.True(t, inserted)
	res, err = client.Insert(ctx, newArgs(second), &river.InsertOpts{Priority: PrioritySweep})
	require.NoError(t, err)
	require.True(t, res.UniqueSkippedAsDuplicate, "Go sees the job inserted from SQL")
	require.Equal(t, jobID, res.Job.ID)
	return jobID
}

func TestJobsInsertedWithRawSQL(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	env := newDBEnv(t, nil)
	env.addDomain(t, "dom_good", registrar.StatusPending, "active")
	env.startClient(t, testConfig())

	bad := map[string]string{
		`[]`:                                    "invalid status_sync job args",
		`"dom_good"`:                            "invalid status_sync job args",
		`{}`:                                    `missing "domain_id"`,
		`{"domain_id": 5}`:                      "invalid status_sync job args",
		`{"domain_id": null}`:                   `missing "domain_id"`,
		`{"domain_id": "DOM_GOOD"}`:             "invalid domain id",
		`{"domain_id": "dom_good", "force": 1}`: "unknown field",
		`{"domain_id": "dom_nosuchdomain"}`:     "domain not found",
	}
	ids := map[int64]string{}
	for args := range bad {
		var id int64
		require.NoError(t, env.pool.QueryRow(ctx, `
			INSERT INTO regsync.river_job (args, kind, queue) VALUES ($1, 'status_sync', 'status_sync') RETURNING id`, args).Scan(&id))
		ids[id] = args
	}
	_, err := env.pool.Exec(ctx, `NOTIFY "regsync.river_insert", '{"queue": "status_sync"}'`)
	require.NoError(t, err)
	goodID, inserted, err := env.store.EnqueueStatusSync(ctx, "dom_good")
	require.NoError(t, err)
	require.True(t, inserted)
	env.waitForJobs(t)

	for id, args := range ids {
		var state string
		var errs []rivertype.AttemptError
		require.NoError(t, env.pool.QueryRow(ctx, `SELECT state, errors FROM regsync.river_job WHERE id = $1`, id).Scan(&state, &errs))
		require.Equal(t, "cancelled", state, "args %s", args)
		require.Len(t, errs, 1, "cancelled on the first attempt: args %s", args)
		require.Contains(t, errs[0].Error, bad[args], "args %s", args)
	}
	var goodState, domainStatus string
	require.NoError(t, env.pool.QueryRow(ctx, `
		SELECT j.state, d.status FROM regsync.river_job j, regsync.domains d WHERE j.id = $1 AND d.id = 'dom_good'`, goodID).Scan(&goodState, &domainStatus))
	require.Equal(t, "completed", goodState, "bad rows harm nothing else")
	require.Equal(t, "active", domainStatus)
	require.Equal(t, float64(len(bad)-1), testutil.ToFloat64(env.metrics.jobsRejected.WithLabelValues("status_sync", "invalid_args")))
	require.Equal(t, 1.0, testutil.ToFloat64(env.metrics.jobsRejected.WithLabelValues("status_sync", "unknown_domain")))
}

func TestSQLEnqueueWakesWorker(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	env := newDBEnv(t, nil)
	env.addDomain(t, "dom_wake", registrar.StatusPending, "active")
	// Domains are due at once; move this one out of the start-up sweep.
	_, err := env.pool.Exec(ctx, `UPDATE regsync.domains SET next_sync_at = now() + interval '1 day'`)
	require.NoError(t, err)
	cfg := testConfig()
	// With polling this slow, only the insert notification can get the job
	// picked up before the deadline below.
	cfg.FetchPollInterval = time.Hour
	client := env.startClient(t, cfg)
	events, cancel := client.Subscribe(river.EventKindJobCompleted)
	defer cancel()

	// The sweep runs on start; let it finish so the listener is up.
	waitForEvent(t, events, "sweep")
	jobID, inserted, err := env.store.EnqueueStatusSync(ctx, "dom_wake")
	require.NoError(t, err)
	require.True(t, inserted)
	ev := waitForEvent(t, events, "status_sync")
	require.Equal(t, jobID, ev.Job.ID)
}

func waitForEvent(t *testing.T, events <-chan *river.Event, kind string) *river.Event {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case ev := <-events:
			if ev.Job.Kind == kind {
				return ev
			}
		case <-timeout:
			t.Fatalf("no %s job completed within 30s", kind)
		}
	}
}

// TestSweepEnqueuesEachDueDomainOnce checks that the sweep enqueues one
// job per due domain, at the sweep's priority, never claims a domain again
// while its sync is queued, however long that lasts, and makes due again
// only the queued domains whose job was lost.
func TestSweepEnqueuesEachDueDomainOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	env := newDBEnv(t, nil)
	const n = 2500
	domains := make([]store.NewDomain, n)
	for i := range domains {
		domains[i] = store.NewDomain{ID: fmt.Sprintf("dom_%d", i), Name: fmt.Sprintf("d%d.example.com", i), Registrar: "sim", Status: "active"}
	}
	require.NoError(t, env.store.AddDomains(ctx, domains))
	_, err := env.pool.Exec(ctx, `UPDATE regsync.domains SET next_sync_at = now() + interval '1 day' WHERE id = 'dom_7'`)
	require.NoError(t, err)
	cfg := DefaultSweepConfig()
	cfg.ChunkSize = 1000

	claimed, err := SweepDueDomains(ctx, env.store, cfg, env.metrics)
	require.NoError(t, err)
	require.Equal(t, n-1, claimed)
	claimed, err = SweepDueDomains(ctx, env.store, cfg, env.metrics)
	require.NoError(t, err)
	require.Zero(t, claimed, "queued domains are not claimed again")

	// Due again while their jobs still wait, as in a backlog longer than
	// any lease: only the domain that was not queued is claimed.
	_, err = env.pool.Exec(ctx, `UPDATE regsync.domains SET next_sync_at = now() - interval '1 day'`)
	require.NoError(t, err)
	claimed, err = SweepDueDomains(ctx, env.store, cfg, env.metrics)
	require.NoError(t, err)
	require.Equal(t, 1, claimed)

	var jobs, distinct, priority int
	var queues []string
	require.NoError(t, env.pool.QueryRow(ctx, `
		SELECT count(*), count(DISTINCT args->>'domain_id'), max(priority), array_agg(DISTINCT queue)
		FROM regsync.river_job WHERE kind = 'status_sync'`).Scan(&jobs, &distinct, &priority, &queues))
	require.Equal(t, n, jobs)
	require.Equal(t, n, distinct)
	require.Equal(t, PrioritySweep, priority)
	require.Equal(t, []string{StatusSyncQueue("sim")}, queues, "SQL names the registrar's queue as the workers do")
	require.Equal(t, float64(n), testutil.ToFloat64(env.metrics.sweepEnqueued.WithLabelValues("status_sync")))

	// Two jobs are lost (cancelled by hand); every mark is old. Only those
	// two domains are released, and claimed by the next sweep.
	_, err = env.pool.Exec(ctx, `UPDATE regsync.river_job SET state = 'cancelled', finalized_at = now()
		WHERE args->>'domain_id' IN ('dom_1', 'dom_2')`)
	require.NoError(t, err)
	_, err = env.pool.Exec(ctx, `UPDATE regsync.domains SET queued_at = now() - interval '1 hour'`)
	require.NoError(t, err)
	released, err := env.store.ReleaseOrphanedDomains(ctx, 15*time.Minute, n)
	require.NoError(t, err)
	require.Equal(t, 2, released)
	claimed, err = SweepDueDomains(ctx, env.store, cfg, env.metrics)
	require.NoError(t, err)
	require.Equal(t, 2, claimed)

	// A sync's last write clears the mark.
	require.NoError(t, env.sim.Script("dom_3", "d3.example.com", []string{"active"}, false))
	_, err = env.syncer.SyncNow(ctx, "dom_3")
	require.NoError(t, err)
	var queued bool
	require.NoError(t, env.pool.QueryRow(ctx, `SELECT queued_at IS NOT NULL FROM regsync.domains WHERE id = 'dom_3'`).Scan(&queued))
	require.False(t, queued)
}

// TestOnDemandJumpsTheQueue checks that an enqueue through SQL that finds
// the domain's sync already waiting moves it to the front: priority 1 and
// due now, whether it waited available, scheduled or to be retried.
func TestOnDemandJumpsTheQueue(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	env := newDBEnv(t, nil)
	for _, id := range []string{"dom_swept", "dom_later", "dom_retry"} {
		env.addDomain(t, id, registrar.StatusActive)
	}
	claimed, err := SweepDueDomains(ctx, env.store, DefaultSweepConfig(), env.metrics)
	require.NoError(t, err)
	require.Equal(t, 3, claimed)
	_, err = env.pool.Exec(ctx, `UPDATE regsync.river_job SET state = 'scheduled', scheduled_at = now() + interval '1 hour'
		WHERE args->>'domain_id' = 'dom_later'`)
	require.NoError(t, err)
	_, err = env.pool.Exec(ctx, `UPDATE regsync.river_job SET state = 'retryable', scheduled_at = now() + interval '1 hour', attempt = 1
		WHERE args->>'domain_id' = 'dom_retry'`)
	require.NoError(t, err)

	for _, id := range []string{"dom_swept", "dom_later", "dom_retry"} {
		jobID, inserted, err := env.store.EnqueueStatusSync(ctx, id)
		require.NoError(t, err)
		require.False(t, inserted, "%s: the contract still returns NULL for a pending sync", id)
		require.Zero(t, jobID)
		var state string
		var priority int
		var due bool
		require.NoError(t, env.pool.QueryRow(ctx, `SELECT state, priority, scheduled_at <= now() FROM regsync.river_job
			WHERE args->>'domain_id' = $1`, id).Scan(&state, &priority, &due))
		require.Equal(t, "available", state, id)
		require.Equal(t, PriorityOnDemand, priority, id)
		require.True(t, due, id)
	}
}

// concurrencyTracker wraps a registrar and records the most reads of one
// domain it saw in flight at once.
type concurrencyTracker struct {
	registrar.Registrar
	mu       sync.Mutex
	inFlight map[string]int
	maxSeen  int
}

func (c *concurrencyTracker) ReadStatus(ctx context.Context, d registrar.Domain) (registrar.StatusReading, error) {
	c.mu.Lock()
	c.inFlight[d.ID]++
	c.maxSeen = max(c.maxSeen, c.inFlight[d.ID])
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.inFlight[d.ID]--
		c.mu.Unlock()
	}()
	return c.Registrar.ReadStatus(ctx, d)
}

func TestTwoClientsNeverSyncADomainConcurrently(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	simulator, err := sim.New(sim.Config{Name: "sim", Latency: 2 * time.Millisecond})
	require.NoError(t, err)
	tracker := &concurrencyTracker{Registrar: simulator, inFlight: map[string]int{}}
	env := newDBEnv(t, tracker)
	env.sim = simulator

	const n = 200
	for i := range n {
		id := fmt.Sprintf("dom_%d", i)
		env.addDomain(t, id, registrar.StatusActive, "active", "expired", "active")
	}
	// Two processes' clients on one database, each with its own syncer.
	second := &dbEnv{pool: env.pool, store: env.store, retrier: env.retrier, metrics: NewMetrics(prometheus.NewRegistry()), logger: env.logger}
	cfg := DefaultSyncConfig()
	cfg.DoubleSyncDelay = 0
	second.syncer, err = NewSyncer(env.store, NewAdapters([]registrar.Named{tracker}, nil, second.metrics), cfg, second.metrics)
	require.NoError(t, err)
	env.startClient(t, testConfig())
	second.startClient(t, testConfig())

	// Meanwhile another service asks for syncs of the same domains.
	for round := range 3 {
		for i := range n {
			_, _, err := env.store.EnqueueStatusSync(ctx, fmt.Sprintf("dom_%d", (i+round*7)%n))
			require.NoError(t, err)
		}
	}
	env.waitForJobs(t)

	require.Equal(t, 1, tracker.maxSeen, "no domain was read by two syncs at once")
	var completed, outcomes, unsynced int
	require.NoError(t, env.pool.QueryRow(ctx, `
		SELECT (SELECT count(*) FROM regsync.river_job WHERE kind = 'status_sync' AND state = 'completed'),
			(SELECT count(*) FROM regsync.status_sync_outcomes),
			(SELECT count(*) FROM regsync.domains WHERE last_synced_at IS NULL)`).Scan(&completed, &outcomes, &unsynced))
	require.Zero(t, unsynced)
	require.Equal(t, completed, outcomes, "one outcome row per completed job")
	synced := counterSum(t, env.metrics.statusSyncs) + counterSum(t, second.metrics.statusSyncs)
	require.Equal(t, float64(outcomes), synced)
}

func TestDatabaseCollector(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	env := newDBEnv(t, nil)
	env.addDomain(t, "dom_1", registrar.StatusActive)
	env.addDomain(t, "dom_2", registrar.StatusActive)
	env.addDomain(t, "dom_3", registrar.StatusExpired)
	_, err := env.pool.Exec(ctx, `UPDATE regsync.domains SET next_sync_at = now() - interval '90 seconds' WHERE id = 'dom_1'`)
	require.NoError(t, err)
	_, _, err = env.store.EnqueueStatusSync(ctx, "dom_1")
	require.NoError(t, err)

	c := NewDatabaseCollector(env.store, 5*time.Second)
	require.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(`
# HELP regsync_database_up 1 when the scrape-time database query succeeded, 0 when it failed.
# TYPE regsync_database_up gauge
regsync_database_up 1
`)), "before the leader computed the gauges, only the database is reported")

	require.NoError(t, env.store.RefreshGauges(ctx))
	problems, err := testutil.CollectAndLint(c)
	require.NoError(t, err)
	require.Empty(t, problems)
	require.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(`
# HELP regsync_domains Domains by normalized status, read at scrape time.
# TYPE regsync_domains gauge
regsync_domains{status="active"} 2
regsync_domains{status="cancelled"} 0
regsync_domains{status="expired"} 1
regsync_domains{status="fraud"} 0
regsync_domains{status="pending"} 0
regsync_domains{status="suspended"} 0
regsync_domains{status="terminated"} 0
regsync_domains{status="unknown"} 0
# HELP regsync_domains_sync_due Domains whose next status sync time has passed.
# TYPE regsync_domains_sync_due gauge
regsync_domains_sync_due 3
# HELP regsync_jobs Jobs in the queue by queue and state, read at scrape time.
# TYPE regsync_jobs gauge
regsync_jobs{queue="status_sync_sim",state="available"} 1
# HELP regsync_database_up 1 when the scrape-time database query succeeded, 0 when it failed.
# TYPE regsync_database_up gauge
regsync_database_up 1
`), "regsync_domains", "regsync_domains_sync_due", "regsync_jobs", "regsync_database_up"))

	lag := testutil.ToFloat64(prometheus.CollectorFunc(func(ch chan<- prometheus.Metric) {
		for m := range collect(c) {
			if strings.Contains(m.Desc().String(), "regsync_domains_sync_lag_seconds") {
				ch <- m
			}
		}
	}))
	require.GreaterOrEqual(t, lag, 90.0)

	env.pool.Close()
	require.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(`
# HELP regsync_database_up 1 when the scrape-time database query succeeded, 0 when it failed.
# TYPE regsync_database_up gauge
regsync_database_up 0
`), "regsync_database_up"))
}

// counterSum adds up every series of a counter vector.
func counterSum(t *testing.T, c prometheus.Collector) float64 {
	t.Helper()
	sum := 0.0
	for m := range collect(c) {
		var out dto.Metric
		require.NoError(t, m.Write(&out))
		sum += out.GetCounter().GetValue()
	}
	return sum
}

func collect(c prometheus.Collector) <-chan prometheus.Metric {
	ch := make(chan prometheus.Metric, 100)
	c.Collect(ch)
	close(ch)
	return ch
}

func TestMetricsLint(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	simulator, err := sim.New(sim.DefaultConfig())
	require.NoError(t, err)
	m.Init(NewAdapters([]registrar.Named{simulator}, nil, m))
	problems, err := testutil.GatherAndLint(reg)
	require.NoError(t, err)
	require.Empty(t, problems)

	// Every bounded series exists from the start, at zero.
	for _, c := range []struct {
		name   string
		labels []string
	}{
		{"regsync_double_sync_total", []string{"confirmed"}},
		{"regsync_double_sync_total", []string{"interrupted"}},
		{"regsync_status_sync_total", []string{"false", "sim", "reverted"}}, // labels sort by name
		{"regsync_status_transitions_total", []string{"active", "expired"}},
		{"regsync_transfer_reset_total", []string{"sim", "forbidden"}},
		{"regsync_registrar_access_errors_total", []string{"credentials_refused", "sim"}}, // labels sort by name
		{"regsync_jobs_rejected_total", []string{"status_sync", "invalid_args"}},
		{"regsync_sweep_enqueued_total", []string{"transfer_retry"}},
		{"regsync_webhook_deliveries_total", []string{"gave_up"}},
		{"regsync_jobs_rejected_total", []string{"webhook_delivery", "unknown_delivery"}},
		{"regsync_job_duration_seconds", []string{"webhook_delivery", "webhook", "failed"}},
	} {
		require.True(t, hasSeries(t, reg, c.name, c.labels...), "%s%v", c.name, c.labels)
	}
}

// hasSeries reports whether reg has a series of the named family whose
// label values, in the order of their sorted names, are values.
func hasSeries(t *testing.T, reg *prometheus.Registry, name string, values ...string) bool {
	t.Helper()
	families, err := reg.Gather()
	require.NoError(t, err)
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			var got []string
			for _, l := range m.GetLabel() {
				got = append(got, l.GetValue())
			}
			if slices.Equal(got, values) {
				return true
			}
		}
	}
	return false
}

// TestRateLimitIsSharedAcrossProcesses checks the shared limit's slots:
// a burst goes at once, whichever process asks; a slot further away than
// the caller may wait is kept for its job, which finds the same slot when
// it comes back; a request outside the job queue takes its slot however
// far; a registrar without a limit is not limited.
func TestRateLimitIsSharedAcrossProcesses(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	env := newDBEnv(t, nil)
	// A burst of 3 and a slot every 100 s, spaced for 98 % of that: 102 s.
	require.NoError(t, env.store.SetRateLimits(ctx, []store.RateLimit{{Registrar: "sim", RequestsPerSecond: 0.01, Burst: 3}}))
	const every = 100 / 0.98
	first := env.store
	second := store.New(secondPool(t, env.pool)) // another process
	// Slots are compared by their times, which the database computes from
	// the first one, not by the waits, which shrink as the test runs.
	started := time.Now()
	var slots []store.Slot
	for job, st := range []*store.Store{first, second, first, second, first} {
		slot, err := st.ReserveRegistrarSlot(ctx, "sim", int64(job+1), time.Minute)
		require.NoError(t, err)
		require.True(t, slot.Limited)
		require.Equal(t, slot.Wait < time.Minute, slot.Taken, "job %d", job+1)
		slots = append(slots, slot)
	}
	after := func(s store.Slot) float64 { return s.At.Sub(slots[0].At).Seconds() }
	require.Equal(t, []bool{true, true, true}, []bool{slots[0].Wait == 0, slots[1].Wait == 0, slots[2].Wait == 0}, "the burst goes at once")
	require.InDelta(t, every, after(slots[3]), 0.001)
	require.InDelta(t, 2*every, after(slots[4]), 0.001)

	again, err := second.ReserveRegistrarSlot(ctx, "sim", 4, time.Minute)
	require.NoError(t, err)
	require.False(t, again.Taken)
	require.Equal(t, slots[3].At, again.At, "job 4 comes back to its own slot, not a later one")

	cli, err := first.ReserveRegistrarSlot(ctx, "sim", 0, time.Minute)
	require.NoError(t, err)
	require.True(t, cli.Taken, "outside the job queue the slot is taken, however far")
	require.InDelta(t, 3*every, after(cli), 0.001)

	unlimited, err := first.ReserveRegistrarSlot(ctx, "hostup", 1, time.Minute)
	require.NoError(t, err)
	require.False(t, unlimited.Limited)

	// The limiter gives a job back for a far slot, and waits in place for
	// one outside the job queue until its context ends.
	limiter := NewRateLimiter(env.store, time.Minute, env.metrics)
	var far *RateLimitWaitError
	require.ErrorAs(t, limiter.Wait(withRun(ctx, Run{JobID: 9}), "sim"), &far)
	require.LessOrEqual(t, far.Wait.Seconds(), 4*every)
	require.GreaterOrEqual(t, far.Wait.Seconds(), 4*every-time.Since(started).Seconds())
	require.ErrorIs(t, testPolicy.jobError(far, 0), &rivertype.JobSnoozeError{})
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, limiter.Wait(short, "sim"), context.DeadlineExceeded)
	require.NoError(t, limiter.Wait(ctx, "hostup"), "unlimited registrars wait for nothing")
}

// TestRateLimitSlotsAreSpacedInOrder has many callers ask for slots at
// once and checks that each gets its own, spaced by the rate: no two
// callers wake together, and none goes before its turn.
func TestRateLimitSlotsAreSpacedInOrder(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	env := newDBEnv(t, nil)
	require.NoError(t, env.store.SetRateLimits(ctx, []store.RateLimit{{Registrar: "sim", RequestsPerSecond: 20, Burst: 1}}))
	const callers = 40
	slots := make(chan time.Time, callers)
	var wg sync.WaitGroup
	for job := range callers {
		wg.Go(func() {
			slot, err := env.store.ReserveRegistrarSlot(ctx, "sim", int64(job+1), time.Hour)
			if err != nil {
				t.Error(err)
				return
			}
			slots <- slot.At
		})
	}
	wg.Wait()
	close(slots)
	var at []time.Time
	for s := range slots {
		at = append(at, s)
	}
	slices.SortFunc(at, func(a, b time.Time) int { return a.Compare(b) })
	require.Len(t, at, callers)
	for i := 1; i < len(at); i++ {
		require.GreaterOrEqual(t, at[i].Sub(at[i-1]), 50*time.Millisecond, "slots %d and %d are 50 ms apart at least", i-1, i)
	}
}

// secondPool opens another pool on pool's database.
func secondPool(t *testing.T, pool *pgxpool.Pool) *pgxpool.Pool {
	t.Helper()
	other, err := pgxpool.NewWithConfig(context.Background(), pool.Config().Copy())
	require.NoError(t, err)
	t.Cleanup(other.Close)
	return other
}

// renamingRegistrar is the simulator, but its read first renames the
// domain as an import does, bumping its version while the sync is in
// flight.
type renamingRegistrar struct {
	*sim.Sim
	pool *pgxpool.Pool
}

func (r renamingRegistrar) ReadStatus(ctx context.Context, d registrar.Domain) (registrar.StatusReading, error) {
	if _, err := r.pool.Exec(ctx, `UPDATE regsync.domains SET name = 'renamed-' || name, version = version + 1 WHERE id = $1`, d.ID); err != nil {
		return registrar.StatusReading{}, err
	}
	return r.Sim.ReadStatus(ctx, d)
}

// TestAStaleReadWritesNoDomainFacts renames domains during their sync's
// read, as an import may: a sync that keeps a sticky status, or reads one
// it does not recognise, records its outcome but writes nothing it read
// of the old domain, and leaves it due at once instead of an interval
// out.
func TestAStaleReadWritesNoDomainFacts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	simulator, err := sim.New(sim.DefaultConfig())
	require.NoError(t, err)
	pool := pgtest.NewPool(t)
	env := newEnvOn(t, pool, simulator, renamingRegistrar{Sim: simulator, pool: pool}, nil)
	env.addDomain(t, "dom_sticky", registrar.StatusFraud, "active")
	env.addDomain(t, "dom_odd", registrar.StatusActive, "?odd")
	for id, want := range map[string]string{"dom_sticky": "a local decision and was kept", "dom_odd": "unrecognised registrar status"} {
		before, err := env.store.Domain(ctx, id)
		require.NoError(t, err)
		o, err := env.syncer.SyncNow(ctx, id)
		require.NoError(t, err, id)
		require.Equal(t, before.Status, o.NewStatus, id)
		got := ""
		for _, s := range []*string{o.Info, o.Error} {
			if s != nil {
				got += *s
			}
		}
		require.Contains(t, got, want, id)
		after, err := env.store.Domain(ctx, id)
		require.NoError(t, err)
		require.Equal(t, before.Version+1, after.Version, id)
		require.Nil(t, after.LastSyncedAt, "%s: not marked synced by a read of the old domain", id)
		var due bool
		require.NoError(t, pool.QueryRow(ctx, `SELECT next_sync_at <= now() FROM regsync.domains WHERE id = $1`, id).Scan(&due))
		require.True(t, due, "%s: due again at once", id)
	}
}
