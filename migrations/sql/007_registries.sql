-- Expiry dates, transferred-away domains and the source of a confirming
-- read, for the EPP and RDAP adapters.

-- When the registration expires, as the last sync that reported a date
-- believable enough to apply said it; NULL when no adapter reported one.
ALTER TABLE regsync.domains ADD COLUMN expires_at timestamptz;
-- When a sync first found the domain held by another registrar (or no
-- longer known to its own); NULL when it is not. The change to cancelled
-- waits until a later sync, a configured time after this, finds the same.
ALTER TABLE regsync.domains ADD COLUMN transferred_away_at timestamptz;

ALTER TABLE regsync.status_sync_outcomes
    -- The adapter that made the confirming read of a guarded change; the
    -- first read's is registrar. NULL when there was no confirming read.
    ADD COLUMN confirm_source text,
    -- Why the configured second opinion did not confirm, when the
    -- domain's own registrar read again in its place.
    ADD COLUMN confirm_fallback text,
    -- The sponsoring registrar the read reported (EPP clID, RDAP IANA id).
    ADD COLUMN sponsor text,
    ADD COLUMN expires_at_before timestamptz,
    ADD COLUMN expires_at_after timestamptz,
    -- A reported expiry date that was not applied, and why.
    ADD COLUMN expiry_error text,
    -- The read found the domain held by another registrar, or unknown to
    -- its own.
    ADD COLUMN transferred_away boolean NOT NULL DEFAULT false;
