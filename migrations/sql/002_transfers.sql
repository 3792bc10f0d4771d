-- Blocked domain transfers that regsync retries until they go through, are
-- closed, or pass their deadline, and the append-only record of every
-- retry attempt.

CREATE TABLE regsync.transfers (
    -- Public transfer id, for example trf_01hxa3b4c5d6e7f8g9h0j1k2m3; the
    -- safe character set lets SQL build River's unique keys.
    id text PRIMARY KEY CHECK (id ~ '^trf_[0-9a-z]{1,60}$'),
    -- The customer's account number at the registrar.
    account_number text NOT NULL CHECK (account_number ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$'),
    -- IDNA-normalized name: A-labels, lower case, no trailing dot.
    domain_name text NOT NULL CHECK (
        length(domain_name) <= 253
        AND domain_name ~ '^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$'
    ),
    registrar text NOT NULL CHECK (registrar ~ '^[a-z][a-z0-9_]{0,31}$'),
    -- blocked: waiting for its next retry; waiting_auth_info: the registry
    -- rejected the authInfo, nothing happens until a new one is supplied;
    -- in_progress: reset accepted, the transfer runs at the registry;
    -- completed, closed (no pending order any more), forbidden (another
    -- account's transfer), expired (past the deadline), failed (the
    -- registrar kept answering what regsync does not understand): final.
    state text NOT NULL DEFAULT 'blocked' CHECK (
        state IN ('blocked', 'waiting_auth_info', 'in_progress', 'completed', 'closed', 'forbidden', 'expired', 'failed')
    ),
    -- Why the transfer blocked, one of the reasons the registrar API lists.
    block_reason text NOT NULL CHECK (
        block_reason IN ('registry_status', 'wrong_auth_info', 'registered_recently', 'rejected', 'no_response', 'already_pending', 'unknown')
    ),
    -- The registrar's own words for the block, free text.
    registrar_reason text,
    blocked_since timestamptz NOT NULL DEFAULT now(),
    -- When the domain was registered or last transferred: with the reason
    -- registered_recently, no retry happens before the lock period ends.
    registered_at timestamptz,
    -- The transfer gives up after this; 60 days after blocked_since when
    -- not given.
    deadline timestamptz NOT NULL,
    -- Reset attempts made, and 409 answers (not resettable now), which do
    -- not count as attempts.
    attempts integer NOT NULL DEFAULT 0,
    conflicts integer NOT NULL DEFAULT 0,
    next_retry_at timestamptz NOT NULL DEFAULT now(),
    last_result text,
    last_attempt_at timestamptz,
    -- The authInfo, only ever encrypted (AES-256-GCM; nonce and tag inside
    -- the ciphertext). The key id names the key of REGSYNC_SECRET_KEY that
    -- sealed it, so keys can be rotated: a new key seals new values while
    -- old ones still open until re-encrypted.
    auth_info_key_id text,
    auth_info_ciphertext bytea,
    -- The value before the current one, to revert to when the registry
    -- rejects a new authInfo.
    previous_auth_info_key_id text,
    previous_auth_info_ciphertext bytea,
    -- True while the current authInfo was supplied but not yet sent.
    auth_info_unsent boolean NOT NULL DEFAULT false,
    -- Bumped on every authInfo change, for compare-and-set reverts.
    auth_info_version bigint NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now(),
    CHECK ((auth_info_key_id IS NULL) = (auth_info_ciphertext IS NULL)),
    CHECK ((previous_auth_info_key_id IS NULL) = (previous_auth_info_ciphertext IS NULL))
);

CREATE FUNCTION regsync.transfers_default_deadline() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.deadline := coalesce(NEW.deadline, NEW.blocked_since + interval '60 days');
    RETURN NEW;
END
$$;

CREATE TRIGGER transfers_default_deadline
    BEFORE INSERT ON regsync.transfers
    FOR EACH ROW EXECUTE FUNCTION regsync.transfers_default_deadline();

CREATE UNIQUE INDEX transfers_open_domain_idx ON regsync.transfers (domain_name)
    WHERE state IN ('blocked', 'waiting_auth_info', 'in_progress');
CREATE INDEX transfers_next_retry_at_idx ON regsync.transfers (next_retry_at)
    WHERE state IN ('blocked', 'in_progress');

CREATE TABLE regsync.transfer_attempts (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    transfer_id text NOT NULL,
    registrar text NOT NULL,
    -- What the attempt found and did: accepted, invalid, forbidden, closed,
    -- conflict, rate_limited, unavailable, unexpected, completed, cancelled,
    -- not_resettable, waiting, expired, failed, skipped (nothing to do).
    result text NOT NULL,
    -- The HTTP status of the reset call, NULL when none was made.
    http_status integer,
    -- Whether this attempt sent a newly supplied authInfo (never the value).
    sent_new_auth_info boolean NOT NULL,
    -- The transfer status read before the reset, when the adapter can.
    transfer_status_code integer,
    transfer_status text,
    registrar_request_id text,
    state_before text NOT NULL,
    state_after text NOT NULL,
    error text,
    double_sync_attempted boolean NOT NULL DEFAULT false,
    double_sync_succeeded boolean NOT NULL DEFAULT false,
    double_sync_error text,
    revert_attempted boolean NOT NULL DEFAULT false,
    revert_succeeded boolean NOT NULL DEFAULT false,
    revert_error text,
    job_id bigint,
    attempt integer NOT NULL,
    -- When River started the job run: with job_id it names the run, since
    -- a snoozed run gives its attempt number back.
    job_attempted_at timestamptz,
    started_at timestamptz NOT NULL,
    finished_at timestamptz NOT NULL,
    duration interval GENERATED ALWAYS AS (finished_at - started_at) STORED
);

CREATE INDEX transfer_attempts_transfer_id_idx ON regsync.transfer_attempts (transfer_id, id);

CREATE TRIGGER transfer_attempts_append_only
    BEFORE UPDATE OR DELETE ON regsync.transfer_attempts
    FOR EACH ROW EXECUTE FUNCTION regsync.reject_change();

-- enqueue_transfer_retry inserts a transfer_retry job for the transfer
-- exactly as regsync's Go client does, so the two deduplicate, and wakes
-- the workers when the calling transaction commits. It returns the new
-- job's id, or NULL when a retry of that transfer is already pending. An
-- unknown or malformed id is an error. A new authInfo is never passed
-- here: it is stored encrypted first (regsync transfer set-auth-info).
CREATE FUNCTION regsync.enqueue_transfer_retry(transfer_id text) RETURNS bigint
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
    RETURN regsync.insert_unique_job('transfer_retry', 'transfer_id', transfer_id);
END
$$;
