package check

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
)

// loadCompose loads a compose file with compose-go, the loader of
// `docker compose`: schema validation (unknown keys fail), interpolation,
// merge keys and the consistency check (depends_on and volumes name things
// that exist). dir is the compose file's directory; relative paths resolve
// against it.
func loadCompose(ctx context.Context, dir, name string, content []byte) (*types.Project, error) {
	return loader.LoadWithContext(ctx, types.ConfigDetails{
		WorkingDir:  dir,
		ConfigFiles: []types.ConfigFile{{Filename: filepath.Join(dir, name), Content: content}},
		Environment: types.Mapping{},
	}, func(o *loader.Options) {
		o.SetProjectName("liqstream", true)
		o.ResolvePaths = true
	})
}

// provisioningVar is ${VAR} in a Grafana provisioning file.
var provisioningVar = regexp.MustCompile(`\$\{([A-Z_][A-Z0-9_]*)\}`)

// checkCompose checks the loaded project against the pipeline's needs.
func checkCompose(p *types.Project, repo string) []error {
	var errs []error
	svc := func(name string) (types.ServiceConfig, bool) {
		s, ok := p.Services[name]
		if !ok {
			errs = append(errs, fmt.Errorf("service %s is missing", name))
		}
		return s, ok
	}
	chains := []string{"ethereum", "polygon", "avalanche", "arbitrum", "base"}
	metrics := map[string]string{} // service -> metrics port
	for _, name := range append([]string{"aggregator"}, prefixed("ingest-", chains)...) {
		s, ok := svc(name)
		if !ok {
			continue
		}
		i := slices.Index(s.Command, "--metrics-addr")
		if i < 0 || i+1 >= len(s.Command) || !strings.HasPrefix(s.Command[i+1], "0.0.0.0:") {
			errs = append(errs, fmt.Errorf("service %s: no --metrics-addr 0.0.0.0:<port>: Prometheus in another container could not scrape it", name))
			continue
		}
		metrics[name] = strings.TrimPrefix(s.Command[i+1], "0.0.0.0:")
	}
	for _, c := range chains {
		if s, ok := p.Services["ingest-"+c]; ok {
			i := slices.Index(s.Command, "--chain")
			if i < 0 || i+1 >= len(s.Command) || s.Command[i+1] != c {
				errs = append(errs, fmt.Errorf("service ingest-%s: --chain %s is not given", c, c))
			}
		}
	}
	if s, ok := svc("aggregator"); ok {
		if d, ok := s.DependsOn["migrate"]; !ok || d.Condition != types.ServiceConditionCompletedSuccessfully {
			errs = append(errs, fmt.Errorf("service aggregator: depends_on migrate must have condition service_completed_successfully (got %+v)", d))
		}
	}
	if s, ok := svc("migrate"); ok && (len(s.Command) == 0 || s.Command[0] != "migrate") {
		errs = append(errs, fmt.Errorf("service migrate: command must start with the migrate subcommand, got %v", s.Command))
	}
	if s, ok := svc("kafka"); ok {
		for _, k := range []string{"KAFKA_PROCESS_ROLES", "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR", "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR", "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"} {
			if v, ok := s.Environment[k]; !ok || v == nil {
				errs = append(errs, fmt.Errorf("service kafka: %s is not set (single-node KRaft with transactions needs it)", k))
			}
		}
	}
	names := make([]string, 0, len(p.Services))
	for n := range p.Services {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		s := p.Services[n]
		if s.Image == "" || (!strings.Contains(s.Image[strings.LastIndex(s.Image, "/")+1:], ":") && s.Build == nil) {
			errs = append(errs, fmt.Errorf("service %s: image %q is not pinned by tag", n, s.Image))
		}
		if s.Build != nil {
			df := filepath.Join(s.Build.Context, s.Build.Dockerfile)
			if _, err := os.Stat(df); err != nil {
				errs = append(errs, fmt.Errorf("service %s: build.dockerfile %s does not exist: %w", n, df, err))
			}
		}
		for _, v := range s.Volumes {
			if v.Type == types.VolumeTypeBind {
				if _, err := os.Stat(v.Source); err != nil {
					errs = append(errs, fmt.Errorf("service %s: bind mount source %s does not exist: %w", n, v.Source, err))
				}
			}
		}
	}
	// Prometheus scrapes every metrics address.
	if s, ok := svc("prometheus"); ok {
		var cfg []byte
		for _, v := range s.Volumes {
			if v.Target == "/etc/prometheus/prometheus.yml" {
				cfg, _ = os.ReadFile(v.Source)
			}
		}
		if cfg == nil {
			errs = append(errs, fmt.Errorf("service prometheus: no readable config mounted on /etc/prometheus/prometheus.yml"))
		}
		for name, port := range metrics {
			if !strings.Contains(string(cfg), name+":"+port) {
				errs = append(errs, fmt.Errorf("prometheus.yml does not scrape %s:%s", name, port))
			}
		}
	}
	// Grafana gets every variable its provisioning files expect.
	if s, ok := svc("grafana"); ok {
		files, _ := filepath.Glob(filepath.Join(repo, "deploy/grafana/provisioning/*/*.yaml"))
		if len(files) == 0 {
			errs = append(errs, fmt.Errorf("no Grafana provisioning files under deploy/grafana/provisioning"))
		}
		for _, f := range files {
			b, _ := os.ReadFile(f)
			for _, m := range provisioningVar.FindAllStringSubmatch(stripComments(string(b)), -1) {
				if _, ok := s.Environment[m[1]]; !ok {
					errs = append(errs, fmt.Errorf("service grafana: %s is not set but %s reads it", m[1], filepath.Base(f)))
				}
			}
		}
		if v, ok := s.Environment["GF_INSTALL_PLUGINS"]; !ok || v == nil || !strings.Contains(*v, "grafana-clickhouse-datasource") {
			errs = append(errs, fmt.Errorf("service grafana: GF_INSTALL_PLUGINS does not install grafana-clickhouse-datasource"))
		}
	}
	return errs
}

func prefixed(p string, s []string) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[i] = p + v
	}
	return out
}

func TestCompose(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dir, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := loadCompose(ctx, dir, "docker-compose.yml", b)
	if err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	for _, err := range checkCompose(p, filepath.Dir(dir)) {
		t.Errorf("docker-compose.yml: %v", err)
	}
}

// TestComposeCheckFails feeds broken variants of the real compose file and
// expects each problem to be reported.
func TestComposeCheckFails(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dir, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	orig, err := os.ReadFile(filepath.Join(dir, "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, old, new, want string }{
		{"unknown key", "    restart: on-failure\n    depends_on:\n      migrate:", "    restartt: on-failure\n    depends_on:\n      migrate:", "restartt"},
		{"unknown dependency", "      migrate:\n        condition: service_completed_successfully", "      migrat:\n        condition: service_completed_successfully", "migrat"},
		{"migrate not awaited", "condition: service_completed_successfully", "condition: service_started", "service_completed_successfully"},
		{"metrics on loopback", `"--chain", "base", "--rpc-url", "http://chainsim:8545/base", "--from", "2026-01-01", "--follow",
              "--brokers", "kafka:9092", "--metrics-addr", "0.0.0.0:9464"`, `"--chain", "base", "--rpc-url", "http://chainsim:8545/base", "--from", "2026-01-01", "--follow",
              "--brokers", "kafka:9092", "--metrics-addr", "127.0.0.1:9464"`, "ingest-base: no --metrics-addr"},
		{"grafana env missing", "      CLICKHOUSE_DATABASE: liqstream\n", "", "CLICKHOUSE_DATABASE is not set"},
		{"missing Dockerfile", "dockerfile: deploy/docker/chainsim.Dockerfile", "dockerfile: deploy/docker/nope.Dockerfile", "nope.Dockerfile does not exist"},
		{"transactions on one broker", "      KAFKA_TRANSACTION_STATE_LOG_MIN_ISR: \"1\"\n", "", "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(string(orig), tt.old) {
				t.Fatalf("docker-compose.yml no longer contains %q: update this case", tt.old)
			}
			bad := strings.Replace(string(orig), tt.old, tt.new, 1)
			p, err := loadCompose(ctx, dir, "docker-compose.yml", []byte(bad))
			var errs []error
			if err != nil {
				errs = []error{err}
			} else {
				errs = checkCompose(p, filepath.Dir(dir))
			}
			if !strings.Contains(fmt.Sprint(errs), tt.want) {
				t.Fatalf("errors %v, want one mentioning %q", errs, tt.want)
			}
		})
	}
}
