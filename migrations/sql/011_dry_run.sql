-- Dry run: a sync of a registrar in dry-run mode reads the registrar and
-- records what it would have done, flagged here, and changes no domain.
ALTER TABLE regsync.status_sync_outcomes ADD COLUMN dry_run boolean NOT NULL DEFAULT false;
