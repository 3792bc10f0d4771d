package migrations_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/regsync/regsync/internal/pgtest"
	"github.com/regsync/regsync/migrations"
)

// requireDenied requires err to be PostgreSQL's permission error.
func requireDenied(t *testing.T, err error, what string) {
	t.Helper()
	var pgErr *pgconn.PgError
	require.ErrorAs(t, err, &pgErr, "%s: want permission denied, got %v", what, err)
	require.Equal(t, "42501", pgErr.Code, "%s: %s", what, pgErr.Message)
}

// addDomainAndTransfer adds dom_a (registrar sim) and trf_a as the
// superuser the tests set up with.
func addDomainAndTransfer(t *testing.T, admin *pgxpool.Pool) {
	t.Helper()
	_, err := admin.Exec(context.Background(), `
		INSERT INTO regsync.domains (id, name, registrar, status) VALUES ('dom_a', 'a.example', 'sim', 'active');
		INSERT INTO regsync.transfers (id, account_number, domain_name, registrar, block_reason,
			auth_info_key_id, auth_info_ciphertext, previous_auth_info_key_id, previous_auth_info_ciphertext)
		VALUES ('trf_a', 'acct1', 'a.example', 'sim', 'no_response', 'k1', '\x0102', 'k0', '\x0304');
		INSERT INTO regsync.api_keys (id, name, token_hash, scopes)
		VALUES ('key_aaaaaaaaaaaaaaaaaaaaaaaaaa', 'dashboards', sha256('secret'), ARRAY['read:domains'])`)
	require.NoError(t, err)
}

// TestNoFunctionIsPublic checks that PUBLIC may execute none of the
// schema's functions, River's included, and none that a later migration
// creates as the migrator role.
func TestNoFunctionIsPublic(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	_, err := pool.Exec(ctx, `
		SET ROLE regsync_migrator;
		CREATE FUNCTION regsync.added_later() RETURNS int LANGUAGE sql AS 'SELECT 1';
		RESET ROLE`)
	require.NoError(t, err)

	rows, err := pool.Query(ctx, `
		SELECT p.oid::regprocedure::text FROM pg_proc p
		WHERE p.pronamespace = 'regsync'::regnamespace AND EXISTS (
			SELECT 1 FROM aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a WHERE a.grantee = 0)`)
	require.NoError(t, err)
	public, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	require.Empty(t, public)

	var functions int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM pg_proc WHERE pronamespace = 'regsync'::regnamespace`).Scan(&functions))
	require.Greater(t, functions, 10, "the query above looked at the schema's functions")

	// A login in no role may use nothing, not even the enqueue functions.
	nobody := pgtest.LoginAs(t, pool)
	for _, call := range []string{
		"SELECT regsync.enqueue_status_sync('dom_a')",
		"SELECT regsync.added_later()",
		"SELECT count(*) FROM regsync.domains",
	} {
		_, err := nobody.Exec(ctx, call)
		requireDenied(t, err, call)
	}
}

// TestEnqueuerMayOnlyEnqueue logs in as a member of regsync_enqueuer:
// both enqueue functions work as before, deduplication, on-demand
// promotion and the workers' wake-up included, and nothing else does.
func TestEnqueuerMayOnlyEnqueue(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	admin := pgtest.NewPool(t)
	addDomainAndTransfer(t, admin)
	enqueuer := pgtest.LoginAs(t, admin, migrations.EnqueuerRole)

	// The workers are woken when the enqueuing transaction commits.
	listener, err := admin.Acquire(ctx)
	require.NoError(t, err)
	defer listener.Release()
	_, err = listener.Exec(ctx, `LISTEN "regsync.river_insert"`)
	require.NoError(t, err)

	var jobID, again *int64
	require.NoError(t, enqueuer.QueryRow(ctx, "SELECT regsync.enqueue_status_sync('dom_a')").Scan(&jobID))
	require.NotNil(t, jobID)
	waitCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	note, err := listener.Conn().WaitForNotification(waitCtx)
	require.NoError(t, err)
	var payload map[string]string
	require.NoError(t, json.Unmarshal([]byte(note.Payload), &payload))
	require.Equal(t, map[string]string{"queue": "status_sync_sim"}, payload)

	require.NoError(t, enqueuer.QueryRow(ctx, "SELECT regsync.enqueue_status_sync('dom_a')").Scan(&again))
	require.Nil(t, again, "a sync is already pending")

	// A pending sync that waits behind others is moved to the front.
	_, err = admin.Exec(ctx, `UPDATE regsync.river_job SET priority = 2, state = 'scheduled', scheduled_at = now() + interval '1 hour' WHERE id = $1`, *jobID)
	require.NoError(t, err)
	require.NoError(t, enqueuer.QueryRow(ctx, "SELECT regsync.enqueue_status_sync('dom_a')").Scan(&again))
	require.Nil(t, again)
	var priority int
	var state string
	var due bool
	require.NoError(t, admin.QueryRow(ctx, `SELECT priority, state::text, scheduled_at <= now() FROM regsync.river_job WHERE id = $1`, *jobID).Scan(&priority, &state, &due))
	require.Equal(t, 1, priority)
	require.Equal(t, "available", state)
	require.True(t, due)

	require.NoError(t, enqueuer.QueryRow(ctx, "SELECT regsync.enqueue_transfer_retry('trf_a')").Scan(&jobID))
	require.NotNil(t, jobID)
	require.NoError(t, enqueuer.QueryRow(ctx, "SELECT regsync.enqueue_transfer_retry('trf_a')").Scan(&again))
	require.Nil(t, again)

	var pgErr *pgconn.PgError
	_, err = enqueuer.Exec(ctx, "SELECT regsync.enqueue_status_sync('dom_missing')")
	require.ErrorAs(t, err, &pgErr)
	require.Equal(t, "P0002", pgErr.Code, "no_data_found")
	_, err = enqueuer.Exec(ctx, `SELECT regsync.enqueue_transfer_retry('trf_x","kind":"evil')`)
	require.ErrorAs(t, err, &pgErr)
	require.Equal(t, "22023", pgErr.Code, "invalid_parameter_value")

	for _, statement := range []string{
		`INSERT INTO regsync.river_job (args, kind, queue) VALUES ('{"domain_id": "dom_a"}', 'status_sync', 'status_sync_sim')`,
		`UPDATE regsync.river_job SET priority = 1`,
		`SELECT count(*) FROM regsync.river_job`,
		`SELECT auth_info_ciphertext FROM regsync.transfers`,
		`SELECT id FROM regsync.transfers`,
		`SELECT token_hash FROM regsync.api_keys`,
		`SELECT count(*) FROM regsync.domains`,
		`SELECT regsync.insert_unique_jobs('status_sync', 'domain_id', ARRAY['dom_a'], ARRAY['status_sync_sim'], 1::smallint)`,
		`SELECT regsync.enqueue_unique_job('status_sync', 'domain_id', 'dom_a', 'status_sync_sim')`,
		`SELECT regsync.unique_job_key('status_sync', 'domain_id', 'dom_a')`,
		`CREATE TABLE regsync.mine (id int)`,
	} {
		_, err := enqueuer.Exec(ctx, statement)
		requireDenied(t, err, statement)
	}
}

// TestReaderNeverSeesSecrets logs in as a member of regsync_reader: it
// reads domains, outcomes, transfers and jobs, but no authInfo value, no
// API key hash, and it changes nothing.
func TestReaderNeverSeesSecrets(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	admin := pgtest.NewPool(t)
	addDomainAndTransfer(t, admin)
	reader := pgtest.LoginAs(t, admin, migrations.ReaderRole)

	for _, query := range []string{
		`SELECT count(*) FROM regsync.domains`,
		`SELECT count(*) FROM regsync.status_sync_outcomes`,
		`SELECT count(*) FROM regsync.transfer_attempts`,
		`SELECT count(*) FROM regsync.river_job`,
		`SELECT id, state, auth_info_key_id, auth_info_unsent, deadline FROM regsync.transfers`,
		`SELECT id, name, scopes, revoked_at, last_used_at FROM regsync.api_keys`,
	} {
		_, err := reader.Exec(ctx, query)
		require.NoError(t, err, query)
	}
	for _, statement := range []string{
		`SELECT auth_info_ciphertext FROM regsync.transfers`,
		`SELECT previous_auth_info_ciphertext FROM regsync.transfers`,
		`SELECT * FROM regsync.transfers`,
		`SELECT t::text FROM regsync.transfers t`,
		`SELECT token_hash FROM regsync.api_keys`,
		`SELECT * FROM regsync.api_keys`,
		`UPDATE regsync.domains SET status = 'fraud'`,
		`INSERT INTO regsync.river_job (args, kind) VALUES ('{}', 'status_sync')`,
		`SELECT regsync.enqueue_status_sync('dom_a')`,
	} {
		_, err := reader.Exec(ctx, statement)
		requireDenied(t, err, statement)
	}

	// No column that holds a secret is readable, in any table, also one a
	// later migration adds.
	rows, err := admin.Query(ctx, `
		SELECT table_name || '.' || column_name FROM information_schema.columns
		WHERE table_schema = 'regsync' AND (column_name LIKE '%ciphertext%' OR column_name LIKE '%hash%')
			AND has_column_privilege('regsync_reader', format('regsync.%I', table_name), column_name, 'SELECT')`)
	require.NoError(t, err)
	readable, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	require.Empty(t, readable)
}

// TestSearchPathHijackDoesNotRun puts functions and an operator named like
// those the enqueue functions use in a schema ahead of pg_catalog on the
// caller's search_path. They are armed, the caller's own queries run them,
// and the enqueue functions, which run with their owner's rights, do not.
func TestSearchPathHijackDoesNotRun(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	admin := pgtest.NewPool(t)
	addDomainAndTransfer(t, admin)
	_, err := admin.Exec(ctx, `
		CREATE SCHEMA hijack;
		GRANT USAGE ON SCHEMA hijack TO PUBLIC;
		CREATE FUNCTION hijack.trap_match(text, text) RETURNS boolean LANGUAGE plpgsql AS
			$$ BEGIN RAISE EXCEPTION 'hijacked: !~ run as %', current_user; END $$;
		CREATE OPERATOR hijack.!~ (LEFTARG = text, RIGHTARG = text, FUNCTION = hijack.trap_match);
		CREATE FUNCTION hijack.sha256(bytea) RETURNS bytea LANGUAGE plpgsql AS
			$$ BEGIN RAISE EXCEPTION 'hijacked: sha256 run as %', current_user; END $$;
		CREATE FUNCTION hijack.pg_notify(text, text) RETURNS void LANGUAGE plpgsql AS
			$$ BEGIN RAISE EXCEPTION 'hijacked: pg_notify run as %', current_user; END $$;
		CREATE FUNCTION hijack.quote_literal(text) RETURNS text LANGUAGE plpgsql AS
			$$ BEGIN RAISE EXCEPTION 'hijacked: quote_literal run as %', current_user; END $$;`)
	require.NoError(t, err)
	enqueuer := pgtest.LoginAs(t, admin, migrations.EnqueuerRole)
	conn, err := enqueuer.Acquire(ctx)
	require.NoError(t, err)
	defer conn.Release()
	_, err = conn.Exec(ctx, "SET search_path = hijack, pg_catalog, regsync")
	require.NoError(t, err)

	for _, armed := range []string{
		`SELECT 'a' !~ 'b'`,
		`SELECT sha256('x'::bytea)`,
		`SELECT pg_notify('c', 'p')`,
		`SELECT quote_literal('x')`,
	} {
		_, err := conn.Exec(ctx, armed)
		require.ErrorContains(t, err, "hijacked", "the trap is armed on the caller's path: %s", armed)
	}

	var jobID *int64
	require.NoError(t, conn.QueryRow(ctx, "SELECT enqueue_status_sync('dom_a')").Scan(&jobID))
	require.NotNil(t, jobID)
	require.NoError(t, conn.QueryRow(ctx, "SELECT enqueue_transfer_retry('trf_a')").Scan(&jobID))
	require.NotNil(t, jobID)
	var err1, err2 error
	_, err1 = conn.Exec(ctx, "SELECT enqueue_status_sync('dom_missing')")
	_, err2 = conn.Exec(ctx, "SELECT enqueue_transfer_retry('bad id')")
	require.NotContains(t, err1.Error(), "hijacked")
	require.NotContains(t, err2.Error(), "hijacked")

	// The real sha256 built the unique key.
	var genuine bool
	require.NoError(t, admin.QueryRow(ctx, `
		SELECT unique_key = pg_catalog.sha256(convert_to('&kind=status_sync&args={"domain_id":"dom_a"}', 'UTF8'))
		FROM regsync.river_job WHERE kind = 'status_sync'`).Scan(&genuine))
	require.True(t, genuine)
}

// TestOnlyTheMigratorRoleReindexesJobs checks what the README tells
// operators: River's nightly reindex fails as regsync_worker and works as a
// member of regsync_migrator.
func TestOnlyTheMigratorRoleReindexesJobs(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	admin := pgtest.NewPool(t)
	const reindex = "REINDEX TABLE CONCURRENTLY regsync.river_job"
	_, err := pgtest.LoginAs(t, admin, migrations.WorkerRole).Exec(ctx, reindex)
	requireDenied(t, err, reindex)
	_, err = pgtest.LoginAs(t, admin, migrations.MigratorRole).Exec(ctx, reindex)
	require.NoError(t, err)
}

// TestWorkerChangesStateNotIdentity checks the column grants: the worker
// updates a domain's and a transfer's state, not what they are, and adds
// or deletes neither.
func TestWorkerChangesStateNotIdentity(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	admin := pgtest.NewPool(t)
	addDomainAndTransfer(t, admin)
	worker := pgtest.LoginAs(t, admin, migrations.WorkerRole)
	for _, allowed := range []string{
		`UPDATE regsync.domains SET status = 'suspended', next_sync_at = now() WHERE id = 'dom_a'`,
		`UPDATE regsync.transfers SET state = 'in_progress', version = version + 1 WHERE id = 'trf_a'`,
		`SELECT id FROM regsync.domains WHERE id = 'dom_a' FOR UPDATE`,
	} {
		_, err := worker.Exec(ctx, allowed)
		require.NoError(t, err, allowed)
	}
	for _, statement := range []string{
		`UPDATE regsync.domains SET registrar = 'other' WHERE id = 'dom_a'`,
		`UPDATE regsync.domains SET name = 'b.example' WHERE id = 'dom_a'`,
		`UPDATE regsync.transfers SET account_number = 'acct2' WHERE id = 'trf_a'`,
		`UPDATE regsync.transfers SET deadline = 'infinity' WHERE id = 'trf_a'`,
		`INSERT INTO regsync.domains (id, name, registrar) VALUES ('dom_b', 'b.example', 'sim')`,
		`DELETE FROM regsync.transfers`,
		`UPDATE regsync.api_keys SET revoked_at = NULL`,
		`DELETE FROM regsync.status_sync_outcomes`,
	} {
		_, err := worker.Exec(ctx, statement)
		requireDenied(t, err, statement)
	}
}

// TestTheWorkerKeepsHistoryOnlyThroughTheUpkeepFunctions checks that the
// worker, as the leader runs, makes and drops history partitions through
// the two upkeep functions, which run as the tables' owner, but cannot
// create or drop a partition, or any table, itself; and that the reader
// reads the partitioned history.
func TestTheWorkerKeepsHistoryOnlyThroughTheUpkeepFunctions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	admin := pgtest.NewPool(t)
	worker := pgtest.LoginAs(t, admin, migrations.WorkerRole)

	var created int
	require.NoError(t, worker.QueryRow(ctx, `SELECT regsync.ensure_history_partitions(6)`).Scan(&created))
	require.Equal(t, 6, created, "three more months for each table")
	var dropped int
	require.NoError(t, worker.QueryRow(ctx, `SELECT count(*) FROM regsync.drop_history_partitions(now())`).Scan(&dropped))
	require.Zero(t, dropped, "the first partition still holds this month")

	_, err := worker.Exec(ctx, `CREATE TABLE regsync.status_sync_outcomes_2099_01 PARTITION OF regsync.status_sync_outcomes
		FOR VALUES FROM ('2099-01-01') TO ('2099-02-01')`)
	requireDenied(t, err, "create a partition")
	var first string
	require.NoError(t, admin.QueryRow(ctx, `SELECT partition FROM regsync.history_partitions ORDER BY range_end LIMIT 1`).Scan(&first))
	_, err = worker.Exec(ctx, `DROP TABLE regsync.`+pgx.Identifier{first}.Sanitize())
	require.Error(t, err, "drop a partition")

	reader := pgtest.LoginAs(t, admin, migrations.ReaderRole)
	var partitions int
	require.NoError(t, reader.QueryRow(ctx, `SELECT count(*) FROM regsync.history_partitions`).Scan(&partitions))
	require.Equal(t, 14, partitions)
	_, err = reader.Exec(ctx, `SELECT count(*) FROM regsync.status_sync_outcomes`)
	require.NoError(t, err)
	_, err = reader.Exec(ctx, `SELECT regsync.ensure_history_partitions(12)`)
	requireDenied(t, err, "the reader keeps no history")
}

// TestWebhookPrivileges checks who may do what with webhooks: the
// migrator adds and removes subscriptions; the worker publishes changes
// (the deliveries and their jobs), reads the sealed secrets, logs attempts
// and disables a subscription, and may not add, remove or re-point one, nor
// change the log; the reader sees subscriptions without their secret and
// the log; the enqueuer sees nothing of it.
func TestWebhookPrivileges(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	admin := pgtest.NewPool(t)
	addDomainAndTransfer(t, admin)
	migrator := pgtest.LoginAs(t, admin, migrations.MigratorRole)
	_, err := migrator.Exec(ctx, `
		INSERT INTO regsync.webhook_subscriptions (id, url, events, secret_key_id, secret_ciphertext)
		VALUES ('whk_aaaaaaaaaaaaaaaaaaaaaaaaaa', 'https://billing.example/hook', ARRAY['changed'], 'k1', '\x0102'),
			('whk_bbbbbbbbbbbbbbbbbbbbbbbbbb', 'https://other.example/hook', ARRAY['changed'], 'k1', '\x0304');
		DELETE FROM regsync.webhook_subscriptions WHERE id = 'whk_bbbbbbbbbbbbbbbbbbbbbbbbbb'`)
	require.NoError(t, err)

	worker := pgtest.LoginAs(t, admin, migrations.WorkerRole)
	for _, allowed := range []string{
		`SELECT regsync.publish_status_changes(ARRAY[('changed', 'dom_a', 'pending', 'active', 7)::regsync.status_change])`,
		`SELECT url, secret_key_id, secret_ciphertext FROM regsync.webhook_subscriptions`,
		`SELECT * FROM regsync.webhook_deliveries`,
		`INSERT INTO regsync.webhook_delivery_attempts (delivery_id, subscription_id, job_id, attempt, attempted_at, duration, result, status_code)
			SELECT id, subscription_id, 1, 1, now(), '1 second', 'gone', 410 FROM regsync.webhook_deliveries`,
		`UPDATE regsync.webhook_subscriptions SET disabled_at = now(), disabled_reason = 'gone'`,
	} {
		_, err := worker.Exec(ctx, allowed)
		require.NoError(t, err, allowed)
	}
	var deliveries, jobs int
	require.NoError(t, admin.QueryRow(ctx, `SELECT (SELECT count(*) FROM regsync.webhook_deliveries),
		(SELECT count(*) FROM regsync.river_job WHERE kind = 'webhook_delivery')`).Scan(&deliveries, &jobs))
	require.Equal(t, []int{1, 1}, []int{deliveries, jobs}, "the worker's publish enqueued the delivery")
	var definer bool
	require.NoError(t, admin.QueryRow(ctx, `SELECT prosecdef FROM pg_proc WHERE oid = 'regsync.publish_status_changes'::regproc`).Scan(&definer))
	require.False(t, definer, "it runs as its caller, which needs no more rights for it")

	for _, statement := range []string{
		`INSERT INTO regsync.webhook_subscriptions (id, url, events, secret_key_id, secret_ciphertext)
			VALUES ('whk_cccccccccccccccccccccccccc', 'https://evil.example/', ARRAY['changed'], 'k1', '\x01')`,
		`UPDATE regsync.webhook_subscriptions SET url = 'https://evil.example/'`,
		`UPDATE regsync.webhook_subscriptions SET events = ARRAY['reverted']`,
		`UPDATE regsync.webhook_subscriptions SET secret_ciphertext = '\x00'`,
		`DELETE FROM regsync.webhook_subscriptions`,
		`UPDATE regsync.webhook_delivery_attempts SET result = 'delivered'`,
		`DELETE FROM regsync.webhook_delivery_attempts`,
		`DELETE FROM regsync.webhook_deliveries`,
	} {
		_, err := worker.Exec(ctx, statement)
		requireDenied(t, err, statement)
	}

	reader := pgtest.LoginAs(t, admin, migrations.ReaderRole)
	for _, query := range []string{
		`SELECT id, url, events, created_at, disabled_at, disabled_reason FROM regsync.webhook_subscriptions`,
		`SELECT * FROM regsync.webhook_deliveries`,
		`SELECT * FROM regsync.webhook_delivery_attempts`,
	} {
		_, err := reader.Exec(ctx, query)
		require.NoError(t, err, query)
	}
	enqueuer := pgtest.LoginAs(t, admin, migrations.EnqueuerRole)
	for _, denied := range []struct {
		role      *pgxpool.Pool
		statement string
	}{
		{reader, `SELECT secret_ciphertext FROM regsync.webhook_subscriptions`},
		{reader, `SELECT * FROM regsync.webhook_subscriptions`},
		{reader, `UPDATE regsync.webhook_subscriptions SET disabled_at = now()`},
		{reader, `SELECT regsync.publish_status_changes(ARRAY[('changed', 'dom_a', 'pending', 'active', 7)::regsync.status_change])`},
		{enqueuer, `SELECT regsync.publish_status_changes(ARRAY[('changed', 'dom_a', 'pending', 'active', 7)::regsync.status_change])`},
		{enqueuer, `SELECT url FROM regsync.webhook_subscriptions`},
		{enqueuer, `SELECT count(*) FROM regsync.webhook_delivery_attempts`},
	} {
		_, err := denied.role.Exec(ctx, denied.statement)
		requireDenied(t, err, denied.statement)
	}
}
