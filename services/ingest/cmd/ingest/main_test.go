package main

import (
	"bytes"
	"log/slog"
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
ingest:
  from: "2026-01-01"
  concurrency: 3
  poll_interval: 1s
  kafka:
    transaction_timeout: 20s
chains:
  polygon:
    rpc_urls: ["${TEST_POLYGON_RPC}"]
    concurrency: 5
    follow: true
  base:
    rpc_urls: [http://127.0.0.1:8545/base]
    kafka: {brokers: [k2:9092]}
`

// TestConfigPrecedence checks defaults < kafka < ingest < chains.<chain> <
// flags, key by key.
func TestConfigPrecedence(t *testing.T) {
	t.Setenv("TEST_POLYGON_RPC", "https://polygon.example.com/v2/KEY")
	path := filepath.Join(t.TempDir(), "liqstream.yaml")
	if err := os.WriteFile(path, []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))

	cfg, code := config([]string{"--config", path, "--chain", "137"}, log)
	if code != -1 {
		t.Fatalf("exit %d: %s", code, logs.String())
	}
	checks := []struct {
		key       string
		got, want any
	}{
		{"chain (from --chain, an id)", cfg.Chain, "polygon"},
		{"rpc_urls (chains.polygon, expanded)", cfg.RPCURLs, []secret.URL{"https://polygon.example.com/v2/KEY"}},
		{"concurrency (chains.polygon over ingest)", cfg.Concurrency, 5},
		{"poll_interval (ingest)", cfg.PollInterval, time.Second},
		{"from (ingest)", cfg.From, "2026-01-01"},
		{"follow (chains.polygon)", cfg.Follow, true},
		{"kafka.brokers (top-level kafka)", cfg.Kafka.Brokers, []string{"k1:9092"}},
		{"kafka.transaction_timeout (ingest.kafka)", cfg.Kafka.TransactionTimeout, 20 * time.Second},
		{"progress_interval (default)", cfg.ProgressInterval, 5 * time.Second},
		{"confirmations (default)", cfg.Confirmations, int64(-1)},
	}
	for _, c := range checks {
		if !equal(c.got, c.want) {
			t.Errorf("%s = %v, want %v", c.key, c.got, c.want)
		}
	}

	// Flags go over the file; flags not given change nothing.
	cfg, code = config([]string{"--config", path, "--chain", "base", "--from", "2026-02-01", "--to", "2026-02-02", "--brokers", "k3:9092,k4:9092",
		"--rpc-url", "http://127.0.0.1:9545/base"}, log)
	if code != -1 {
		t.Fatalf("exit %d: %s", code, logs.String())
	}
	for _, c := range []struct {
		key       string
		got, want any
	}{
		{"from (flag)", cfg.From, "2026-02-01"},
		{"to (flag)", cfg.To, "2026-02-02"},
		{"kafka.brokers (flag over chains.base.kafka)", cfg.Kafka.Brokers, []string{"k3:9092", "k4:9092"}},
		{"rpc_url (flag)", cfg.RPCURL, secret.URL("http://127.0.0.1:9545/base")},
		{"rpc_urls (replaced by --rpc-url)", len(cfg.RPCURLs), 0},
		{"concurrency (ingest; polygon's is not base's)", cfg.Concurrency, 3},
	} {
		if !equal(c.got, c.want) {
			t.Errorf("%s = %v, want %v", c.key, c.got, c.want)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	path := filepath.Join(t.TempDir(), "liqstream.yaml")
	if err := os.WriteFile(path, []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}
	one := filepath.Join(t.TempDir(), "one.yaml")
	if err := os.WriteFile(one, []byte("chains:\n  base: {rpc_urls: [http://127.0.0.1:8545/base], from: \"2026-01-01\"}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want string // in the log; "" for success
	}{
		{"unset variable of the chain", []string{"--config", path, "--chain", "polygon"}, "TEST_POLYGON_RPC is not set"},
		{"another chain needs no variable of polygon", []string{"--config", path, "--chain", "base"}, ""},
		{"chain not in the file", []string{"--config", path, "--chain", "ethereum"}, "chains.ethereum: missing: the file configures polygon, base"},
		{"unknown chain", []string{"--config", path, "--chain", "solana"}, "use one of"},
		{"no --chain with two chains", []string{"--config", path}, "--chain is required"},
		{"no --chain with one chain", []string{"--config", one}, ""},
		{"no file", []string{"--config", filepath.Join(t.TempDir(), "nope.yaml"), "--chain", "base"}, "no such file"},
		{"invalid after flags", []string{"--config", path, "--chain", "base", "--to", "2025-01-01"}, "is not after from"},
		{"bad Kafka TLS flags", []string{"--config", path, "--chain", "base", "--kafka-tls-ca-file", "/nonexistent/ca.pem"}, "ca_file"},
		{"a word, not a flag", []string{"--config", path, "--chain", "base", "follow"}, `did you mean --follow?`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			_, code := config(tt.args, slog.New(slog.NewTextHandler(&logs, nil)))
			if tt.want == "" {
				if code != -1 {
					t.Fatalf("exit %d: %s", code, logs.String())
				}
				return
			}
			if code != 2 || !strings.Contains(logs.String(), tt.want) {
				t.Fatalf("exit %d, log %q; want exit 2 and %q", code, logs.String(), tt.want)
			}
		})
	}
}

func equal(a, b any) bool { return reflect.DeepEqual(a, b) }
