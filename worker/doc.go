// Package worker runs regsync's jobs on River: the status_sync job and its
// double-sync / revert state machine ([Syncer]), the transfer_retry job and
// its reason-aware retry decisions ([Retrier]), the leader-only sweep that
// enqueues due domains and transfers, the registrar rate limiter shared
// through Postgres, and the Prometheus metrics, including the gauges read
// from the database at scrape time. The decisions are plain functions over
// small interfaces, table-tested without a database; the River workers
// around them are thin.
package worker
