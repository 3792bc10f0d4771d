package worker

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/regsync/regsync/registrar"
	"github.com/regsync/regsync/store"
)

// Metrics are regsync's Prometheus metrics. Labels are bounded: registrar
// adapter names, statuses, results and job kinds; never a domain or an
// account.
type Metrics struct {
	statusSyncs       *prometheus.CounterVec
	statusTransitions *prometheus.CounterVec
	doubleSyncs       *prometheus.CounterVec
	syncRestarts      *prometheus.CounterVec
	registrarDuration *prometheus.HistogramVec
	jobDuration       *prometheus.HistogramVec
	jobsRejected      *prometheus.CounterVec
	sweepEnqueued     *prometheus.CounterVec
	transferResets    *prometheus.CounterVec
	authInfoReverts   *prometheus.CounterVec
	rateLimitWait     *prometheus.HistogramVec
	// registrarAccessErrors counts the registrar calls that could not be
	// made or were refused for the operator's reasons, not the domain's.
	registrarAccessErrors *prometheus.CounterVec
	// doubleSyncFallbacks counts confirming reads that went back to the
	// domain's own registrar because its second opinion could not tell.
	doubleSyncFallbacks      *prometheus.CounterVec
	expiryChanges            *prometheus.CounterVec
	historyPartitionsDropped *prometheus.CounterVec
	// webhookDeliveries counts delivery attempts by result; webhookDuration
	// times those that made a request. Neither names a subscription.
	webhookDeliveries *prometheus.CounterVec
	webhookDuration   prometheus.Histogram
}

// The results of a double sync, for regsync_double_sync_total.
const (
	doubleSyncConfirmed    = "confirmed"
	doubleSyncContradicted = "contradicted"
	// doubleSyncFailed: the confirming read got an error; it is retried.
	doubleSyncFailed = "failed"
	// doubleSyncGaveUp: the confirming read failed too often; reverted.
	doubleSyncGaveUp = "gave_up"
	// doubleSyncDeferred: a rate limit or refused credentials; read again
	// later without counting a failure.
	doubleSyncDeferred = "deferred"
	// doubleSyncInterrupted: regsync cut the read short (job timeout,
	// shutdown); the change stays unconfirmed for the next run.
	doubleSyncInterrupted = "interrupted"
	// doubleSyncNotYet: a second opinion has not seen the change yet; it
	// is asked again later.
	doubleSyncNotYet = "not_yet"
)

var doubleSyncResults = []string{doubleSyncConfirmed, doubleSyncContradicted, doubleSyncFailed, doubleSyncGaveUp, doubleSyncDeferred,
	doubleSyncInterrupted, doubleSyncNotYet}

// The results of regsync_expiry_changes_total.
const (
	expiryApplied  = "applied"
	expiryRejected = "rejected"
)

// The reasons of regsync_registrar_access_errors_total.
const (
	// accessCredentialsRefused: the registrar answered 401 (or its
	// protocol's equivalent) to regsync's credentials.
	accessCredentialsRefused = "credentials_refused"
	// accessNotConfigured: the registrar a domain or transfer names has no
	// adapter here, or not one that can do what is asked.
	accessNotConfigured = "not_configured"
)

// historyTables are the partitioned history tables.
var historyTables = []string{"status_sync_outcomes", "transfer_attempts"}

// syncResults are the results of regsync_status_sync_total; see [Result].
var syncResults = []string{"unchanged", "changed", "reverted", "revert_failed", "error"}

// transferResults are the results of regsync_transfer_reset_total; see
// resetResult.
var transferResults = []string{"accepted", "invalid", "forbidden", "closed", "conflict", "rate_limited", "credentials_refused", "unavailable", "unexpected"}

// NewMetrics creates the metrics and registers them with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		statusSyncs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "regsync_status_sync_total",
			Help: "Status syncs by registrar, result (unchanged, changed, reverted, revert_failed, error) and whether it was a dry run, which changes nothing and counts what it would have done.",
		}, []string{"registrar", "result", "dry_run"}),
		statusTransitions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "regsync_status_transitions_total",
			Help: "Domain status changes made by status syncs and left in place, by previous and new status.",
		}, []string{"from", "to"}),
		doubleSyncs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "regsync_double_sync_total",
			Help: "Confirming second reads of guarded status changes by result (confirmed, contradicted, failed and retried, gave_up and reverted, deferred by a rate limit or refused credentials, interrupted by regsync, not_yet seen by a second opinion and asked again).",
		}, []string{"result"}),
		syncRestarts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "regsync_status_sync_restarts_total",
			Help: "Status syncs started over because the domain changed while they ran (a lost compare-and-set).",
		}, []string{"registrar"}),
		registrarDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "regsync_registrar_request_duration_seconds",
			Help:    "Duration of registrar requests by registrar, operation and answer code (HTTP status, ok, timeout or error).",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"registrar", "operation", "code"}),
		jobDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "regsync_job_duration_seconds",
			Help:    "Duration of job runs by kind, queue and result (completed, failed, snoozed, cancelled).",
			Buckets: []float64{.001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"kind", "queue", "result"}),
		jobsRejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "regsync_jobs_rejected_total",
			Help: "Jobs cancelled without running because their args were invalid or named something that does not exist.",
		}, []string{"kind", "reason"}),
		sweepEnqueued: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "regsync_sweep_enqueued_total",
			Help: "Jobs enqueued by periodic sweeps, by job kind.",
		}, []string{"kind"}),
		transferResets: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "regsync_transfer_reset_total",
			Help: "Transfer reset calls by registrar and result (accepted, invalid, forbidden, closed, conflict, rate_limited, credentials_refused, unavailable, unexpected).",
		}, []string{"registrar", "result"}),
		authInfoReverts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "regsync_transfer_auth_info_reverts_total",
			Help: "Reverts of a new authInfo the registry rejected, by whether the revert succeeded.",
		}, []string{"succeeded"}),
		rateLimitWait: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "regsync_registrar_rate_limit_wait_seconds",
			Help:    "Time requests waited for the registrar's shared rate limit, by registrar.",
			Buckets: []float64{.001, .01, .1, .5, 1, 2.5, 5, 10, 30},
		}, []string{"registrar"}),
		registrarAccessErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "regsync_registrar_access_errors_total",
			Help: "Registrar calls refused or not made for the operator's reasons, by registrar and reason (credentials_refused: the registrar refused regsync's credentials; not_configured: no adapter here can make the call). The domains and transfers keep their state and are retried.",
		}, []string{"registrar", "reason"}),
		doubleSyncFallbacks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "regsync_double_sync_fallbacks_total",
			Help: "Confirming reads of guarded changes that went back to the domain's own registrar because the configured second opinion could not tell (no server for the domain, or a status it has no word for), by registrar and second opinion.",
		}, []string{"registrar", "via"}),
		expiryChanges: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "regsync_expiry_changes_total",
			Help: "Expiry dates a sync read that differed from the known one, by registrar and result (applied, or rejected as unbelievable: a placeholder, before 1985, more than 11 years ahead, or moved back without a status change).",
		}, []string{"registrar", "result"}),
		historyPartitionsDropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "regsync_history_partitions_dropped_total",
			Help: "Monthly partitions of the history tables dropped for retention, by table (status_sync_outcomes, transfer_attempts).",
		}, []string{"table"}),
		webhookDeliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "regsync_webhook_deliveries_total",
			Help: "Webhook delivery attempts by result (delivered; failed_retrying: no answer, 408, 429 or 5xx, tried again; gave_up: such a failure on the last attempt; rejected: another 3xx or 4xx, not tried again; gone: 410, the subscription disabled; cancelled: the subscription removed or disabled before the delivery).",
		}, []string{"result"}),
		webhookDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "regsync_webhook_delivery_duration_seconds",
			Help:    "Duration of webhook delivery requests, until the answer or the timeout.",
			Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}),
	}
	reg.MustRegister(m.webhookDeliveries, m.webhookDuration, m.doubleSyncFallbacks, m.expiryChanges, m.historyPartitionsDropped, m.rateLimitWait, m.transferResets, m.authInfoReverts, m.statusSyncs, m.statusTransitions, m.doubleSyncs, m.syncRestarts,
		m.registrarDuration, m.jobDuration, m.jobsRejected, m.sweepEnqueued, m.registrarAccessErrors)
	return m
}

// Init creates every series of a bounded label set at zero for the
// adapters configured, so that rate() and alerts work from the first
// scrape rather than from a series' first event.
func (m *Metrics) Init(adapters Adapters) {
	for _, r := range doubleSyncResults {
		m.doubleSyncs.WithLabelValues(r)
	}
	for _, from := range registrar.Statuses {
		for _, to := range registrar.Statuses {
			if from != to {
				m.statusTransitions.WithLabelValues(string(from), string(to))
			}
		}
	}
	jobQueues := map[string][]string{
		StatusSyncArgs{}.Kind():    {QueueStatusSync},
		TransferRetryArgs{}.Kind(): {QueueTransferRetry},
	}
	for name, a := range adapters {
		if a.Status != nil {
			jobQueues[StatusSyncArgs{}.Kind()] = append(jobQueues[StatusSyncArgs{}.Kind()], StatusSyncQueue(name))
		}
	}
	for kind, queues := range jobQueues {
		m.sweepEnqueued.WithLabelValues(kind)
		m.jobsRejected.WithLabelValues(kind, "invalid_args")
		for _, queue := range queues {
			for _, result := range []string{"completed", "failed", "snoozed", "cancelled"} {
				m.jobDuration.WithLabelValues(kind, queue, result)
			}
		}
	}
	for _, table := range historyTables {
		m.historyPartitionsDropped.WithLabelValues(table)
	}
	m.jobsRejected.WithLabelValues(StatusSyncArgs{}.Kind(), "unknown_domain")
	m.jobsRejected.WithLabelValues(TransferRetryArgs{}.Kind(), "unknown_transfer")
	webhookKind := WebhookDeliveryArgs{}.Kind()
	m.jobsRejected.WithLabelValues(webhookKind, "invalid_args")
	m.jobsRejected.WithLabelValues(webhookKind, "unknown_delivery")
	for _, result := range []string{"completed", "failed", "cancelled"} { // deliveries never snooze
		m.jobDuration.WithLabelValues(webhookKind, QueueWebhook, result)
	}
	for _, result := range store.WebhookResults {
		m.webhookDeliveries.WithLabelValues(string(result))
	}
	for _, ok := range []string{"true", "false"} {
		m.authInfoReverts.WithLabelValues(ok)
	}
	for name, a := range adapters {
		for _, reason := range []string{accessCredentialsRefused, accessNotConfigured} {
			m.registrarAccessErrors.WithLabelValues(name, reason)
		}
		if a.Status != nil {
			m.expiryChanges.WithLabelValues(name, expiryApplied)
			m.expiryChanges.WithLabelValues(name, expiryRejected)
			m.syncRestarts.WithLabelValues(name)
			m.registrarDuration.WithLabelValues(name, "read_status", "ok")
			for _, result := range syncResults {
				m.statusSyncs.WithLabelValues(name, result, "false")
				m.statusSyncs.WithLabelValues(name, result, "true")
			}
		}
		if a.Resetter != nil {
			m.registrarDuration.WithLabelValues(name, "reset_transfer", "ok")
			for _, result := range transferResults {
				m.transferResets.WithLabelValues(name, result)
			}
		}
		if a.TransferStatus != nil {
			m.registrarDuration.WithLabelValues(name, "read_transfer_status", "ok")
		}
	}
}
