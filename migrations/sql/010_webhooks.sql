-- Webhooks: billing and provisioning services subscribe to status changes
-- and regsync posts each change to them, signed. Deliveries are an outbox:
-- the statement that changes a status also inserts its deliveries and
-- their River jobs, so a committed change always gets them and a
-- rolled-back one never does.

-- A subscription: where to post, which events, and the signing secret,
-- sealed with AES-256-GCM (REGSYNC_SECRET_KEY) bound to the row and field
-- as a transfer's authInfo is. Added and removed by the migrator role;
-- the worker reads it and disables it when its endpoint answers 410 Gone.
CREATE TABLE regsync.webhook_subscriptions (
    -- Public id, for example whk_mfrggzdfmztwq2lknnwg23tpob.
    id text PRIMARY KEY CHECK (id ~ '^whk_[a-z2-7]{26}$'),
    -- Where deliveries are posted. Not a secret: it is stored and listed
    -- in plain text (logs name the subscription by id only).
    url text NOT NULL CHECK (length(url) <= 2048 AND url ~ '^https?://'),
    events text[] NOT NULL CHECK (
        cardinality(events) > 0
        AND events <@ ARRAY['changed', 'unconfirmed', 'confirmed', 'reverted']::text[]
    ),
    secret_key_id text NOT NULL,
    secret_ciphertext bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    -- Set when deliveries stopped: the endpoint answered 410 Gone. A
    -- disabled subscription gets no new deliveries, and its pending ones
    -- are cancelled when they come to run.
    disabled_at timestamptz,
    disabled_reason text CHECK (length(disabled_reason) <= 1024)
);

-- One row per change and subscription, written with the change; the body
-- of every attempt is built from it, so retries post the same event. Rows
-- are never changed; a subscription's removal leaves them, and their
-- attempts, as the record of what was sent.
CREATE TABLE regsync.webhook_deliveries (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    subscription_id text NOT NULL,
    event text NOT NULL,
    domain_id text NOT NULL,
    from_status text NOT NULL,
    to_status text NOT NULL,
    -- The outcome that made the change; NULL for a guarded change applied
    -- before its double sync (event unconfirmed).
    outcome_id bigint,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TRIGGER webhook_deliveries_append_only
    BEFORE UPDATE OR DELETE ON regsync.webhook_deliveries
    FOR EACH ROW EXECUTE FUNCTION regsync.reject_change();

-- The delivery log: one row per attempt, append-only.
CREATE TABLE regsync.webhook_delivery_attempts (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    delivery_id bigint NOT NULL REFERENCES regsync.webhook_deliveries (id),
    subscription_id text NOT NULL,
    job_id bigint NOT NULL,
    attempt integer NOT NULL,
    attempted_at timestamptz NOT NULL,
    duration interval NOT NULL,
    -- delivered: a 2xx answer. failed_retrying: a timeout, a connection
    -- error, 408, 429 or 5xx, tried again later. gave_up: such a failure
    -- on the last attempt. rejected: any other answer (3xx, 4xx), not
    -- tried again. gone: 410, which disables the subscription. cancelled:
    -- the subscription was removed or disabled before the delivery ran.
    result text NOT NULL CHECK (result IN ('delivered', 'failed_retrying', 'gave_up', 'rejected', 'gone', 'cancelled')),
    -- The endpoint's HTTP status; NULL when no answer came.
    status_code integer,
    -- What went wrong, with the start of the endpoint's answer, cleaned
    -- and bounded.
    error text CHECK (length(error) <= 2048)
);

CREATE INDEX webhook_delivery_attempts_delivery_id_idx ON regsync.webhook_delivery_attempts (delivery_id, id);
CREATE INDEX webhook_delivery_attempts_subscription_id_idx ON regsync.webhook_delivery_attempts (subscription_id, id);

CREATE TRIGGER webhook_delivery_attempts_append_only
    BEFORE UPDATE OR DELETE ON regsync.webhook_delivery_attempts
    FOR EACH ROW EXECUTE FUNCTION regsync.reject_change();

-- One status change, as a sync's last write publishes it.
CREATE TYPE regsync.status_change AS (
    event text,
    domain_id text,
    from_status text,
    to_status text,
    outcome_id bigint
);

-- publish_status_changes publishes changes when the calling transaction
-- commits: each on the channel regsync.status_changes as JSON (event,
-- domain_id, from, to, outcome_id), and for each subscription that is not
-- disabled and takes the change's event, a delivery row and a River job of
-- kind webhook_delivery in the queue webhook, as regsync's Go client
-- would insert WebhookDeliveryArgs; the webhook workers are woken once.
-- With no subscription it costs the notifications and one scan of an
-- empty table. It runs as its caller, the worker, which may insert
-- deliveries and jobs.
CREATE FUNCTION regsync.publish_status_changes(changes regsync.status_change[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    queued bigint;
BEGIN
    PERFORM pg_notify('regsync.status_changes', json_build_object(
        'event', c.event, 'domain_id', c.domain_id, 'from', c.from_status, 'to', c.to_status, 'outcome_id', c.outcome_id)::text)
    FROM unnest(changes) AS c;

    WITH delivery AS (
        INSERT INTO regsync.webhook_deliveries (subscription_id, event, domain_id, from_status, to_status, outcome_id)
        SELECT s.id, c.event, c.domain_id, c.from_status, c.to_status, c.outcome_id
        FROM unnest(changes) AS c
        JOIN regsync.webhook_subscriptions s ON c.event = ANY (s.events) AND s.disabled_at IS NULL
        RETURNING webhook_deliveries.id
    ),
    job AS (
        INSERT INTO regsync.river_job (args, kind, max_attempts, priority, queue, state)
        SELECT jsonb_build_object('delivery_id', delivery.id), 'webhook_delivery', 25, 1, 'webhook', 'available'
        FROM delivery
        RETURNING river_job.id
    )
    SELECT count(*) INTO queued FROM job;
    IF queued > 0 THEN
        PERFORM pg_notify('regsync.river_insert', json_build_object('queue', 'webhook')::text);
    END IF;
END
$$;

-- The worker publishes changes in its syncs' last writes, delivers, logs
-- each attempt and disables a subscription whose endpoint is gone; it
-- never adds, removes or re-points one. "regsync webhook test" reads the
-- sealed secret as the worker, as "transfer set-auth-info" seals one.
GRANT SELECT, UPDATE (disabled_at, disabled_reason) ON regsync.webhook_subscriptions TO regsync_worker;
GRANT SELECT, INSERT ON regsync.webhook_deliveries, regsync.webhook_delivery_attempts TO regsync_worker;
GRANT EXECUTE ON FUNCTION regsync.publish_status_changes(regsync.status_change[]) TO regsync_worker;

-- The reader sees subscriptions without their secret, and the delivery log.
GRANT SELECT (id, url, events, secret_key_id, created_at, disabled_at, disabled_reason)
    ON regsync.webhook_subscriptions TO regsync_reader;
GRANT SELECT ON regsync.webhook_deliveries, regsync.webhook_delivery_attempts TO regsync_reader;
