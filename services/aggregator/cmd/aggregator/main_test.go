package main

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/liqstream/liqstream/services/lib/secret"
)

const file = `kafka:
  brokers: [k1:9092]
clickhouse:
  addr: [ch1:9000]
  password: ${TEST_CH_PASSWORD}
ingest:
  from: "2026-01-01"
chains:
  polygon: {rpc_urls: ["${UNSET_FOR_THE_AGGREGATOR}"]}
aggregator:
  kafka:
    group: g1
    instance_id: file-id
  batch: {max_wait: 1s}
  metrics_addr: ""
`

// TestConfigPrecedence checks defaults < kafka, clickhouse < aggregator <
// flags, key by key; the aggregator never reads the chains' variables.
func TestConfigPrecedence(t *testing.T) {
	t.Setenv("TEST_CH_PASSWORD", "pw")
	path := filepath.Join(t.TempDir(), "liqstream.yaml")
	if err := os.WriteFile(path, []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, a, err := config([]string{"--config", path, "--instance-id", "pod-1", "--database", "db2"})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		key       string
		got, want any
	}{
		{"kafka.brokers (kafka)", cfg.Kafka.Brokers, []string{"k1:9092"}},
		{"clickhouse.addr (clickhouse)", cfg.ClickHouse.Addr, []string{"ch1:9000"}},
		{"clickhouse.password (expanded)", cfg.ClickHouse.Password, secret.String("pw")},
		{"clickhouse.database (flag)", cfg.ClickHouse.Database, "db2"},
		{"kafka.group (aggregator)", cfg.Kafka.Group, "g1"},
		{"kafka.instance_id (flag over aggregator)", cfg.Kafka.InstanceID, "pod-1"},
		{"batch.max_wait (aggregator)", cfg.Batch.MaxWait, time.Second},
		{"batch.max_records (default)", cfg.Batch.MaxRecords, 20_000},
		{"metrics_addr (aggregator, empty)", cfg.MetricsAddr, ""},
		{"config path", a.configPath, path},
	} {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %v, want %v", c.key, c.got, c.want)
		}
	}

	// Without a file: defaults and flags.
	cfg, _, err = config([]string{"--brokers", "k5:9092"})
	if err != nil || !reflect.DeepEqual(cfg.Kafka.Brokers, []string{"k5:9092"}) || cfg.Kafka.Group != "liqstream-aggregator" {
		t.Fatalf("no file: %v, %+v", err, cfg.Kafka)
	}
}

func TestConfigErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unset password", []string{"--config", write("a.yaml", file)}, "clickhouse.password: environment variable TEST_CH_PASSWORD is not set"},
		{"clickhouse under aggregator", []string{"--config", write("b.yaml", "aggregator: {clickhouse: {addr: [x:1]}}\n")}, "aggregator.clickhouse: not allowed here"},
		{"consumer key in kafka", []string{"--config", write("c.yaml", "kafka: {group: g}\n")}, "kafka.group: unknown key"},
		{"invalid after flags", []string{"--config", write("d.yaml", "aggregator: {kafka: {group: g}}\n"), "--brokers", "nohost"}, "kafka.brokers"},
		{"old per-service format", []string{"--config", write("e.yaml", "batch: {max_records: 5}\n")}, "batch: unknown section"},
		{"memory limit too small", []string{"--config", write("f.yaml", "aggregator: {memory_limit_mib: 16}\n")}, "memory_limit_mib: 16"},
		{"memory limit negative", []string{"--config", write("g.yaml", "aggregator: {memory_limit_mib: -1}\n")}, "memory_limit_mib: -1"},
		{"a word, not a flag", []string{"migrate"}, `unexpected argument "migrate": did you mean --migrate?`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := config(tt.args)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}
