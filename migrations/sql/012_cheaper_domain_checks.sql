-- The checks of a domain's id, name and registrar, at a tenth of their
-- cost. PostgreSQL compiles a bounded repetition such as {0,61} into a
-- large automaton: the regular expressions of migration 6 took about
-- 25 µs a row, most of the time of a bulk import. The same rules are
-- checked here with unbounded patterns and lengths; a test holds the two
-- definitions equal on edge cases and random strings.
CREATE OR REPLACE FUNCTION regsync.domains_check_identity() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    failed text;
BEGIN
    -- The safe character set of id lets SQL build River's unique keys
    -- without escaping; name is IDNA-normalized (A-labels, lower case, no
    -- trailing dot), in labels of at most 63 characters.
    IF length(NEW.id) > 64 OR NEW.id !~ '^dom_[0-9a-z]+$' THEN
        failed := 'domains_id_check';
    ELSIF length(NEW.name) > 253
        OR NEW.name !~ '^([a-z0-9]([a-z0-9-]*[a-z0-9])?\.)+[a-z0-9]([a-z0-9-]*[a-z0-9])?$'
        OR NEW.name ~ '[a-z0-9-]{64}' THEN
        failed := 'domains_name_check';
    ELSIF length(NEW.registrar) > 32 OR NEW.registrar !~ '^[a-z][a-z0-9_]*$' THEN
        failed := 'domains_registrar_check';
    END IF;
    IF failed IS NOT NULL THEN
        RAISE EXCEPTION 'new row for relation "domains" violates check constraint "%"', failed
            USING ERRCODE = 'check_violation', SCHEMA = 'regsync', TABLE = 'domains', CONSTRAINT = failed;
    END IF;
    RETURN NEW;
END
$$;
