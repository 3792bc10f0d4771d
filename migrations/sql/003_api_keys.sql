-- API keys of regsync's HTTP API. A key's token is rsk_<id>_<secret>; only
-- the SHA-256 of the secret is kept, so the token cannot be recovered from
-- the database. The secret is 256 random bits: a fast hash is enough, since
-- guessing it is out of reach whatever the hash costs.

CREATE TABLE regsync.api_keys (
    -- Public key id, for example key_mfrggzdfmztwq2lknnwg23tpob: the
    -- middle of the token, shown by "regsync apikey list".
    id text PRIMARY KEY CHECK (id ~ '^key_[a-z2-7]{26}$'),
    -- What the key is for, in the operator's words.
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    -- SHA-256 of the token's secret part.
    token_hash bytea NOT NULL CHECK (length(token_hash) = 32),
    -- read:domains allows status syncs; write:transfers transfer resets.
    scopes text[] NOT NULL CHECK (
        cardinality(scopes) > 0
        AND scopes <@ ARRAY['read:domains', 'write:transfers']::text[]
    ),
    created_at timestamptz NOT NULL DEFAULT now(),
    -- Set once the key is revoked; a revoked key is refused.
    revoked_at timestamptz,
    -- When the key last authenticated a request, to the minute.
    last_used_at timestamptz
);
