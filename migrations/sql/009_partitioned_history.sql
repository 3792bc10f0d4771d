-- History by month: regsync.status_sync_outcomes and
-- regsync.transfer_attempts become range-partitioned by job_attempted_at,
-- the start of the job run, which is already part of each run's unique key
-- (job_id, job_attempted_at), so that the key stays enforceable and
-- retention can drop whole months instead of deleting rows.
--
-- The existing table is attached as the first partition, holding
-- everything before the month boundary after its newest row, rather than
-- copied into a new table: attaching rewrites nothing (it builds the new
-- primary key's index and checks the range with one scan), where a copy
-- would write all of an installation's history again and double its disk
-- for the while. Monthly partitions follow it, created ahead of time by the
-- leader (regsync.ensure_history_partitions), never on the insert path.

-- history_partitions lists the partitions of the history tables with the
-- end of each one's range.
CREATE VIEW regsync.history_partitions AS
SELECT parent.relname::text AS history,
       child.relname::text AS partition,
       substring(pg_get_expr(child.relpartbound, child.oid) FROM 'TO \(''([^'']+)''\)')::timestamptz AS range_end
FROM pg_inherits i
JOIN pg_class parent ON parent.oid = i.inhparent
JOIN pg_class child ON child.oid = i.inhrelid
JOIN pg_namespace n ON n.oid = parent.relnamespace
WHERE n.nspname = 'regsync' AND parent.relname IN ('status_sync_outcomes', 'transfer_attempts');

-- ensure_history_partitions creates, for each history table, the monthly
-- partitions (UTC months) from the end of its last partition through the
-- month months_ahead after the current one, and returns how many it
-- created. Running it again creates nothing.
-- It runs as its owner, the migrator role, since making a partition takes
-- owning the table; the leader, running as the worker role, may only call
-- it, and the names it makes are its own.
CREATE FUNCTION regsync.ensure_history_partitions(months_ahead integer) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    history_table text;
    covered timestamptz;
    month_start timestamptz;
    created integer := 0;
BEGIN
    FOREACH history_table IN ARRAY ARRAY['status_sync_outcomes', 'transfer_attempts'] LOOP
        SELECT max(p.range_end) INTO covered FROM regsync.history_partitions p WHERE p.history = history_table;
        month_start := coalesce(covered, date_trunc('month', now(), 'UTC'));
        WHILE month_start <= date_trunc('month', now(), 'UTC') + make_interval(months => months_ahead) LOOP
            EXECUTE format('CREATE TABLE IF NOT EXISTS regsync.%I PARTITION OF regsync.%I FOR VALUES FROM (%L) TO (%L)',
                history_table || '_' || to_char(month_start AT TIME ZONE 'UTC', 'YYYY_MM'), history_table,
                month_start, month_start + interval '1 month');
            created := created + 1;
            month_start := month_start + interval '1 month';
        END LOOP;
    END LOOP;
    RETURN created;
END
$$;

-- drop_history_partitions drops every history partition whose range ends
-- at or before older_than, and returns what it dropped. Rows are never
-- deleted one by one: the append-only triggers still refuse that. It runs
-- as its owner, as ensure_history_partitions does.
CREATE FUNCTION regsync.drop_history_partitions(older_than timestamptz)
RETURNS TABLE (history text, partition text, range_end timestamptz)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    p record;
BEGIN
    FOR p IN SELECT * FROM regsync.history_partitions h WHERE h.range_end <= older_than ORDER BY h.range_end LOOP
        EXECUTE format('DROP TABLE regsync.%I', p.partition);
        history := p.history;
        partition := p.partition;
        range_end := p.range_end;
        RETURN NEXT;
    END LOOP;
END
$$;

-- partition_history turns one history table into a partitioned one of the
-- same name, columns and indexes, its rows in place as the first partition.
-- owner is the column naming what a row is the history of.
CREATE FUNCTION regsync.partition_history(history text, owner text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    owner_index text := history || '_' || owner || '_idx';
    newest timestamptz;
    bound timestamptz;
    old_name text;
BEGIN
    EXECUTE format('SELECT max(job_attempted_at) FROM regsync.%I', history) INTO newest;
    bound := date_trunc('month', greatest(newest, now()), 'UTC') + interval '1 month';
    old_name := history || '_before_' || to_char(bound AT TIME ZONE 'UTC', 'YYYY_MM');

    EXECUTE format('ALTER TABLE regsync.%I RENAME TO %I', history, old_name);
    EXECUTE format('ALTER TABLE regsync.%I DROP CONSTRAINT %I', old_name, history || '_pkey');
    EXECUTE format('DROP TRIGGER %I ON regsync.%I', history || '_append_only', old_name);
    EXECUTE format('ALTER INDEX regsync.%I RENAME TO %I', history || '_run_idx', old_name || '_run_idx');
    EXECUTE format('ALTER INDEX regsync.%I RENAME TO %I', owner_index, old_name || '_' || owner || '_idx');

    EXECUTE format('CREATE TABLE regsync.%I (LIKE regsync.%I INCLUDING DEFAULTS INCLUDING GENERATED INCLUDING IDENTITY, '
        'PRIMARY KEY (id, job_attempted_at)) PARTITION BY RANGE (job_attempted_at)', history, old_name);
    -- The new identity continues where the old one stopped; the old
    -- table's own goes, since a partition takes its parent's.
    EXECUTE format('SELECT setval(pg_get_serial_sequence(%L, ''id''), coalesce((SELECT max(id) FROM regsync.%I), 0) + 1, false)',
        'regsync.' || history, old_name);
    EXECUTE format('ALTER TABLE regsync.%I ALTER COLUMN id DROP IDENTITY', old_name);
    EXECUTE format('CREATE UNIQUE INDEX %I ON regsync.%I (job_id, job_attempted_at)', history || '_run_idx', history);
    EXECUTE format('CREATE INDEX %I ON regsync.%I (%I, id)', owner_index, history, owner);
    EXECUTE format('CREATE TRIGGER %I BEFORE UPDATE OR DELETE ON regsync.%I FOR EACH ROW EXECUTE FUNCTION regsync.reject_change()',
        history || '_append_only', history);

    -- A validated range constraint lets the attach skip its own scan.
    EXECUTE format('ALTER TABLE regsync.%I ADD CONSTRAINT %I CHECK (job_attempted_at < %L)', old_name, old_name || '_range', bound);
    EXECUTE format('ALTER TABLE regsync.%I ATTACH PARTITION regsync.%I FOR VALUES FROM (MINVALUE) TO (%L)', history, old_name, bound);
END
$$;

SELECT regsync.partition_history('status_sync_outcomes', 'domain_id');
SELECT regsync.partition_history('transfer_attempts', 'transfer_id');
DROP FUNCTION regsync.partition_history(text, text);

SELECT regsync.ensure_history_partitions(3);

-- The partitioned tables are new: they take the grants the tables they
-- replace had (see 008). Access through a parent checks only the
-- parent's grants, so the partitions need none.
GRANT SELECT, INSERT ON regsync.status_sync_outcomes, regsync.transfer_attempts TO regsync_worker;
GRANT SELECT ON regsync.status_sync_outcomes, regsync.transfer_attempts TO regsync_reader;
GRANT SELECT ON regsync.history_partitions TO regsync_worker, regsync_reader;
GRANT EXECUTE ON FUNCTION regsync.ensure_history_partitions(integer), regsync.drop_history_partitions(timestamptz) TO regsync_worker;
