-- Token buckets shared by every regsync process on the database, so that a
-- registrar's rate limit holds in total, however many processes run.

CREATE TABLE regsync.registrar_rate_limits (
    registrar text PRIMARY KEY CHECK (registrar ~ '^[a-z][a-z0-9_]{0,31}$'),
    requests_per_second double precision NOT NULL CHECK (requests_per_second > 0),
    burst double precision NOT NULL CHECK (burst >= 1),
    tokens double precision NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- take_registrar_token takes one request token from the registrar's
-- bucket. It returns 0 when a token was taken, the seconds until one will
-- be available when none is (take again after waiting), or NULL when the
-- registrar has no limit.
CREATE FUNCTION regsync.take_registrar_token(registrar_name text) RETURNS double precision
LANGUAGE plpgsql AS $$
DECLARE
    bucket regsync.registrar_rate_limits;
    available double precision;
BEGIN
    SELECT * INTO bucket FROM regsync.registrar_rate_limits WHERE registrar = registrar_name FOR UPDATE;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    available := least(bucket.burst,
        bucket.tokens + bucket.requests_per_second * extract(epoch FROM clock_timestamp() - bucket.updated_at));
    IF available >= 1 THEN
        UPDATE regsync.registrar_rate_limits SET tokens = available - 1, updated_at = clock_timestamp()
        WHERE registrar = registrar_name;
        RETURN 0;
    END IF;
    RETURN (1 - available) / bucket.requests_per_second;
END
$$;
