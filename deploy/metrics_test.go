package deploy_test

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/regsync/regsync/internal/httpapi"
	"github.com/regsync/regsync/store"
	"github.com/regsync/regsync/worker"
)

// registrations register what "regsync serve" puts on its registry besides
// the Go and process collectors. A new metrics package is one more line.
var registrations = []func(prometheus.Registerer){
	func(r prometheus.Registerer) { worker.NewMetrics(r) },
	func(r prometheus.Registerer) { r.MustRegister(worker.NewDatabaseCollector(nil, time.Second)) },
	func(r prometheus.Registerer) {
		// Registering the API's metrics needs neither a database nor jobs.
		jobs, err := river.NewClient(riverpgxv5.New(nil), &river.Config{})
		must(jobs, err)
		must(httpapi.New(httpapi.Config{Store: store.New(nil), Jobs: jobs, Registerer: r}))
	},
}

func must[T any](_ T, err error) {
	if err != nil {
		panic(err)
	}
}

// pending are metrics the dashboard may show before this test registers
// the package that exports them, such as
//
//	{name: "regsync_http_requests_total", kind: plain, pkg: "internal/httpapi"},
//
// They are accepted as they are; once regsync serve exports them,
// TestPendingMetrics asks for their registration above.
var pending []pendingMetric

type pendingMetric struct {
	name string
	kind metricKind
	// pkg is the package that defines the metric, relative to the
	// repository root.
	pkg string
}

type metricKind int

const (
	plain metricKind = iota
	histogram
	summary
)

// seriesNames returns the series names a metric family of kind exposes.
func seriesNames(name string, kind metricKind) []string {
	switch kind {
	case histogram:
		return []string{name + "_bucket", name + "_sum", name + "_count"}
	case summary:
		return []string{name, name + "_sum", name + "_count"}
	default:
		return []string{name}
	}
}

// recorder is a [prometheus.Registerer] that records the names of the
// metrics registered with it, from their descriptions.
type recorder struct {
	families map[string]metricKind
}

var descName = regexp.MustCompile(`^Desc\{fqName: "([^"]+)"`)

func (r *recorder) Register(c prometheus.Collector) error {
	kind := plain
	switch c := c.(type) {
	case *prometheus.HistogramVec:
		kind = histogram
	case *prometheus.SummaryVec:
		kind = summary
	case prometheus.Metric:
		// A single histogram or summary, which share one interface.
		var m dto.Metric
		if err := c.Write(&m); err != nil {
			return err
		}
		switch {
		case m.Histogram != nil:
			kind = histogram
		case m.Summary != nil:
			kind = summary
		}
	}
	descs := make(chan *prometheus.Desc)
	go func() {
		c.Describe(descs)
		close(descs)
	}()
	var err error
	for d := range descs {
		m := descName.FindStringSubmatch(d.String())
		if m == nil {
			err = errors.Join(err, fmt.Errorf("cannot read the name of %s", d))
			continue
		}
		r.families[m[1]] = kind
	}
	return err
}

func (r *recorder) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		if err := r.Register(c); err != nil {
			panic(err)
		}
	}
}

func (r *recorder) Unregister(prometheus.Collector) bool { return false }

// exportedSeries returns every series name regsync serve exposes, plus
// "up", which Prometheus adds to each target, and the pending metrics no
// code names yet.
func exportedSeries(t *testing.T) map[string]bool {
	t.Helper()
	rec := registered()

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		kind := plain
		switch f.GetType() {
		case dto.MetricType_HISTOGRAM, dto.MetricType_GAUGE_HISTOGRAM:
			kind = histogram
		case dto.MetricType_SUMMARY:
			kind = summary
		}
		rec.families[f.GetName()] = kind
	}
	rec.families["up"] = plain

	for _, p := range pending {
		if _, ok := rec.families[p.name]; !ok {
			rec.families[p.name] = p.kind
		}
	}

	series := map[string]bool{}
	for name, kind := range rec.families {
		for _, s := range seriesNames(name, kind) {
			series[s] = true
		}
	}
	return series
}

// registered returns the metric families registrations register.
func registered() *recorder {
	rec := &recorder{families: map[string]metricKind{}}
	for _, register := range registrations {
		register(rec)
	}
	return rec
}

// TestPendingMetrics fails once a pending metric is defined in a package
// the regsync command imports but is not registered by registrations:
// the dashboard's checks would then take its name on trust.
func TestPendingMetrics(t *testing.T) {
	t.Parallel()
	rec := registered()
	for _, p := range pending {
		if _, ok := rec.families[p.name]; ok {
			continue
		}
		named, file := namedInGo(t, filepath.Join(repoRoot, p.pkg), p.name)
		imported, _ := namedInGo(t, filepath.Join(repoRoot, "cmd", "regsync"), "github.com/regsync/regsync/"+p.pkg)
		if named && imported {
			t.Errorf("%s, defined in %s, is exported by regsync serve but not registered here: "+
				"add the registration of %s to registrations in deploy/metrics_test.go", p.name, file, p.pkg)
			continue
		}
		t.Logf("%s is accepted unchecked until regsync serve exports it", p.name)
	}
}

// namedInGo reports whether a non-test Go file under dir quotes name, and
// which.
func namedInGo(t *testing.T, dir, name string) (bool, string) {
	t.Helper()
	var found string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if found != "" || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if strings.Contains(string(src), `"`+name+`"`) {
			found = path
		}
		return nil
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	return found != "", found
}

var promqlParser = parser.NewParser(parser.Options{})

// unknownMetrics parses a PromQL expression and returns the metric names
// it selects that are not in known. A selector without an exact metric
// name cannot be checked and is an error.
func unknownMetrics(expr string, known map[string]bool) ([]string, error) {
	ast, err := promqlParser.ParseExpr(expr)
	if err != nil {
		return nil, err
	}
	var unknown []string
	var errs error
	parser.Inspect(ast, func(node parser.Node, _ []parser.Node) error {
		vs, ok := node.(*parser.VectorSelector)
		if !ok {
			return nil
		}
		name := vs.Name
		if name == "" {
			for _, m := range vs.LabelMatchers {
				if m.Name == model.MetricNameLabel && m.Type == labels.MatchEqual {
					name = m.Value
				}
			}
		}
		switch {
		case name == "":
			errs = errors.Join(errs, fmt.Errorf("selector %s has no exact metric name", vs))
		case !known[name] && !slices.Contains(unknown, name):
			unknown = append(unknown, name)
		}
		return nil
	})
	return unknown, errs
}

// grafanaVariable matches Grafana's template variables: $name, ${name},
// ${name:format} and [[name]].
var grafanaVariable = regexp.MustCompile(`\$\{(\w+)(?::[^}]*)?\}|\$(\w+)|\[\[(\w+)\]\]`)

// expandGrafana replaces Grafana's template variables in a query with
// values that parse: a duration for the interval variables, a label value
// for the others.
func expandGrafana(query string) string { return expandGrafanaWith(query, nil) }

// expandGrafanaWith is expandGrafana with the values of some variables
// given, by name.
func expandGrafanaWith(query string, values map[string]string) string {
	return grafanaVariable.ReplaceAllStringFunc(query, func(v string) string {
		name := strings.Trim(v, "${}[]")
		name, _, _ = strings.Cut(name, ":")
		if value, ok := values[name]; ok {
			return value
		}
		if strings.HasPrefix(name, "__") && (strings.Contains(name, "interval") || strings.Contains(name, "range")) {
			if strings.HasSuffix(name, "_s") || strings.HasSuffix(name, "_ms") {
				return "300"
			}
			return "5m"
		}
		return "x"
	})
}

// TestMetricNameCheck shows the check is strict enough to catch a typo.
func TestMetricNameCheck(t *testing.T) {
	t.Parallel()
	known := exportedSeries(t)
	for _, tc := range []struct {
		expr    string
		unknown []string
		err     bool
	}{
		{expr: `sum by (result) (rate(regsync_status_sync_total[5m]))`},
		{expr: `sum by (result) (rate(regsync_status_synk_total[5m]))`, unknown: []string{"regsync_status_synk_total"}},
		{expr: `max(regsync_domains_sync_lag_seconds) > 86400`},
		{expr: `max(regsync_domain_sync_lag_seconds) > 86400`, unknown: []string{"regsync_domain_sync_lag_seconds"}},
		{expr: `histogram_quantile(0.99, sum by (le) (rate(regsync_registrar_request_duration_seconds_bucket[5m])))`},
		// A histogram has no series of its bare name, a counter no buckets.
		{expr: `rate(regsync_registrar_request_duration_seconds[5m])`, unknown: []string{"regsync_registrar_request_duration_seconds"}},
		{expr: `rate(regsync_status_sync_total_bucket[5m])`, unknown: []string{"regsync_status_sync_total_bucket"}},
		{expr: `regsync_jobs{state="available"} > 0 unless on (queue) regsync_jobz`, unknown: []string{"regsync_jobz"}},
		{expr: `{__name__="regsync_database_up"} == 0`},
		{expr: `{__name__=~"regsync_.*"}`, err: true},
		{expr: `absent(up{job="regsync"} == 1)`},
		{expr: `go_goroutines + go_gc_duration_seconds_count + process_resident_memory_bytes`},
		{expr: `go_gorutines`, unknown: []string{"go_gorutines"}},
		{expr: `node_load1`, unknown: []string{"node_load1"}},
		{expr: `sum(rate(regsync_status_sync_total[5m])`, err: true},
		{expr: expandGrafana(`sum(rate(regsync_transfer_reset_total{registrar=~"$registrar"}[$__rate_interval]))`)},
		{expr: expandGrafana(`rate(regsync_transfer_resets_total{registrar=~"${registrar:regex}"}[$__rate_interval])`), unknown: []string{"regsync_transfer_resets_total"}},
	} {
		unknown, err := unknownMetrics(tc.expr, known)
		if (err != nil) != tc.err {
			t.Errorf("%s: error %v, want error %v", tc.expr, err, tc.err)
		}
		if !slices.Equal(unknown, tc.unknown) {
			t.Errorf("%s: unknown metrics %q, want %q", tc.expr, unknown, tc.unknown)
		}
	}
}

// TestExportedMetrics guards the metric list the other checks rely on.
func TestExportedMetrics(t *testing.T) {
	t.Parallel()
	known := exportedSeries(t)
	for _, name := range []string{
		"regsync_status_sync_total", "regsync_registrar_request_duration_seconds_bucket",
		"regsync_jobs", "regsync_database_up", "regsync_transfers_near_deadline",
		"regsync_http_requests_total", "regsync_http_request_duration_seconds_bucket",
		"go_goroutines", "process_resident_memory_bytes", "up",
	} {
		if !known[name] {
			t.Errorf("%s is not among the exported series", name)
		}
	}
}

// TestAlertRulesQueryExportedMetrics checks every alert expression.
func TestAlertRulesQueryExportedMetrics(t *testing.T) {
	t.Parallel()
	known := exportedSeries(t)
	for _, rule := range loadAlertRules(t) {
		unknown, err := unknownMetrics(rule.Expr, known)
		if err != nil {
			t.Errorf("alert %s: %v", rule.Alert, err)
		}
		if len(unknown) > 0 {
			t.Errorf("alert %s queries metrics regsync does not export: %s", rule.Alert, strings.Join(unknown, ", "))
		}
	}
}

// TestDashboardQueriesExportedMetrics checks every panel query and
// template variable query of the dashboard.
func TestDashboardQueriesExportedMetrics(t *testing.T) {
	t.Parallel()
	known := exportedSeries(t)
	queries := dashboardQueries(t, loadDashboard(t))
	if len(queries) < 30 {
		t.Fatalf("found only %d queries in the dashboard", len(queries))
	}
	for _, q := range queries {
		unknown, err := unknownMetrics(expandGrafana(q.expr), known)
		if err != nil {
			t.Errorf("%s: %v", q.where, err)
		}
		if len(unknown) > 0 {
			t.Errorf("%s queries metrics regsync does not export: %s", q.where, strings.Join(unknown, ", "))
		}
	}
}

// TestRecorderKinds checks that the recorder tells histograms and
// summaries, whose series names differ, from other metrics.
func TestRecorderKinds(t *testing.T) {
	t.Parallel()
	rec := &recorder{families: map[string]metricKind{}}
	rec.MustRegister(
		prometheus.NewHistogram(prometheus.HistogramOpts{Name: "h_seconds", Help: "h"}),
		prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "hv_seconds", Help: "hv"}, []string{"a"}),
		prometheus.NewSummary(prometheus.SummaryOpts{Name: "s_seconds", Help: "s"}),
		prometheus.NewSummaryVec(prometheus.SummaryOpts{Name: "sv_seconds", Help: "sv"}, []string{"a"}),
		prometheus.NewCounter(prometheus.CounterOpts{Name: "c_total", Help: "c"}),
		prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "g", Help: "g"}, []string{"a"}),
	)
	want := map[string]metricKind{
		"h_seconds": histogram, "hv_seconds": histogram, "s_seconds": summary, "sv_seconds": summary,
		"c_total": plain, "g": plain,
	}
	for name, kind := range want {
		if got, ok := rec.families[name]; !ok || got != kind {
			t.Errorf("%s: kind %v (recorded %v), want %v", name, got, ok, kind)
		}
	}
}
