package deploy_test

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
)

const composePath = "compose.yaml"

// loadCompose loads the compose file as "docker compose" would, validating
// it against the compose specification, with env as the only environment.
func loadCompose(t *testing.T, file string, env ...string) (*types.Project, error) {
	t.Helper()
	opts, err := cli.NewProjectOptions([]string{file},
		cli.WithWorkingDirectory(filepath.Dir(file)),
		cli.WithEnv(env),
		cli.WithName("regsync"),
	)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return opts.LoadProject(ctx)
}

func service(t *testing.T, p *types.Project, name string) types.ServiceConfig {
	t.Helper()
	s, err := p.GetService(name)
	if err != nil {
		t.Fatalf("compose: %v", err)
	}
	return s
}

func env(s types.ServiceConfig, name string) string {
	if v := s.Environment[name]; v != nil {
		return *v
	}
	return ""
}

func TestCompose(t *testing.T) {
	t.Parallel()
	abs, err := filepath.Abs(composePath)
	if err != nil {
		t.Fatal(err)
	}
	p, err := loadCompose(t, abs)
	if err != nil {
		t.Fatalf("%s: %v", composePath, err)
	}

	pg := service(t, p, "postgres")
	if pg.Image != "postgres:15" || pg.HealthCheck == nil {
		t.Errorf("postgres: image %q, want postgres:15 with a health check", pg.Image)
	}

	migrate := service(t, p, "migrate")
	if !slices.Equal(migrate.Command, types.ShellCommand{"migrate"}) {
		t.Errorf("migrate runs %q", migrate.Command)
	}
	if dep := migrate.DependsOn["postgres"]; dep.Condition != types.ServiceConditionHealthy {
		t.Errorf("migrate must wait for a healthy postgres, waits for %q", dep.Condition)
	}

	sim := service(t, p, "simulator")
	if len(sim.Command) == 0 || sim.Command[0] != "simulate" {
		t.Errorf("simulator runs %q", sim.Command)
	}
	simToken := env(sim, "REGSYNC_SIM_TOKEN")
	if simToken == "" {
		t.Errorf("simulator has no REGSYNC_SIM_TOKEN")
	}

	rs := service(t, p, "regsync")
	if !slices.Equal(rs.Command, types.ShellCommand{"serve"}) {
		t.Errorf("regsync runs %q", rs.Command)
	}
	if dep := rs.DependsOn["migrate"]; dep.Condition != types.ServiceConditionCompletedSuccessfully {
		t.Errorf("regsync must wait for the migrations to complete, waits for %q", dep.Condition)
	}
	if env(rs, "DATABASE_URL") != env(migrate, "DATABASE_URL") || !strings.Contains(env(rs, "DATABASE_URL"), "@postgres:") {
		t.Errorf("regsync and migrate must use the same database, on the postgres service")
	}
	if got := env(rs, "REGSYNC_HOSTUP_TOKEN"); got != simToken {
		t.Errorf("regsync's REGSYNC_HOSTUP_TOKEN %q is not the simulator's token %q", got, simToken)
	}
	if simAddr := sim.Command[slices.Index(sim.Command, "--addr")+1]; !strings.HasSuffix(env(rs, "REGSYNC_HOSTUP_URL"), "//simulator:"+portOf(t, simAddr)) {
		t.Errorf("REGSYNC_HOSTUP_URL %q does not reach the simulator on %s", env(rs, "REGSYNC_HOSTUP_URL"), simAddr)
	}
	if env(rs, "REGSYNC_HTTP_ADDR") != "0.0.0.0:9464" {
		t.Errorf("REGSYNC_HTTP_ADDR %q: Prometheus scrapes regsync:9464 from another container", env(rs, "REGSYNC_HTTP_ADDR"))
	}
	if rs.StopGracePeriod == nil || time.Duration(*rs.StopGracePeriod) <= 40*time.Second {
		t.Errorf("stop_grace_period must exceed the 40 s serve may take to stop")
	}
	for _, s := range []types.ServiceConfig{migrate, sim, rs} {
		var names []string
		for name := range s.Environment {
			names = append(names, name)
		}
		checkEnvNames(t, "compose service "+s.Name, names)
	}

	// The mounted files exist and land where the other files expect them.
	mounts := map[string]string{}
	for _, name := range []string{"prometheus", "grafana"} {
		for _, v := range service(t, p, name).Volumes {
			if v.Type != types.VolumeTypeBind {
				continue
			}
			if _, err := os.Stat(v.Source); err != nil {
				t.Errorf("%s mounts %s: %v", name, v.Source, err)
			}
			rel, _ := filepath.Rel(filepath.Dir(abs), v.Source)
			mounts[filepath.ToSlash(rel)] = v.Target
		}
	}
	if mounts["prometheus/prometheus.yml"] != "/etc/prometheus/prometheus.yml" ||
		mounts["prometheus/alerts.yml"] != "/etc/prometheus/alerts.yml" {
		t.Errorf("prometheus must get prometheus.yml and alerts.yml side by side in /etc/prometheus: %v", mounts)
	}
	if mounts["grafana/provisioning"] != "/etc/grafana/provisioning" {
		t.Errorf("grafana must get the provisioning files in /etc/grafana/provisioning: %v", mounts)
	}
	var provider struct {
		Providers []struct {
			Options struct {
				Path string `json:"path"`
			} `json:"options"`
		} `json:"providers"`
	}
	decodeLoose(t, "grafana/provisioning/dashboards/regsync.yaml", &provider)
	if dir := filepath.Dir(mounts[dashboardPath]); len(provider.Providers) == 0 || dir != provider.Providers[0].Options.Path {
		t.Errorf("the dashboard is mounted in %s, the provider reads %+v", dir, provider.Providers)
	}
	var datasources struct {
		Datasources []struct {
			URL string `json:"url"`
		} `json:"datasources"`
	}
	decodeLoose(t, "grafana/provisioning/datasources/prometheus.yaml", &datasources)
	if len(datasources.Datasources) == 0 || datasources.Datasources[0].URL != "http://prometheus:9090" {
		t.Errorf("the Grafana data source does not point at the prometheus service: %+v", datasources)
	}
	var promConfig struct {
		ScrapeConfigs []struct {
			JobName       string `json:"job_name"`
			StaticConfigs []struct {
				Targets []string `json:"targets"`
			} `json:"static_configs"`
		} `json:"scrape_configs"`
	}
	decodeLoose(t, "prometheus/prometheus.yml", &promConfig)
	var scraped bool
	for _, sc := range promConfig.ScrapeConfigs {
		for _, st := range sc.StaticConfigs {
			scraped = scraped || (sc.JobName == "regsync" && slices.Contains(st.Targets, "regsync:"+portOf(t, env(rs, "REGSYNC_HTTP_ADDR"))))
		}
	}
	if !scraped {
		t.Errorf("prometheus.yml has no job \"regsync\" scraping the regsync service's REGSYNC_HTTP_ADDR port")
	}
}

// TestComposeCatchesTypos shows that the loader rejects an unknown key.
func TestComposeCatchesTypos(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "compose.yaml")
	if err := os.WriteFile(file, []byte("services:\n  a:\n    image: postgres:15\n    healthchek:\n      test: [\"CMD\", \"true\"]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := loadCompose(t, file); err == nil {
		t.Errorf("a misspelled key loaded without error")
	}
}

func portOf(t *testing.T, addr string) string {
	t.Helper()
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("address %q: %v", addr, err)
	}
	return port
}
