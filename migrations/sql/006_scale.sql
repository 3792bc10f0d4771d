-- A million domains and every registrar at its exact limit: a sweep that
-- never claims a queued domain twice, enqueued set-based; syncs asked for
-- on demand go before routine ones; rate limits that give each request
-- its own slot; scrape-time gauges computed once, by the leader.

-- unique_job_key is River's unique key for a job of job_kind with args
-- {"<arg_key>": "<arg_id>"} and UniqueOpts{ByArgs: true}: sha256 of
-- "&kind=<kind>&args=<compact args JSON, keys sorted>". Callers validate
-- arg_id against a safe character set first: it is spliced in unescaped.
CREATE FUNCTION regsync.unique_job_key(job_kind text, arg_key text, arg_id text) RETURNS bytea
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT sha256(convert_to('&kind=' || job_kind || '&args={"' || arg_key || '":"' || arg_id || '"}', 'UTF8'))
$$;

-- status_sync_queue is the River queue of a domain's status syncs: one
-- queue per registrar, so that a registrar's backlog, or its jobs waiting
-- for its rate limit, never hold up another registrar's syncs.
CREATE FUNCTION regsync.status_sync_queue(registrar text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT 'status_sync_' || registrar
$$;

-- insert_unique_jobs inserts, in one statement, a job of job_kind for each
-- of arg_ids, in the queue at the same place of queues, exactly as
-- regsync's Go client does for args {"<arg_key>": "<id>"} with
-- UniqueOpts{ByArgs: true} and the pending unique states, at job_priority;
-- an id whose job is already available, scheduled, running or waiting to
-- retry gets none. It returns the new jobs' ids and wakes the workers of
-- each queue, once, when the calling transaction commits.
CREATE FUNCTION regsync.insert_unique_jobs(job_kind text, arg_key text, arg_ids text[], queues text[], job_priority smallint)
RETURNS SETOF bigint
LANGUAGE plpgsql AS $$
DECLARE
    new_ids bigint[];
    woken text[];
BEGIN
    WITH inserted AS (
        INSERT INTO regsync.river_job (args, kind, max_attempts, priority, queue, state, unique_key, unique_states)
        SELECT jsonb_build_object(arg_key, i.id), job_kind, 10, job_priority, i.queue, 'available',
            regsync.unique_job_key(job_kind, arg_key, i.id),
            -- available, pending, retryable, running, scheduled (not
            -- completed, so a finished job does not block the next one).
            B'11110001'
        FROM unnest(arg_ids, queues) AS i(id, queue)
        ON CONFLICT (unique_key)
            WHERE unique_key IS NOT NULL
              AND unique_states IS NOT NULL
              AND regsync.river_job_state_in_bitmask(unique_states, state)
            DO NOTHING
        RETURNING river_job.id, river_job.queue
    )
    SELECT array_agg(inserted.id), array_agg(DISTINCT inserted.queue) INTO new_ids, woken FROM inserted;
    PERFORM pg_notify('regsync.river_insert', json_build_object('queue', q)::text) FROM unnest(woken) AS q;
    RETURN QUERY SELECT unnest(new_ids);
END
$$;

-- enqueue_unique_job inserts one job as insert_unique_jobs does, on
-- demand: when a job of that id is already pending and waits in the
-- queue, it is moved to the front instead (priority 1, due now), so that
-- a sync someone asked for does not wait behind a backlog of routine ones.
-- It returns the new job's id, or NULL when one was pending.
CREATE FUNCTION regsync.enqueue_unique_job(job_kind text, arg_key text, arg_id text, job_queue text) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    new_job_id bigint;
    promoted_queue text;
BEGIN
    SELECT j INTO new_job_id FROM regsync.insert_unique_jobs(job_kind, arg_key, ARRAY[arg_id], ARRAY[job_queue], 1::smallint) AS j;
    IF new_job_id IS NULL THEN
        UPDATE regsync.river_job SET
            priority = 1,
            scheduled_at = least(scheduled_at, now()),
            state = 'available'
        WHERE unique_key = regsync.unique_job_key(job_kind, arg_key, arg_id)
          AND unique_states IS NOT NULL
          AND regsync.river_job_state_in_bitmask(unique_states, state)
          AND state IN ('available', 'scheduled', 'retryable')
          AND (priority > 1 OR scheduled_at > now() OR state <> 'available')
        RETURNING queue INTO promoted_queue;
        IF promoted_queue IS NOT NULL THEN
            PERFORM pg_notify('regsync.river_insert', json_build_object('queue', promoted_queue)::text);
        END IF;
    END IF;
    RETURN new_job_id;
END
$$;

CREATE OR REPLACE FUNCTION regsync.enqueue_status_sync(domain_id text) RETURNS bigint
LANGUAGE plpgsql AS $$
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
LANGUAGE plpgsql AS $$
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

DROP FUNCTION regsync.insert_unique_job(text, text, text);

-- PostgreSQL evaluates a table's CHECK constraints on every update of a
-- row, whatever columns changed, and the regular expressions on id, name
-- and registrar were half the cost of the sweep's claim and of a sync's
-- last write. A trigger checks them when a row is inserted or they
-- change, with the same constraint names and error code.
ALTER TABLE regsync.domains
    DROP CONSTRAINT domains_id_check,
    DROP CONSTRAINT domains_name_check,
    DROP CONSTRAINT domains_registrar_check;

CREATE FUNCTION regsync.domains_check_identity() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    failed text;
BEGIN
    -- The safe character set of id lets SQL build River's unique keys
    -- without escaping; name is IDNA-normalized (A-labels, lower case, no
    -- trailing dot).
    IF NEW.id !~ '^dom_[0-9a-z]{1,60}$' THEN
        failed := 'domains_id_check';
    ELSIF length(NEW.name) > 253
        OR NEW.name !~ '^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$' THEN
        failed := 'domains_name_check';
    ELSIF NEW.registrar !~ '^[a-z][a-z0-9_]{0,31}$' THEN
        failed := 'domains_registrar_check';
    END IF;
    IF failed IS NOT NULL THEN
        RAISE EXCEPTION 'new row for relation "domains" violates check constraint "%"', failed
            USING ERRCODE = 'check_violation', SCHEMA = 'regsync', TABLE = 'domains', CONSTRAINT = failed;
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER domains_check_identity
    BEFORE INSERT OR UPDATE OF id, name, registrar ON regsync.domains
    FOR EACH ROW EXECUTE FUNCTION regsync.domains_check_identity();

-- Set while the sweep's job for the domain waits or runs; the sync's last
-- write clears it. The sweep claims only domains without it, so a backlog
-- of any length never gets a domain claimed twice.
ALTER TABLE regsync.domains ADD COLUMN queued_at timestamptz;
DROP INDEX regsync.domains_next_sync_at_idx;
CREATE INDEX domains_due_idx ON regsync.domains (next_sync_at) WHERE queued_at IS NULL;
CREATE INDEX domains_queued_at_idx ON regsync.domains (queued_at) WHERE queued_at IS NOT NULL;

-- Registrar rate limits as GCRA (the generic cell rate algorithm): each
-- request gets its own slot, spaced 1/requests_per_second apart with up
-- to burst at once, in the order asked, so no two waiters wake together.
-- tat is the theoretical arrival time of the next request.
ALTER TABLE regsync.registrar_rate_limits
    DROP COLUMN tokens,
    DROP COLUMN updated_at,
    ADD COLUMN tat timestamptz NOT NULL DEFAULT '-infinity';
DROP FUNCTION regsync.take_registrar_token(text);

-- A job whose slot is too far away to wait for keeps it here and gives
-- its worker back until shortly before it.
CREATE TABLE regsync.registrar_slot_reservations (
    job_id bigint PRIMARY KEY,
    registrar text NOT NULL,
    slot_at timestamptz NOT NULL
);

-- reserve_registrar_slot gives the registrar's next request slot to job
-- (NULL for a request outside the job queue). It returns NULLs when the
-- registrar has no limit. Otherwise slot is when the request may go, wait
-- how long until then, and
-- taken whether the caller is to wait for it now: a slot further away than
-- max_wait is kept for the job, which comes back for it, unless the job is
-- NULL. A kept slot that the job comes back too late for (past a grace of
-- one request interval, at most 100 ms) is given up for a new one, so that
-- late requests never bunch up above the limit.
CREATE FUNCTION regsync.reserve_registrar_slot(registrar_name text, job bigint, max_wait interval,
    OUT slot timestamptz, OUT wait interval, OUT taken boolean)
LANGUAGE plpgsql AS $$
DECLARE
    bucket regsync.registrar_rate_limits;
    t timestamptz := clock_timestamp();
    emission interval;
    reserved timestamptz;
BEGIN
    SELECT * INTO bucket FROM regsync.registrar_rate_limits WHERE registrar = registrar_name FOR UPDATE;
    IF NOT FOUND THEN
        RETURN; -- no limit: NULL, NULL
    END IF;
    -- Slots are spaced for 98 % of the limit: the headroom absorbs the
    -- scheduling delay between a slot and its request, so that the
    -- registrar never counts more than the limit plus the burst in a second.
    emission := make_interval(secs => 1 / (0.98 * bucket.requests_per_second));
    IF job IS NOT NULL THEN
        DELETE FROM regsync.registrar_slot_reservations r WHERE r.job_id = job RETURNING r.slot_at INTO reserved;
        IF reserved IS NOT NULL AND reserved - t > max_wait THEN
            INSERT INTO regsync.registrar_slot_reservations VALUES (job, registrar_name, reserved);
            slot := reserved;
            wait := reserved - t;
            taken := false;
            RETURN;
        END IF;
        IF reserved IS NOT NULL AND t - reserved <= least(emission, interval '100 ms') THEN
            slot := reserved;
            wait := greatest(reserved - t, interval '0');
            taken := true;
            RETURN;
        END IF;
    END IF;
    slot := greatest(t, greatest(bucket.tat, t) - emission * (bucket.burst - 1));
    UPDATE regsync.registrar_rate_limits SET tat = greatest(bucket.tat, t) + emission WHERE registrar = registrar_name;
    wait := slot - t;
    taken := wait <= max_wait OR job IS NULL;
    IF NOT taken THEN
        INSERT INTO regsync.registrar_slot_reservations VALUES (job, registrar_name, slot);
    END IF;
END
$$;

-- The scrape-time gauges, computed by the leader's periodic job, so that
-- a scrape reads one row instead of counting every domain and job, on
-- every replica.
CREATE TABLE regsync.gauges (
    id boolean PRIMARY KEY DEFAULT true CHECK (id),
    computed_at timestamptz NOT NULL,
    body jsonb NOT NULL
);
