package dashboards

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
)

// ErrDashboard is wrapped by every error about a dashboard file's content.
var ErrDashboard = errors.New("invalid dashboard")

// DataSourceRef is a panel's, target's or variable's "datasource" object.
type DataSourceRef struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

// Dashboard is the part of a Grafana dashboard JSON model the harness reads.
type Dashboard struct {
	// File is the path the dashboard was loaded from.
	File       string `json:"-"`
	UID        string `json:"uid"`
	Title      string `json:"title"`
	Templating struct {
		List []Variable `json:"list"`
	} `json:"templating"`
	Panels []Panel `json:"panels"`
}

// Variable is a template variable of a dashboard.
type Variable struct {
	Name       string          `json:"name"`
	Type       string          `json:"type"`
	Datasource *DataSourceRef  `json:"datasource"`
	Query      json.RawMessage `json:"query"`
	Multi      bool            `json:"multi"`
	IncludeAll bool            `json:"includeAll"`
	// AllValue is the custom "All" value; empty means All stands for every
	// option of the variable.
	AllValue string `json:"allValue"`
}

// SQL returns the variable's query: the plugin accepts a plain string (the
// legacy form) or an object with rawSql.
func (v Variable) SQL() (string, error) {
	if len(v.Query) == 0 {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(v.Query, &s); err == nil {
		return s, nil
	}
	var o struct {
		RawSQL string `json:"rawSql"`
	}
	if err := json.Unmarshal(v.Query, &o); err != nil {
		return "", fmt.Errorf("%w: variable %s: query is neither a string nor an object with rawSql: %v", ErrDashboard, v.Name, err)
	}
	return o.RawSQL, nil
}

// Panel is a dashboard panel; rows (type "row") may nest panels.
type Panel struct {
	ID          int            `json:"id"`
	Type        string         `json:"type"`
	Title       string         `json:"title"`
	Description string         `json:"description"`
	Datasource  *DataSourceRef `json:"datasource"`
	Targets     []Target       `json:"targets"`
	FieldConfig struct {
		Overrides []struct {
			Matcher struct {
				ID      string          `json:"id"`
				Options json.RawMessage `json:"options"`
			} `json:"matcher"`
		} `json:"overrides"`
	} `json:"fieldConfig"`
	Panels []Panel `json:"panels"`
}

// ByNameColumns returns the column names the panel's byName overrides refer
// to: a query must return them or the override silently does nothing.
func (p Panel) ByNameColumns() []string {
	var out []string
	for _, o := range p.FieldConfig.Overrides {
		var s string
		if o.Matcher.ID == "byName" && json.Unmarshal(o.Matcher.Options, &s) == nil {
			out = append(out, s)
		}
	}
	return out
}

// Target is one query of a panel.
type Target struct {
	RefID      string         `json:"refId"`
	Datasource *DataSourceRef `json:"datasource"`
	EditorType string         `json:"editorType"`
	QueryType  string         `json:"queryType"`
	// Format is sqlds' FormatQueryOption: 0 time series, 1 table.
	Format int    `json:"format"`
	RawSQL string `json:"rawSql"`
}

// Formats of Target.Format (grafana/sqlds FormatQueryOption).
const (
	FormatTimeSeries = 0
	FormatTable      = 1
)

// AllPanels returns the dashboard's panels with the panels of collapsed rows
// flattened in, rows themselves left out.
func (d Dashboard) AllPanels() []Panel {
	var out []Panel
	var walk func([]Panel)
	walk = func(ps []Panel) {
		for _, p := range ps {
			if p.Type != "row" {
				out = append(out, p)
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	return out
}

// Variable returns the template variable called name.
func (d Dashboard) Variable(name string) (Variable, bool) {
	for _, v := range d.Templating.List {
		if v.Name == name {
			return v, true
		}
	}
	return Variable{}, false
}

// LoadFile reads one dashboard JSON file.
func LoadFile(path string) (Dashboard, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Dashboard{}, fmt.Errorf("reading dashboard: %w", err)
	}
	var d Dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		return Dashboard{}, fmt.Errorf("%w: %s is not valid JSON: %v", ErrDashboard, path, err)
	}
	d.File = path
	if d.UID == "" || d.Title == "" {
		return Dashboard{}, fmt.Errorf("%w: %s has no uid or title", ErrDashboard, path)
	}
	return d, nil
}

// LoadDir reads every *.json file of dir, sorted by file name. Two
// dashboards with the same uid are an error (Grafana would load only one).
func LoadDir(dir string) ([]Dashboard, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	seen := map[string]string{}
	var out []Dashboard
	for _, f := range files {
		d, err := LoadFile(f)
		if err != nil {
			return nil, err
		}
		if prev, ok := seen[d.UID]; ok {
			return nil, fmt.Errorf("%w: uid %q is used by %s and %s", ErrDashboard, d.UID, prev, f)
		}
		seen[d.UID] = f
		out = append(out, d)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no *.json dashboards in %s", ErrDashboard, dir)
	}
	return out, nil
}
