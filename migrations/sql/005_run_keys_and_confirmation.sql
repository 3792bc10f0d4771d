-- Exactly one history row per job run, a guarded change that remembers
-- what its double sync needs across job runs, and a version on transfers
-- for compare-and-set.

-- A run is named by when it started (River's attempted_at, or the start
-- of a sync run from the command line) and its job id (NULL from the
-- command line). Rows written before this migration without a start get
-- their own started_at, which is the same instant for them.
ALTER TABLE regsync.status_sync_outcomes DISABLE TRIGGER status_sync_outcomes_append_only;
UPDATE regsync.status_sync_outcomes SET job_attempted_at = started_at WHERE job_attempted_at IS NULL;
ALTER TABLE regsync.status_sync_outcomes ALTER COLUMN job_attempted_at SET NOT NULL;

ALTER TABLE regsync.transfer_attempts DISABLE TRIGGER transfer_attempts_append_only;
UPDATE regsync.transfer_attempts SET job_attempted_at = started_at WHERE job_attempted_at IS NULL;
ALTER TABLE regsync.transfer_attempts ALTER COLUMN job_attempted_at SET NOT NULL;

-- A rerun of a write whose commit was ambiguous could record a run twice.
-- Such second rows are moved aside, kept, so that the unique indexes below
-- can hold; the first row of each run stays where it was.
CREATE TABLE regsync.duplicate_status_sync_outcomes (LIKE regsync.status_sync_outcomes);
WITH moved AS (
    DELETE FROM regsync.status_sync_outcomes o
    WHERE o.job_id IS NOT NULL AND EXISTS (
        SELECT 1 FROM regsync.status_sync_outcomes first
        WHERE first.job_id = o.job_id AND first.job_attempted_at = o.job_attempted_at AND first.id < o.id)
    RETURNING o.*
)
INSERT INTO regsync.duplicate_status_sync_outcomes SELECT * FROM moved;

CREATE TABLE regsync.duplicate_transfer_attempts (LIKE regsync.transfer_attempts);
WITH moved AS (
    DELETE FROM regsync.transfer_attempts a
    WHERE a.job_id IS NOT NULL AND EXISTS (
        SELECT 1 FROM regsync.transfer_attempts first
        WHERE first.job_id = a.job_id AND first.job_attempted_at = a.job_attempted_at AND first.id < a.id)
    RETURNING a.*
)
INSERT INTO regsync.duplicate_transfer_attempts SELECT * FROM moved;

ALTER TABLE regsync.status_sync_outcomes ENABLE TRIGGER status_sync_outcomes_append_only;
ALTER TABLE regsync.transfer_attempts ENABLE TRIGGER transfer_attempts_append_only;

-- NULL job ids (command-line runs) never conflict. The index also finds a
-- job's outcomes, so the index on job_id alone goes.
CREATE UNIQUE INDEX status_sync_outcomes_run_idx ON regsync.status_sync_outcomes (job_id, job_attempted_at);
CREATE UNIQUE INDEX transfer_attempts_run_idx ON regsync.transfer_attempts (job_id, job_attempted_at);
DROP INDEX regsync.status_sync_outcomes_job_id_idx;

-- A guarded change waiting for its double sync keeps, beside the status it
-- replaced, the raw reading that caused it, when it was applied, and how
-- many confirming reads failed, so that any later job run can finish it.
ALTER TABLE regsync.domains
    ADD COLUMN unconfirmed_raw_status text,
    ADD COLUMN unconfirmed_at timestamptz,
    ADD COLUMN confirm_failures integer NOT NULL DEFAULT 0 CHECK (confirm_failures >= 0);

CREATE OR REPLACE FUNCTION regsync.domains_track_status_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.status_changed_at := now();
    -- A writer that did not bump the version is someone other than the
    -- sync: bump it so in-flight compare-and-sets lose, and drop any
    -- unconfirmed change, since the new status is that writer's decision.
    IF NEW.version = OLD.version THEN
        NEW.version := OLD.version + 1;
        NEW.unconfirmed_from_status := NULL;
        NEW.unconfirmed_raw_status := NULL;
        NEW.unconfirmed_at := NULL;
        NEW.confirm_failures := 0;
    END IF;
    RETURN NEW;
END
$$;

-- Bumped by every write of a retry attempt, an authInfo or a reset
-- request, so that a run writes only over the state it read.
ALTER TABLE regsync.transfers ADD COLUMN version bigint NOT NULL DEFAULT 1;

-- Transfers waiting for an authInfo are retried too, on a slow schedule:
-- the losing registrar may put back the authInfo used before.
DROP INDEX regsync.transfers_next_retry_at_idx;
CREATE INDEX transfers_next_retry_at_idx ON regsync.transfers (next_retry_at)
    WHERE state IN ('blocked', 'waiting_auth_info', 'in_progress');
