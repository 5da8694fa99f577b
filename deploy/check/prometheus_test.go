package check

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// EnvPromtool names the promtool binary (Debian package prometheus) the
// tests below run; `make test` sets it. Unset, they skip.
const EnvPromtool = "LIQSTREAM_TEST_PROMTOOL"

func promtool(t *testing.T) string {
	t.Helper()
	p := os.Getenv(EnvPromtool)
	if p == "" {
		t.Skipf("needs promtool: install Debian's prometheus package (scripts/install-deps.sh) and set %s=/usr/bin/promtool, as `make test` does", EnvPromtool)
	}
	if _, err := exec.LookPath(p); err != nil {
		t.Fatalf("%s=%s: %v (install Debian's prometheus package: scripts/install-deps.sh)", EnvPromtool, p, err)
	}
	return p
}

// runPromtool runs promtool in dir and returns its combined output.
func runPromtool(t *testing.T, bin, dir string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	return string(out), err
}

const promDir = "../prometheus"

// TestPrometheusConfigAndAlertRules: the scrape config and the rules it
// loads are valid, and every alert fires on its unit-test series (and the
// healthy series beside them do not).
func TestPrometheusConfigAndAlertRules(t *testing.T) {
	bin := promtool(t)
	for _, args := range [][]string{
		{"check", "config", "prometheus.yml"},
		{"check", "rules", "alerts.yml"},
		{"test", "rules", "alerts_test.yml"},
	} {
		out, err := runPromtool(t, bin, promDir, args...)
		if err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

type ruleFile struct {
	Groups []struct {
		Name  string `json:"name"`
		Rules []struct {
			Alert       string            `json:"alert"`
			Record      string            `json:"record"`
			Expr        string            `json:"expr"`
			For         string            `json:"for"`
			Labels      map[string]string `json:"labels"`
			Annotations map[string]string `json:"annotations"`
		} `json:"rules"`
	} `json:"groups"`
}

type ruleTestFile struct {
	RuleFiles          []string `json:"rule_files"`
	EvaluationInterval string   `json:"evaluation_interval"`
	Tests              []struct {
		Interval    string `json:"interval"`
		InputSeries []struct {
			Series string `json:"series"`
			Values string `json:"values"`
		} `json:"input_series"`
		AlertRuleTest []struct {
			EvalTime  string `json:"eval_time"`
			Alertname string `json:"alertname"`
			ExpAlerts []struct {
				ExpLabels      map[string]string `json:"exp_labels"`
				ExpAnnotations map[string]string `json:"exp_annotations"`
			} `json:"exp_alerts"`
		} `json:"alert_rule_test"`
	} `json:"tests"`
}

func readStrictYAML(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// TestEveryAlertIsUnitTested: each alert of alerts.yml has a case in
// alerts_test.yml where it fires, and carries a severity, a summary and a
// description that says what to do.
func TestEveryAlertIsUnitTested(t *testing.T) {
	var rules ruleFile
	readStrictYAML(t, filepath.Join(promDir, "alerts.yml"), &rules)
	var tests ruleTestFile
	readStrictYAML(t, filepath.Join(promDir, "alerts_test.yml"), &tests)
	fires := map[string]bool{}
	for _, tc := range tests.Tests {
		for _, a := range tc.AlertRuleTest {
			if len(a.ExpAlerts) > 0 {
				fires[a.Alertname] = true
			}
		}
	}
	var alerts []string
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				continue
			}
			alerts = append(alerts, r.Alert)
			if !fires[r.Alert] {
				t.Errorf("alert %s: no case in alerts_test.yml makes it fire", r.Alert)
			}
			if r.Labels["severity"] == "" || r.Annotations["summary"] == "" || len(r.Annotations["description"]) < 40 {
				t.Errorf("alert %s: needs labels.severity, annotations.summary and a description that says what to do", r.Alert)
			}
			for _, m := range seriesIn(r.Expr) {
				if !slices.Contains(ExportedMetrics, m) {
					t.Errorf("alert %s: series %s is not one the services export", r.Alert, m)
				}
			}
		}
	}
	// The five concerns are covered.
	for _, want := range []string{"HeadLag", "ConsumerLag", "DeadLetters", "PriceFallback", "RPCError"} {
		if !slices.ContainsFunc(alerts, func(a string) bool { return strings.Contains(a, want) }) {
			t.Errorf("no alert about %s among %v", want, alerts)
		}
	}
}

// TestAlertTestsCatchBrokenRules breaks each alert in a copy of alerts.yml
// (a threshold or a duration) and requires `promtool test rules` to fail:
// the unit tests would notice a rule that stops firing or fires too early.
func TestAlertTestsCatchBrokenRules(t *testing.T) {
	bin := promtool(t)
	orig, err := os.ReadFile(filepath.Join(promDir, "alerts.yml"))
	if err != nil {
		t.Fatal(err)
	}
	tests, err := os.ReadFile(filepath.Join(promDir, "alerts_test.yml"))
	if err != nil {
		t.Fatal(err)
	}
	breaks := []struct{ name, old, new string }{
		{"service down never", "up{job=~\"ingest|aggregator\"} == 0", "up{job=~\"ingest|aggregator\"} == 2"},
		{"head lag compares to nothing", "ingest_head_lag_blocks > ingest_head_lag_limit_blocks", "ingest_head_lag_blocks > 2 * ingest_head_lag_limit_blocks"},
		{"consumer lag threshold", "sum by (job) (consumer_lag_records) > 10000", "sum by (job) (consumer_lag_records) > 20000"},
		{"consumer lag fires on one replica", "sum by (job) (consumer_lag_records) > 10000", "max by (job) (consumer_lag_records) > 100"},
		{"dead letters on any counter", "sum by (job, reason) (increase(dlq_records_total[10m])) > 0", "sum by (job, reason) (dlq_records_total) > 0"},
		{"ingest dead letters never", "(increase(decode_errors_total[10m])) > 0", "(increase(decode_errors_total[10m])) > 100"},
		{"price fallback threshold", "            > 0.05\n", "            > 0.5\n"},
		{"price fallback too early", "        for: 15m\n", "        for: 1m\n"},
		{"rpc errors count range refusals", `outcome=~"throttled|server_error|timeout|transport|bad_response|http_error"`, `outcome!="ok"`},
		{"rpc error threshold", "            > 0.25\n", "            > 0.5\n"},
	}
	for _, b := range breaks {
		t.Run(b.name, func(t *testing.T) {
			if !strings.Contains(string(orig), b.old) {
				t.Fatalf("alerts.yml no longer contains %q: update this case", b.old)
			}
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "alerts.yml"), []byte(strings.Replace(string(orig), b.old, b.new, 1)), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "alerts_test.yml"), tests, 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := runPromtool(t, bin, dir, "test", "rules", "alerts_test.yml")
			if err == nil {
				t.Fatalf("promtool test rules passed with the rule broken (%q -> %q):\n%s", b.old, b.new, out)
			}
		})
	}
}

// ExportedMetrics are the series names the services export on /metrics
// (after the exporter's suffixes), which the dashboard and alerts may use;
// services/liqstream/observe checks them against a running pipeline.
var ExportedMetrics = []string{
	"up",
	"events_published_total", "events_stored_total", "decode_errors_total", "deficits_built_total",
	"rpc_requests_total", "rpc_endpoint_demotions_total",
	"rpc_request_duration_seconds_bucket", "rpc_request_duration_seconds_sum", "rpc_request_duration_seconds_count",
	"getlogs_range_blocks_bucket", "getlogs_range_blocks_sum", "getlogs_range_blocks_count",
	"ingest_head_lag_blocks", "ingest_head_lag_seconds", "ingest_head_lag_limit_blocks",
	"consumer_lag_records",
	"insert_latency_seconds_bucket", "insert_latency_seconds_sum", "insert_latency_seconds_count",
	"batch_size_bucket", "batch_size_sum", "batch_size_count",
	"dlq_records_total", "reorgs_detected_total", "retractions_published_total", "price_fallback_latest_total",
}

// dashboard is the part of a Grafana dashboard JSON these checks read.
type dashboard struct {
	UID        string `json:"uid"`
	Title      string `json:"title"`
	Templating struct {
		List []struct {
			Name       string          `json:"name"`
			Type       string          `json:"type"`
			Datasource *datasourceRef  `json:"datasource"`
			Query      json.RawMessage `json:"query"`
		} `json:"list"`
	} `json:"templating"`
	Panels []struct {
		ID          int            `json:"id"`
		Type        string         `json:"type"`
		Title       string         `json:"title"`
		Description string         `json:"description"`
		Datasource  *datasourceRef `json:"datasource"`
		Targets     []struct {
			RefID      string         `json:"refId"`
			Expr       string         `json:"expr"`
			Datasource *datasourceRef `json:"datasource"`
		} `json:"targets"`
	} `json:"panels"`
}

type datasourceRef struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

// PipelineHealthDashboard is the Prometheus dashboard's path from deploy/.
const PipelineHealthDashboard = "grafana/dashboards/prometheus/pipeline-health.json"

// seriesIn returns the series names a PromQL expression selects: with
// strings, label matchers, ranges and by/without/on/ignoring lists removed,
// the identifiers that are neither functions (followed by "(") nor
// keywords.
func seriesIn(expr string) []string {
	for _, re := range []*regexp.Regexp{
		regexp.MustCompile(`"(?:[^"\\]|\\.)*"`),
		regexp.MustCompile(`\{[^}]*\}`),
		regexp.MustCompile(`\[[^\]]*\]`),
		regexp.MustCompile(`\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`),
	} {
		expr = re.ReplaceAllString(expr, " ")
	}
	keywords := map[string]bool{"and": true, "or": true, "unless": true, "bool": true, "offset": true, "e": true}
	var out []string
	for _, m := range promIdent.FindAllStringSubmatchIndex(expr, -1) {
		name := expr[m[2]:m[3]]
		rest := strings.TrimLeft(expr[m[1]:], " \t\n")
		if keywords[name] || strings.HasPrefix(rest, "(") {
			continue
		}
		out = append(out, name)
	}
	return out
}

var promIdent = regexp.MustCompile(`(?:^|[^a-zA-Z0-9_:.$])([a-zA-Z_:][a-zA-Z0-9_:]*)`)

// grafanaVars are replaced before PromQL is parsed, like Grafana does.
var grafanaVars = strings.NewReplacer(`$chain`, `.*`, `$__rate_interval`, `1m`, `$__interval`, `1m`, `$__range`, `1h`)

// TestPipelineHealthDashboard: the dashboard parses, every panel and
// variable uses the provisioned Prometheus datasource, every query names
// series the services export, and (with promtool) every query is valid
// PromQL.
func TestPipelineHealthDashboard(t *testing.T) {
	var prov struct {
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
	readStrictYAML(t, "../grafana/provisioning/datasources/prometheus.yaml", &prov)
	if prov.APIVersion != 1 || len(prov.Datasources) != 1 || prov.Datasources[0].Type != "prometheus" || prov.Datasources[0].URL != "${PROMETHEUS_URL}" {
		t.Fatalf("prometheus.yaml: want one prometheus datasource with url ${PROMETHEUS_URL}, got %+v", prov)
	}
	uid := prov.Datasources[0].UID

	b, err := os.ReadFile(filepath.Join("..", PipelineHealthDashboard))
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", PipelineHealthDashboard, err)
	}
	if d.UID != "liqstream-pipeline-health" {
		t.Errorf("uid %q, want liqstream-pipeline-health", d.UID)
	}
	checkRef := func(where string, r *datasourceRef) {
		if r == nil || r.UID != uid || r.Type != "prometheus" {
			t.Errorf("%s: datasource %+v, want prometheus uid %s", where, r, uid)
		}
	}
	for _, v := range d.Templating.List {
		if v.Type == "query" {
			checkRef("variable "+v.Name, v.Datasource)
		}
	}
	known := map[string]bool{}
	for _, m := range ExportedMetrics {
		known[m] = true
	}
	var rules strings.Builder
	rules.WriteString("groups:\n  - name: dashboard\n    rules:\n")
	ids := map[int]bool{}
	used := map[string]bool{}
	for _, p := range d.Panels {
		if ids[p.ID] {
			t.Errorf("panel id %d used twice", p.ID)
		}
		ids[p.ID] = true
		if p.Type == "row" {
			continue
		}
		checkRef("panel "+p.Title, p.Datasource)
		if len(p.Targets) == 0 || len(p.Description) < 20 {
			t.Errorf("panel %q: needs a query and a description", p.Title)
		}
		for _, tg := range p.Targets {
			checkRef("panel "+p.Title+" target "+tg.RefID, tg.Datasource)
			if strings.TrimSpace(tg.Expr) == "" {
				t.Errorf("panel %q target %s: empty expr", p.Title, tg.RefID)
				continue
			}
			series := seriesIn(grafanaVars.Replace(tg.Expr))
			if len(series) == 0 {
				t.Errorf("panel %q target %s: no series in %q", p.Title, tg.RefID, tg.Expr)
			}
			for _, m := range series {
				used[m] = true
				if !known[m] {
					t.Errorf("panel %q target %s: series %s is not one the services export", p.Title, tg.RefID, m)
				}
			}
			fmt.Fprintf(&rules, "      - record: dashboard:panel_%d_%s\n        expr: %s\n", p.ID, tg.RefID, strconvQuote(grafanaVars.Replace(tg.Expr)))
		}
	}
	// The series each have a panel.
	for _, m := range []string{"events_published_total", "events_stored_total", "rpc_requests_total", "rpc_request_duration_seconds_bucket",
		"getlogs_range_blocks_bucket", "ingest_head_lag_blocks", "ingest_head_lag_seconds", "consumer_lag_records", "insert_latency_seconds_bucket",
		"batch_size_bucket", "dlq_records_total", "reorgs_detected_total", "retractions_published_total", "price_fallback_latest_total"} {
		if !used[m] {
			t.Errorf("no panel shows %s", m)
		}
	}
	sorted := make([]string, 0, len(used))
	for m := range used {
		sorted = append(sorted, m)
	}
	sort.Strings(sorted)
	t.Logf("%d panels use %d series: %s", len(ids), len(sorted), strings.Join(sorted, " "))

	if os.Getenv(EnvPromtool) == "" {
		t.Logf("PromQL not parsed: %s is unset", EnvPromtool)
		return
	}
	bin := promtool(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "dashboard.yml"), []byte(rules.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := runPromtool(t, bin, dir, "check", "rules", "dashboard.yml"); err != nil {
		t.Fatalf("dashboard queries are not valid PromQL: %v\n%s", err, out)
	}
}

// strconvQuote quotes s as a YAML double-quoted scalar.
func strconvQuote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func TestSeriesIn(t *testing.T) {
	tests := []struct {
		expr string
		want []string
	}{
		{`up{job=~"ingest|aggregator"}`, []string{"up"}},
		{`sum by (instance) (consumer_lag_records)`, []string{"consumer_lag_records"}},
		{`histogram_quantile(0.95, sum by (le, method) (rate(rpc_request_duration_seconds_bucket{chain=~".*"}[1m])))`, []string{"rpc_request_duration_seconds_bucket"}},
		{`sum(rate(a_total[5m])) / clamp_min(sum(rate(b_total[5m])), 1e-9) > 0.05`, []string{"a_total", "b_total"}},
		{`x > on (job, instance) y and z{a="b{c}"}`, []string{"x", "y", "z"}},
	}
	for _, tt := range tests {
		if got := seriesIn(tt.expr); !slices.Equal(got, tt.want) {
			t.Errorf("seriesIn(%q) = %v, want %v", tt.expr, got, tt.want)
		}
	}
}
