package dashboards

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"gopkg.in/yaml.v3"
)

// grafanaDir is deploy/grafana relative to this package.
var grafanaDir = filepath.Join("..", "..", "..", "deploy", "grafana")

func strictYAML(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

type datasourceFile struct {
	APIVersion  int `yaml:"apiVersion"`
	Datasources []struct {
		Name           string            `yaml:"name"`
		UID            string            `yaml:"uid"`
		Type           string            `yaml:"type"`
		IsDefault      bool              `yaml:"isDefault"`
		Editable       bool              `yaml:"editable"`
		JSONData       map[string]any    `yaml:"jsonData"`
		SecureJSONData map[string]string `yaml:"secureJsonData"`
	} `yaml:"datasources"`
}

// loadDatasource returns the provisioned ClickHouse datasource's uid.
func loadDatasource(t *testing.T) string {
	t.Helper()
	var f datasourceFile
	strictYAML(t, filepath.Join(grafanaDir, "provisioning", "datasources", "clickhouse.yaml"), &f)
	if f.APIVersion != 1 || len(f.Datasources) != 1 {
		t.Fatalf("datasource file: apiVersion %d, %d datasources; want 1 and 1", f.APIVersion, len(f.Datasources))
	}
	ds := f.Datasources[0]
	if ds.Type != "grafana-clickhouse-datasource" || ds.UID == "" {
		t.Fatalf("datasource type %q uid %q; want grafana-clickhouse-datasource and a uid", ds.Type, ds.UID)
	}
	// Keys the plugin reads (pkg/plugin/settings.go LoadSettings).
	want := map[string]string{
		"protocol": "native", "host": "${CLICKHOUSE_HOST}", "port": "${CLICKHOUSE_PORT}",
		"defaultDatabase": "${CLICKHOUSE_DATABASE}", "username": "${CLICKHOUSE_USER}",
	}
	for k, v := range want {
		if got, _ := ds.JSONData[k].(string); got != v {
			t.Errorf("jsonData.%s = %v, want %q", k, ds.JSONData[k], v)
		}
	}
	if ds.SecureJSONData["password"] != "${CLICKHOUSE_PASSWORD}" {
		t.Errorf("secureJsonData.password = %q, want ${CLICKHOUSE_PASSWORD}", ds.SecureJSONData["password"])
	}
	for k, v := range ds.JSONData {
		if s, ok := v.(string); ok && regexp.MustCompile(`(?i)pass|secret`).MatchString(k+s) {
			t.Errorf("jsonData.%s looks like a secret: passwords belong in secureJsonData", k)
		}
	}
	return ds.UID
}

func TestProvisioningReferencesExistingFiles(t *testing.T) {
	uid := loadDatasource(t)

	var p struct {
		APIVersion int `yaml:"apiVersion"`
		Providers  []struct {
			Name                  string `yaml:"name"`
			OrgID                 int    `yaml:"orgId"`
			Folder                string `yaml:"folder"`
			FolderUID             string `yaml:"folderUid"`
			Type                  string `yaml:"type"`
			DisableDeletion       bool   `yaml:"disableDeletion"`
			AllowUIUpdates        bool   `yaml:"allowUiUpdates"`
			UpdateIntervalSeconds int    `yaml:"updateIntervalSeconds"`
			Options               struct {
				Path                      string `yaml:"path"`
				FoldersFromFilesStructure bool   `yaml:"foldersFromFilesStructure"`
			} `yaml:"options"`
		} `yaml:"providers"`
	}
	strictYAML(t, filepath.Join(grafanaDir, "provisioning", "dashboards", "liqstream.yaml"), &p)
	if p.APIVersion != 1 || len(p.Providers) != 1 || p.Providers[0].Type != "file" {
		t.Fatalf("dashboard provider file: want apiVersion 1 and one provider of type file, got %+v", p)
	}
	// The path is an environment variable Grafana expands; the README sets it
	// to deploy/grafana/dashboards, so resolve it the same way here.
	path := os.Expand(p.Providers[0].Options.Path, func(k string) string {
		if k == "LIQSTREAM_GRAFANA_DASHBOARDS" {
			return filepath.Join(grafanaDir, "dashboards")
		}
		t.Errorf("provider path uses undocumented variable %s", k)
		return ""
	})
	ds, err := LoadDir(path)
	if err != nil {
		t.Fatalf("provider path %s: %v", path, err)
	}

	// Every datasource reference points at the provisioned datasource.
	for _, d := range ds {
		refs := 0
		check := func(where string, r *DataSourceRef) {
			refs++
			if r == nil || r.UID != uid || r.Type != "grafana-clickhouse-datasource" {
				t.Errorf("%s: %s: datasource %+v, want uid %s", d.File, where, r, uid)
			}
		}
		for _, v := range d.Templating.List {
			if v.Type == "query" {
				check("variable "+v.Name, v.Datasource)
			}
		}
		for _, pn := range d.AllPanels() {
			check("panel "+pn.Title, pn.Datasource)
			for _, tg := range pn.Targets {
				check("panel "+pn.Title+" target "+tg.RefID, tg.Datasource)
			}
		}
		if refs == 0 {
			t.Errorf("%s has no ClickHouse panels", d.File)
		}
	}
}
