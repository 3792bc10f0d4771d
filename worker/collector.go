package worker

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/regsync/regsync/registrar"
	"github.com/regsync/regsync/store"
)

// DatabaseCollector exports gauges of the database: jobs by queue and
// state (River keeps no queue-depth metric of its own), domains by status,
// how far behind the sweep is, and transfers by state, age and deadline.
// The leader's gauges job computes them every few seconds; a scrape reads
// the one row it stores, so scrapes stay cheap however many domains and
// replicas there are.
type DatabaseCollector struct {
	store   *store.Store
	timeout time.Duration

	jobs, domains, due, lag, expiringSoon, up, age       *prometheus.Desc
	historyCovered                                       *prometheus.Desc
	transfers, transferBlockedAge, transfersNearDeadline *prometheus.Desc
}

// NewDatabaseCollector returns a collector querying st, each scrape
// bounded by timeout.
func NewDatabaseCollector(st *store.Store, timeout time.Duration) *DatabaseCollector {
	return &DatabaseCollector{
		store:   st,
		timeout: timeout,
		jobs: prometheus.NewDesc("regsync_jobs",
			"Jobs in the queue by queue and state, read at scrape time.", []string{"queue", "state"}, nil),
		domains: prometheus.NewDesc("regsync_domains",
			"Domains by normalized status, read at scrape time.", []string{"status"}, nil),
		due: prometheus.NewDesc("regsync_domains_sync_due",
			"Domains whose next status sync time has passed.", nil, nil),
		lag: prometheus.NewDesc("regsync_domains_sync_lag_seconds",
			"How long the most overdue domain has been due for its status sync; 0 when none is.", nil, nil),
		expiringSoon: prometheus.NewDesc("regsync_domains_expiring_soon",
			"Active domains whose registration expires within 30 days, by the expiry dates the syncs applied.", nil, nil),
		transfers: prometheus.NewDesc("regsync_transfers",
			"Blocked transfers by state, read at scrape time.", []string{"state"}, nil),
		transferBlockedAge: prometheus.NewDesc("regsync_transfers_blocked_age_seconds",
			"How long the longest-blocked open transfer has been blocked; 0 when none is open.", nil, nil),
		transfersNearDeadline: prometheus.NewDesc("regsync_transfers_near_deadline",
			"Open transfers whose 60-day deadline is less than 7 days away.", nil, nil),
		historyCovered: prometheus.NewDesc("regsync_history_partitions_covered_seconds",
			"How far ahead of now the history table's partitions reach: runs starting later than that could not be recorded. Negative when the current month has none.", []string{"table"}, nil),
		up: prometheus.NewDesc("regsync_database_up",
			"1 when the scrape-time database query succeeded, 0 when it failed.", nil, nil),
		age: prometheus.NewDesc("regsync_gauges_age_seconds",
			"How long ago the leader computed the database gauges (regsync_jobs, regsync_domains*, regsync_transfers*).", nil, nil),
	}
}

// Describe implements [prometheus.Collector].
func (c *DatabaseCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.jobs, c.domains, c.due, c.lag, c.expiringSoon, c.up, c.age, c.transfers, c.transferBlockedAge, c.transfersNearDeadline, c.historyCovered} {
		ch <- d
	}
}

// Collect implements [prometheus.Collector]. Before the leader computed
// the gauges for the first time, it exports only regsync_database_up.
func (c *DatabaseCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	g, ok, err := c.store.Gauges(ctx)
	if err != nil {
		ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 1)
	if !ok {
		return
	}
	ch <- prometheus.MustNewConstMetric(c.age, prometheus.GaugeValue, time.Since(g.ComputedAt).Seconds())
	for _, q := range g.Queues {
		ch <- prometheus.MustNewConstMetric(c.jobs, prometheus.GaugeValue, float64(q.Count), q.Queue, q.State)
	}
	// Every status is exported, zeros included, so that dashboards and
	// alerts see a series for each.
	for _, s := range registrar.Statuses {
		ch <- prometheus.MustNewConstMetric(c.domains, prometheus.GaugeValue, float64(g.Domains.ByStatus[string(s)]), string(s))
	}
	ch <- prometheus.MustNewConstMetric(c.due, prometheus.GaugeValue, float64(g.Domains.Due))
	ch <- prometheus.MustNewConstMetric(c.lag, prometheus.GaugeValue, g.Domains.MaxSyncLag.Seconds())
	ch <- prometheus.MustNewConstMetric(c.expiringSoon, prometheus.GaugeValue, float64(g.Domains.ExpiringSoon))
	for _, s := range store.TransferStates {
		ch <- prometheus.MustNewConstMetric(c.transfers, prometheus.GaugeValue, float64(g.Transfers.ByState[string(s)]), string(s))
	}
	ch <- prometheus.MustNewConstMetric(c.transferBlockedAge, prometheus.GaugeValue, g.Transfers.MaxBlockedAge.Seconds())
	ch <- prometheus.MustNewConstMetric(c.transfersNearDeadline, prometheus.GaugeValue, float64(g.Transfers.NearDeadline))
	for _, table := range historyTables {
		var covered time.Duration // no partition at all: nothing covered
		if until, ok := g.HistoryCoveredUntil[table]; ok {
			covered = time.Until(until)
		}
		ch <- prometheus.MustNewConstMetric(c.historyCovered, prometheus.GaugeValue, covered.Seconds(), table)
	}
}
