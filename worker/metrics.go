package worker

import (
	"github.com/prometheus/client_golang/prometheus"
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
}

// NewMetrics creates the metrics and registers them with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		statusSyncs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "regsync_status_sync_total",
			Help: "Status syncs by registrar and result (unchanged, changed, reverted, revert_failed, error).",
		}, []string{"registrar", "result"}),
		statusTransitions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "regsync_status_transitions_total",
			Help: "Domain status changes made by status syncs and left in place, by previous and new status.",
		}, []string{"from", "to"}),
		doubleSyncs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "regsync_double_sync_total",
			Help: "Confirming second reads of guarded status changes by result (confirmed, contradicted, error).",
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
			Help:    "Duration of job runs by kind and result (completed, failed, snoozed, cancelled).",
			Buckets: []float64{.001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"kind", "result"}),
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
			Help: "Transfer reset calls by registrar and result (accepted, invalid, forbidden, closed, conflict, rate_limited, unavailable, unexpected).",
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
	}
	reg.MustRegister(m.rateLimitWait, m.transferResets, m.authInfoReverts, m.statusSyncs, m.statusTransitions, m.doubleSyncs, m.syncRestarts,
		m.registrarDuration, m.jobDuration, m.jobsRejected, m.sweepEnqueued)
	return m
}
