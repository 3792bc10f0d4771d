package deploy_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
)

const (
	rulesPath     = "prometheus/alerts.yml"
	rulesTestPath = "prometheus/alerts_test.yml"
)

type alertRule struct {
	Alert       string            `json:"alert"`
	Expr        string            `json:"expr"`
	For         string            `json:"for"`
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
}

func loadAlertRules(t *testing.T) []alertRule {
	t.Helper()
	var file struct {
		Groups []struct {
			Name     string      `json:"name"`
			Interval string      `json:"interval"`
			Rules    []alertRule `json:"rules"`
		} `json:"groups"`
	}
	decodeStrict(t, rulesPath, readFile(t, rulesPath), &file)
	var rules []alertRule
	for _, g := range file.Groups {
		rules = append(rules, g.Rules...)
	}
	if len(rules) == 0 {
		t.Fatalf("%s holds no rules", rulesPath)
	}
	return rules
}

// TestAlertRules checks what promtool does not: every alert waits before
// firing, has a severity and tells what happened and what to do.
func TestAlertRules(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for _, r := range loadAlertRules(t) {
		if r.Alert == "" {
			t.Errorf("rule %q is not an alert: keep recording rules elsewhere", r.Expr)
			continue
		}
		if seen[r.Alert] {
			t.Errorf("alert %s is defined twice", r.Alert)
		}
		seen[r.Alert] = true
		if d, err := model.ParseDuration(r.For); err != nil || time.Duration(d) <= 0 {
			t.Errorf("alert %s: for %q, want a positive duration", r.Alert, r.For)
		}
		if s := r.Labels["severity"]; !slices.Contains([]string{"critical", "warning", "info"}, s) {
			t.Errorf("alert %s: severity %q, want critical, warning or info", r.Alert, s)
		}
		for _, a := range []string{"summary", "description", "runbook"} {
			if strings.TrimSpace(r.Annotations[a]) == "" {
				t.Errorf("alert %s has no %s annotation", r.Alert, a)
			}
		}
	}
}

// TestAlertRulesAllTested checks that alerts_test.yml has, for every
// alert, a case where it fires and one where it does not.
func TestAlertRulesAllTested(t *testing.T) {
	t.Parallel()
	var file struct {
		RuleFiles          []string `json:"rule_files"`
		EvaluationInterval string   `json:"evaluation_interval"`
		Tests              []struct {
			Interval    string `json:"interval"`
			InputSeries []struct {
				Series string `json:"series"`
				Values string `json:"values"`
			} `json:"input_series"`
			AlertRuleTest []struct {
				EvalTime  string           `json:"eval_time"`
				Alertname string           `json:"alertname"`
				ExpAlerts []map[string]any `json:"exp_alerts"`
			} `json:"alert_rule_test"`
		} `json:"tests"`
	}
	decodeStrict(t, rulesTestPath, readFile(t, rulesTestPath), &file)
	if !slices.Contains(file.RuleFiles, filepath.Base(rulesPath)) {
		t.Errorf("%s does not test %s", rulesTestPath, rulesPath)
	}
	fires, silent := map[string]bool{}, map[string]bool{}
	for _, tc := range file.Tests {
		for _, at := range tc.AlertRuleTest {
			if len(at.ExpAlerts) > 0 {
				fires[at.Alertname] = true
			} else {
				silent[at.Alertname] = true
			}
		}
	}
	for _, r := range loadAlertRules(t) {
		if !fires[r.Alert] {
			t.Errorf("%s has no case where %s fires", rulesTestPath, r.Alert)
		}
		if !silent[r.Alert] {
			t.Errorf("%s has no case where %s does not fire", rulesTestPath, r.Alert)
		}
	}
}

// promtool returns the path of promtool: $PROMTOOL, the one "make tools"
// fetches into .tools, or one on PATH.
func promtool(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("PROMTOOL"); p != "" {
		return p
	}
	if p, err := filepath.Abs(filepath.Join(repoRoot, ".tools", "promtool")); err == nil {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("promtool"); err == nil {
		return p
	}
	t.Skip("SKIP: promtool not found, so the alert rules are not checked or unit-tested. " +
		"\"make tools\" fetches it from Debian's prometheus package into .tools/; or set PROMTOOL or put it on PATH.")
	return ""
}

func runPromtool(t *testing.T, args ...string) {
	t.Helper()
	cmd := exec.Command(promtool(t), args...)
	cmd.Dir = "prometheus"
	out, err := cmd.CombinedOutput()
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		t.Fatalf("promtool %s: %v", strings.Join(args, " "), err)
	}
	if err != nil {
		t.Errorf("promtool %s failed:\n%s", strings.Join(args, " "), out)
	}
}

func TestPromtoolCheckRules(t *testing.T) {
	t.Parallel()
	runPromtool(t, "check", "rules", filepath.Base(rulesPath))
}

func TestPromtoolCheckConfig(t *testing.T) {
	t.Parallel()
	// Also checks that the rule files it names exist.
	runPromtool(t, "check", "config", "prometheus.yml")
}

func TestPromtoolTestRules(t *testing.T) {
	t.Parallel()
	runPromtool(t, "test", "rules", filepath.Base(rulesTestPath))
}
