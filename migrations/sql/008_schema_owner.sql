-- The schema and everything in it, River's tables included, belong to the
-- NOLOGIN role regsync_migrator, which migrations act as from now on, so
-- that no login user owns them and the role's default privileges apply to
-- what later migrations create. A database that earlier releases migrated
-- holds objects owned by whoever ran those migrations: this hands them
-- over. It runs as that user, which must own them (or be a superuser) and
-- be a member of regsync_migrator; a new database already has nothing to
-- hand over.

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
