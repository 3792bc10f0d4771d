-- Domains whose status regsync keeps true to their registrar, and the
-- append-only record of every status sync.

CREATE TABLE regsync.domains (
    -- Public domain id, for example dom_01hxa3b4c5d6e7f8g9h0j1k2m3. The safe
    -- character set lets SQL build River's unique keys without escaping.
    id text PRIMARY KEY CHECK (id ~ '^dom_[0-9a-z]{1,60}$'),
    -- IDNA-normalized name: A-labels, lower case, no trailing dot.
    name text NOT NULL CHECK (
        length(name) <= 253
        AND name ~ '^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$'
    ),
    -- Registrar adapter name, for example hostup or sim.
    registrar text NOT NULL CHECK (registrar ~ '^[a-z][a-z0-9_]{0,31}$'),
    status text NOT NULL DEFAULT 'unknown' CHECK (
        status IN ('pending', 'active', 'suspended', 'terminated', 'cancelled', 'expired', 'fraud', 'unknown')
    ),
    -- Bumped on every status change, for compare-and-set updates. A writer
    -- that changes status without bumping it gets it bumped by a trigger.
    version bigint NOT NULL DEFAULT 1,
    -- Set while a guarded status change waits for its confirming double
    -- sync: the status it replaced, to revert to if the registrar
    -- contradicts it. A sync that finds it set resumes at the double sync.
    unconfirmed_from_status text CHECK (
        unconfirmed_from_status IN ('pending', 'active', 'suspended', 'terminated', 'cancelled', 'expired', 'fraud', 'unknown')
    ),
    -- How often the sweep syncs this domain; NULL means the configured default.
    sync_interval interval CHECK (sync_interval > interval '0'),
    next_sync_at timestamptz NOT NULL DEFAULT now(),
    last_synced_at timestamptz,
    status_changed_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE UNIQUE INDEX domains_name_idx ON regsync.domains (name);
CREATE INDEX domains_next_sync_at_idx ON regsync.domains (next_sync_at);

CREATE FUNCTION regsync.domains_track_status_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.status_changed_at := now();
    -- A writer that did not bump the version is someone other than the
    -- sync: bump it so in-flight compare-and-sets lose, and drop any
    -- unconfirmed marker, since the new status is that writer's decision.
    IF NEW.version = OLD.version THEN
        NEW.version := OLD.version + 1;
        NEW.unconfirmed_from_status := NULL;
    END IF;
    RETURN NEW;
END
$$;

-- Only status changes fire it: a sync that finds the status unchanged
-- pays nothing for it.
CREATE TRIGGER domains_track_status_change
    BEFORE UPDATE OF status ON regsync.domains
    FOR EACH ROW WHEN (NEW.status IS DISTINCT FROM OLD.status)
    EXECUTE FUNCTION regsync.domains_track_status_change();

CREATE TABLE regsync.status_sync_outcomes (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    domain_id text NOT NULL,
    domain_name text NOT NULL,
    registrar text NOT NULL,
    previous_status text NOT NULL,
    new_status text NOT NULL,
    status_changed boolean NOT NULL,
    status_changed_to_active boolean NOT NULL,
    sync_success boolean NOT NULL,
    info text,
    error text,
    revert_attempted boolean NOT NULL,
    revert_succeeded boolean NOT NULL,
    revert_error text,
    double_sync_attempted boolean NOT NULL,
    double_sync_succeeded boolean NOT NULL,
    double_sync_error text,
    -- What the registrar reported, verbatim, on the first and the
    -- confirming read (NULL when that read did not happen or failed).
    raw_status_first text,
    raw_status_second text,
    registrar_request_id text,
    -- The River job that ran the sync; NULL for a sync run from the CLI.
    job_id bigint,
    attempt integer NOT NULL,
    -- When River started the job run: with job_id it names the run, since
    -- a snoozed run gives its attempt number back.
    job_attempted_at timestamptz,
    started_at timestamptz NOT NULL,
    finished_at timestamptz NOT NULL,
    duration interval GENERATED ALWAYS AS (finished_at - started_at) STORED
);

CREATE INDEX status_sync_outcomes_domain_id_idx ON regsync.status_sync_outcomes (domain_id, id);
CREATE INDEX status_sync_outcomes_job_id_idx ON regsync.status_sync_outcomes (job_id) WHERE job_id IS NOT NULL;

CREATE FUNCTION regsync.reject_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TRIGGER status_sync_outcomes_append_only
    BEFORE UPDATE OR DELETE ON regsync.status_sync_outcomes
    FOR EACH ROW EXECUTE FUNCTION regsync.reject_change();

-- insert_unique_job inserts a job exactly as regsync's Go client does for
-- args {"<id_key>": "<id>"} with UniqueOpts{ByArgs: true} and the pending
-- unique states, in the queue named like the kind, and wakes the workers
-- when the calling transaction commits. It returns the new job's id, or
-- NULL when an equivalent job is already available, scheduled, running or
-- waiting to retry. Callers validate id against a safe character set
-- first: it is spliced into the unique key's JSON unescaped.
CREATE FUNCTION regsync.insert_unique_job(kind text, id_key text, id text) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    new_job_id bigint;
BEGIN
    INSERT INTO regsync.river_job (args, kind, max_attempts, priority, queue, state, unique_key, unique_states)
    VALUES (
        jsonb_build_object(id_key, id),
        kind,
        10,
        1,
        kind,
        'available',
        -- River's key for UniqueOpts{ByArgs: true}: sha256 of
        -- "&kind=<kind>&args=<compact args JSON, keys sorted>".
        sha256(convert_to('&kind=' || kind || '&args={"' || id_key || '":"' || id || '"}', 'UTF8')),
        -- available, pending, retryable, running, scheduled (not completed,
        -- so a finished job does not block the next one).
        B'11110001'
    )
    ON CONFLICT (unique_key)
        WHERE unique_key IS NOT NULL
          AND unique_states IS NOT NULL
          AND regsync.river_job_state_in_bitmask(unique_states, state)
        DO NOTHING
    RETURNING river_job.id INTO new_job_id;

    IF new_job_id IS NOT NULL THEN
        PERFORM pg_notify('regsync.river_insert', json_build_object('queue', kind)::text);
    END IF;
    RETURN new_job_id;
END
$$;

-- enqueue_status_sync inserts a status_sync job for the domain exactly as
-- regsync's Go client does (same kind, queue, args, unique key and unique
-- states), so the two deduplicate against each other, and wakes the workers
-- when the calling transaction commits. It returns the new job's id, or
-- NULL when a sync of that domain is already available, scheduled, running
-- or waiting to retry. An unknown or malformed id is an error.
CREATE FUNCTION regsync.enqueue_status_sync(domain_id text) RETURNS bigint
LANGUAGE plpgsql AS $$
BEGIN
    IF domain_id IS NULL OR domain_id !~ '^dom_[0-9a-z]{1,60}$' THEN
        RAISE EXCEPTION 'regsync: invalid domain id %', coalesce(quote_literal(domain_id), 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM regsync.domains d WHERE d.id = enqueue_status_sync.domain_id) THEN
        RAISE EXCEPTION 'regsync: unknown domain id %', quote_literal(domain_id)
            USING ERRCODE = 'no_data_found';
    END IF;
    RETURN regsync.insert_unique_job('status_sync', 'domain_id', domain_id);
END
$$;
