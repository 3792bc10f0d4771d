package deploy_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
)

const dashboardPath = "grafana/regsync.json"

type dashboard struct {
	UID        string  `json:"uid"`
	Title      string  `json:"title"`
	Panels     []panel `json:"panels"`
	Templating struct {
		List []templateVar `json:"list"`
	} `json:"templating"`
}

type panel struct {
	ID         int         `json:"id"`
	Type       string      `json:"type"`
	Title      string      `json:"title"`
	Datasource *datasource `json:"datasource"`
	GridPos    struct {
		H, W, X, Y int
	} `json:"gridPos"`
	Targets []struct {
		Expr       string      `json:"expr"`
		RefID      string      `json:"refId"`
		Datasource *datasource `json:"datasource"`
	} `json:"targets"`
	Panels []panel `json:"panels"`
}

type datasource struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type templateVar struct {
	Name       string          `json:"name"`
	Type       string          `json:"type"`
	Query      json.RawMessage `json:"query"`
	Datasource *datasource     `json:"datasource"`
	// AllValue is the variable's value when "All" is selected.
	AllValue string `json:"allValue"`
}

func loadDashboard(t *testing.T) dashboard {
	t.Helper()
	var d dashboard
	if err := json.Unmarshal(readFile(t, dashboardPath), &d); err != nil {
		t.Fatalf("%s: %v", dashboardPath, err)
	}
	return d
}

// allPanels returns the panels, those inside collapsed rows included.
func allPanels(d dashboard) []panel {
	var out []panel
	for _, p := range d.Panels {
		out = append(out, p)
		out = append(out, p.Panels...)
	}
	return out
}

type query struct{ where, expr string }

var labelValues = regexp.MustCompile(`^\s*label_values\((.+),\s*\w+\s*\)\s*$`)

// dashboardQueries returns the PromQL of every panel target, named by its
// row, panel and refId (two panels may share a title in different rows),
// and the metric selector of every label_values variable query.
func dashboardQueries(t *testing.T, d dashboard) []query {
	t.Helper()
	var qs []query
	var row string
	for _, p := range allPanels(d) {
		if p.Type == "row" {
			row = p.Title
		}
		for _, target := range p.Targets {
			qs = append(qs, query{fmt.Sprintf("row %q panel %q target %s", row, p.Title, target.RefID), target.Expr})
		}
	}
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		var q string
		if err := json.Unmarshal(v.Query, &q); err != nil {
			var obj struct{ Query string }
			if err := json.Unmarshal(v.Query, &obj); err != nil {
				t.Fatalf("variable %s: query: %v", v.Name, err)
			}
			q = obj.Query
		}
		m := labelValues.FindStringSubmatch(q)
		if m == nil {
			t.Errorf("variable %s: want a label_values(METRIC, LABEL) query, got %q", v.Name, q)
			continue
		}
		qs = append(qs, query{fmt.Sprintf("variable %s", v.Name), m[1]})
	}
	return qs
}

func TestDashboard(t *testing.T) {
	t.Parallel()
	data := readFile(t, dashboardPath)
	dec := json.NewDecoder(bytes.NewReader(data))
	var raw map[string]any
	if err := dec.Decode(&raw); err != nil {
		t.Fatalf("%s: %v", dashboardPath, err)
	}
	// Exported dashboards that still name their source data source
	// would not load in another Grafana.
	if _, ok := raw["__inputs"]; ok {
		t.Errorf("%s has __inputs: it would need the import dialog; use the datasource variable", dashboardPath)
	}
	if id, ok := raw["id"]; ok && id != nil {
		t.Errorf("%s has a fixed id %v: provisioning must let Grafana choose", dashboardPath, id)
	}

	d := loadDashboard(t)
	if d.UID != "regsync" || d.Title == "" {
		t.Errorf("uid %q, title %q: want uid regsync and a title", d.UID, d.Title)
	}

	i := slices.IndexFunc(d.Templating.List, func(v templateVar) bool { return v.Name == "datasource" })
	if i < 0 || d.Templating.List[i].Type != "datasource" || string(d.Templating.List[i].Query) != `"prometheus"` {
		t.Errorf("want a datasource variable of Prometheus data sources")
	}
	const wantDS = "${datasource}"
	for _, v := range d.Templating.List {
		if v.Type == "query" && (v.Datasource == nil || v.Datasource.UID != wantDS) {
			t.Errorf("variable %s does not query the datasource variable", v.Name)
		}
	}

	var rows []string
	ids := map[int]string{}
	for _, p := range allPanels(d) {
		if other, ok := ids[p.ID]; ok || p.ID == 0 {
			t.Errorf("panel %q: id %d missing or also used by %q", p.Title, p.ID, other)
		}
		ids[p.ID] = p.Title
		if g := p.GridPos; g.W < 1 || g.H < 1 || g.X < 0 || g.X+g.W > 24 || g.Y < 0 {
			t.Errorf("panel %q: gridPos %+v off the 24-column grid", p.Title, g)
		}
		if p.Type == "row" {
			rows = append(rows, p.Title)
			continue
		}
		if p.Title == "" {
			t.Errorf("panel %d has no title", p.ID)
		}
		if p.Datasource == nil || p.Datasource.UID != wantDS {
			t.Errorf("panel %q: data source %+v, want uid %s", p.Title, p.Datasource, wantDS)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no queries", p.Title)
		}
		for _, target := range p.Targets {
			if strings.TrimSpace(target.Expr) == "" || target.RefID == "" {
				t.Errorf("panel %q: a target lacks expr or refId", p.Title)
			}
			if target.Datasource != nil && target.Datasource.UID != wantDS {
				t.Errorf("panel %q: target data source %+v, want uid %s", p.Title, target.Datasource, wantDS)
			}
		}
	}
	want := []string{"Status syncs", "Registrars", "Jobs", "Sync lag", "Domains", "Transfers", "Process", "HTTP API", "Registrations", "Webhooks"}
	if !slices.Equal(rows, want) {
		t.Errorf("rows %q, want %q", rows, want)
	}
}

func TestGrafanaProvisioning(t *testing.T) {
	t.Parallel()
	var ds struct {
		APIVersion  int `json:"apiVersion"`
		Datasources []struct {
			Name      string         `json:"name"`
			UID       string         `json:"uid"`
			Type      string         `json:"type"`
			Access    string         `json:"access"`
			URL       string         `json:"url"`
			IsDefault bool           `json:"isDefault"`
			Editable  bool           `json:"editable"`
			JSONData  map[string]any `json:"jsonData"`
		} `json:"datasources"`
	}
	path := "grafana/provisioning/datasources/prometheus.yaml"
	decodeStrict(t, path, readFile(t, path), &ds)
	if ds.APIVersion != 1 || len(ds.Datasources) != 1 || ds.Datasources[0].Type != "prometheus" || ds.Datasources[0].URL == "" {
		t.Errorf("%s: want one prometheus data source, got %+v", path, ds)
	}

	var dp struct {
		APIVersion int `json:"apiVersion"`
		Providers  []struct {
			Name                  string `json:"name"`
			Folder                string `json:"folder"`
			Type                  string `json:"type"`
			DisableDeletion       bool   `json:"disableDeletion"`
			AllowUIUpdates        bool   `json:"allowUiUpdates"`
			UpdateIntervalSeconds int    `json:"updateIntervalSeconds"`
			Options               struct {
				Path                      string `json:"path"`
				FoldersFromFilesStructure bool   `json:"foldersFromFilesStructure"`
			} `json:"options"`
		} `json:"providers"`
	}
	path = "grafana/provisioning/dashboards/regsync.yaml"
	decodeStrict(t, path, readFile(t, path), &dp)
	if dp.APIVersion != 1 || len(dp.Providers) != 1 || dp.Providers[0].Type != "file" || dp.Providers[0].Options.Path == "" {
		t.Errorf("%s: want one file provider, got %+v", path, dp)
	}
}
