-- Least privilege. No login user owns anything, and three NOLOGIN group
-- roles get exactly what their users need; login users are made members
-- of them (see the README's "Database roles"):
--
--   regsync_migrator  owns the schema and all in it, River's tables
--                     included; migrations act as it from now on, so that
--                     what they create belongs to it too;
--   regsync_worker    what regsync serve needs, and nothing more;
--   regsync_enqueuer  EXECUTE on the two enqueue functions, nothing else;
--   regsync_reader    reads for reporting: domains, outcomes, transfers and
--                     jobs, never an authInfo value or an API key hash.
--
-- Grants are per database; the roles belong to the cluster, and Up creates
-- them before this runs.

-- A database that earlier releases migrated holds objects owned by whoever
-- ran those migrations: hand them to regsync_migrator. This part runs as
-- that user, which must own them (or be a superuser) and be a member of
-- regsync_migrator; a new database already has nothing to hand over.
DO $$
DECLARE
    obj record;
BEGIN
    -- The schema first: a new owner of a table needs CREATE on its schema.
    IF (SELECT nspowner FROM pg_catalog.pg_namespace WHERE nspname = 'regsync') <> 'regsync_migrator'::regrole THEN
        ALTER SCHEMA regsync OWNER TO regsync_migrator;
    END IF;

    -- Tables take their indexes, triggers, row types and the sequences of
    -- their serial and identity columns with them.
    FOR obj IN
        SELECT c.oid::regclass AS name FROM pg_catalog.pg_class c
        WHERE c.relnamespace = 'regsync'::regnamespace AND c.relkind IN ('r', 'p')
          AND c.relowner <> 'regsync_migrator'::regrole
    LOOP
        EXECUTE format('ALTER TABLE %s OWNER TO regsync_migrator', obj.name);
    END LOOP;

    FOR obj IN
        SELECT c.oid::regclass AS name FROM pg_catalog.pg_class c
        WHERE c.relnamespace = 'regsync'::regnamespace AND c.relkind = 'S'
          AND c.relowner <> 'regsync_migrator'::regrole
    LOOP
        EXECUTE format('ALTER SEQUENCE %s OWNER TO regsync_migrator', obj.name);
    END LOOP;

    FOR obj IN
        SELECT p.oid::regprocedure AS name FROM pg_catalog.pg_proc p
        WHERE p.pronamespace = 'regsync'::regnamespace
          AND p.proowner <> 'regsync_migrator'::regrole
    LOOP
        EXECUTE format('ALTER ROUTINE %s OWNER TO regsync_migrator', obj.name);
    END LOOP;

    -- Stand-alone types (River's river_job_state); array types follow
    -- their element type, row types their table.
    FOR obj IN
        SELECT t.oid::regtype AS name FROM pg_catalog.pg_type t
        WHERE t.typnamespace = 'regsync'::regnamespace AND t.typrelid = 0 AND t.typcategory <> 'A'
          AND t.typowner <> 'regsync_migrator'::regrole
    LOOP
        EXECUTE format('ALTER TYPE %s OWNER TO regsync_migrator', obj.name);
    END LOOP;
END
$$;

-- The rest runs as the owner, whatever the user migrating inherits from
-- its membership: the grants are the owner's, and so are the default
-- privileges set below.
SET LOCAL ROLE regsync_migrator;

-- The enqueue functions run as their owner (SECURITY DEFINER), so that a
-- caller needs no right on River's tables: it may enqueue a sync or a
-- retry of an id that exists, and nothing else. A definer function must
-- not resolve any name through the caller's search_path, or a caller
-- could put its own function or operator of the same name earlier on its
-- path and have it run with the owner's rights: the search_path is fixed
-- to the system catalog (pg_temp last, so no temporary object can shadow
-- a name) and every regsync object is named with its schema. The fixed
-- search_path also holds in the functions they call.
CREATE OR REPLACE FUNCTION regsync.enqueue_status_sync(domain_id text) RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    domain_registrar text;
BEGIN
    IF domain_id IS NULL OR domain_id !~ '^dom_[0-9a-z]{1,60}$' THEN
        RAISE EXCEPTION 'regsync: invalid domain id %', coalesce(quote_literal(domain_id), 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT d.registrar INTO domain_registrar FROM regsync.domains d WHERE d.id = enqueue_status_sync.domain_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'regsync: unknown domain id %', quote_literal(domain_id)
            USING ERRCODE = 'no_data_found';
    END IF;
    RETURN regsync.enqueue_unique_job('status_sync', 'domain_id', domain_id, regsync.status_sync_queue(domain_registrar));
END
$$;

CREATE OR REPLACE FUNCTION regsync.enqueue_transfer_retry(transfer_id text) RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF transfer_id IS NULL OR transfer_id !~ '^trf_[0-9a-z]{1,60}$' THEN
        RAISE EXCEPTION 'regsync: invalid transfer id %', coalesce(quote_literal(transfer_id), 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM regsync.transfers t WHERE t.id = enqueue_transfer_retry.transfer_id) THEN
        RAISE EXCEPTION 'regsync: unknown transfer id %', quote_literal(transfer_id)
            USING ERRCODE = 'no_data_found';
    END IF;
    RETURN regsync.enqueue_unique_job('transfer_retry', 'transfer_id', transfer_id, 'transfer_retry');
END
$$;

-- PostgreSQL lets PUBLIC execute every new function. None of regsync's or
-- River's is for everyone: the internal ones (insert_unique_jobs,
-- enqueue_unique_job, unique_job_key, ...) would let a caller build any
-- job, so only their owner, and the worker where it needs them, may call
-- them. Functions later migrations create start closed too.
REVOKE ALL ON SCHEMA regsync FROM PUBLIC;
REVOKE EXECUTE ON ALL ROUTINES IN SCHEMA regsync FROM PUBLIC;
ALTER DEFAULT PRIVILEGES FOR ROLE regsync_migrator REVOKE EXECUTE ON ROUTINES FROM PUBLIC;

GRANT USAGE ON SCHEMA regsync TO regsync_worker, regsync_enqueuer, regsync_reader;

GRANT EXECUTE ON FUNCTION regsync.enqueue_status_sync(text), regsync.enqueue_transfer_retry(text) TO regsync_enqueuer;

-- The worker. River's client works its job table, elects its leader and
-- keeps its queues (river_migration is the migrator's alone); inserting a
-- job checks EXECUTE on the function in river_job's unique index.
GRANT SELECT, INSERT, UPDATE, DELETE ON regsync.river_job, regsync.river_leader, regsync.river_queue TO regsync_worker;
GRANT USAGE ON SEQUENCE regsync.river_job_id_seq TO regsync_worker;
GRANT EXECUTE ON FUNCTION regsync.river_job_state_in_bitmask(bit, regsync.river_job_state) TO regsync_worker;
-- Syncs and retries read domains and transfers and update their state,
-- never what they are (id, name, registrar, account, deadline, interval),
-- and append outcomes and attempts; they never add or delete a domain or a
-- transfer. The sweep's FOR UPDATE needs an UPDATE grant, which these are.
-- The HTTP API reads keys and stamps when one was last used, and cannot
-- create, revoke or widen a key. Rate limits are set by serve on start and
-- reserved by every request; the leader writes the gauges.
GRANT SELECT, UPDATE (status, version, unconfirmed_from_status, unconfirmed_raw_status, unconfirmed_at,
    confirm_failures, last_synced_at, next_sync_at, queued_at, expires_at, transferred_away_at)
    ON regsync.domains TO regsync_worker;
GRANT SELECT, UPDATE (state, attempts, conflicts, next_retry_at, last_result, last_attempt_at,
    auth_info_key_id, auth_info_ciphertext, previous_auth_info_key_id, previous_auth_info_ciphertext,
    auth_info_unsent, auth_info_version, version)
    ON regsync.transfers TO regsync_worker;
GRANT SELECT, INSERT ON regsync.status_sync_outcomes, regsync.transfer_attempts TO regsync_worker;
GRANT SELECT, UPDATE (last_used_at) ON regsync.api_keys TO regsync_worker;
GRANT SELECT, INSERT, UPDATE ON regsync.registrar_rate_limits, regsync.gauges TO regsync_worker;
GRANT SELECT, INSERT, DELETE ON regsync.registrar_slot_reservations TO regsync_worker;
GRANT EXECUTE ON FUNCTION
    regsync.enqueue_status_sync(text),
    regsync.enqueue_transfer_retry(text),
    regsync.insert_unique_jobs(text, text, text[], text[], smallint),
    regsync.unique_job_key(text, text, text),
    regsync.status_sync_queue(text),
    regsync.reserve_registrar_slot(text, bigint, interval)
    TO regsync_worker;

-- The reader: reporting and dashboards. A job's recorded output is a
-- sync's outcome or a retry's attempt, so it may read River's job rows
-- too. Transfers and API keys only by column: never the sealed authInfo
-- values nor the key hashes.
GRANT SELECT ON regsync.domains, regsync.status_sync_outcomes, regsync.transfer_attempts,
    regsync.duplicate_status_sync_outcomes, regsync.duplicate_transfer_attempts,
    regsync.gauges, regsync.river_job
    TO regsync_reader;
GRANT SELECT (id, account_number, domain_name, registrar, state, block_reason, registrar_reason,
    blocked_since, registered_at, deadline, attempts, conflicts, next_retry_at, last_result,
    last_attempt_at, auth_info_key_id, previous_auth_info_key_id, auth_info_unsent,
    auth_info_version, version, created_at)
    ON regsync.transfers TO regsync_reader;
GRANT SELECT (id, name, scopes, created_at, revoked_at, last_used_at) ON regsync.api_keys TO regsync_reader;
