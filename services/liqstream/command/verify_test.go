package command

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"go.opentelemetry.io/otel/metric/noop"

	"github.com/liqstream/liqstream/services/aggregator/aggregator"
	"github.com/liqstream/liqstream/services/aggregator/store"
	"github.com/liqstream/liqstream/services/chainsim/sim"
	"github.com/liqstream/liqstream/services/lib/testsupport"
	"github.com/liqstream/liqstream/services/liqstream/demo"
)

// loadDemo runs the demo pipeline (chainsim → ingest → kfake → aggregator)
// for Base over [from, to) into a fresh database, dropped unless the test
// fails.
func loadDemo(t *testing.T, addr string, seed int64, from, to time.Time) string {
	t.Helper()
	cfg := demo.DefaultConfig()
	cfg.Seed, cfg.Scale, cfg.From, cfg.To, cfg.Chains, cfg.Windows = seed, 0.2, from, to, []string{"base"}, nil
	cfg.ClickHouseAddr, cfg.Database = addr, testsupport.UniqueName("liqstream_verify_cmd")
	cfg.TopicPrefix, cfg.ProgressEvery, cfg.Timeout = testsupport.UniqueName("verify_cmd")+".", 0, time.Minute
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("kept ClickHouse database %s for inspection", cfg.Database)
			return
		}
		if conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{addr}}); err == nil {
			_ = conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+cfg.Database)
			_ = conn.Close()
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), cfg.Timeout+10*time.Second)
	defer cancel()
	res, err := demo.Run(ctx, cfg, logger(io.Discard, slog.LevelError), noop.NewMeterProvider().Meter("test"), io.Discard)
	if err != nil {
		t.Fatalf("loading with the demo pipeline: %v", err)
	}
	if bad := res.Mismatches(); len(bad) > 0 {
		t.Fatalf("the demo load differs from the truth: %v", bad)
	}
	return cfg.Database
}

func runVerifyCmd(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	code := Main(ctx, Env{Stdout: &out, Stderr: &errOut, Getenv: func(k string) string { return env[k] }, Version: "test"}, append([]string{"verify"}, args...))
	return code, out.String(), errOut.String()
}

const rpcSecret = "SECRETKEY0123456789"

func TestVerifyUsage(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		errText string
	}{
		{"unknown chain", []string{"--chain", "solana", "--from", "1", "--to", "2", "--rpc-url", "http://127.0.0.1:1/x"}, "use one of"},
		{"no rpc", []string{"--chain", "base", "--from", "1", "--to", "2"}, "rpc_url: required"},
		{"bad date", []string{"--chain", "base", "--from", "2026-01-32", "--to", "2026-02-02", "--rpc-url", "http://127.0.0.1:1/x"}, "from:"},
		{"empty range", []string{"--chain", "base", "--from", "100", "--to", "100", "--rpc-url", "http://127.0.0.1:1/x"}, "is empty"},
		{"bad rpc url", []string{"--chain", "base", "--from", "1", "--to", "2", "--rpc-url", "ftp://rpc.example.com/" + rpcSecret}, "rpc_url"},
		{"stray argument", []string{"--chain", "base", "extra"}, "unexpected argument"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runVerifyCmd(t, nil, tt.args...)
			if code != 2 || !strings.Contains(stderr, tt.errText) || strings.Contains(stdout+stderr, rpcSecret) {
				t.Fatalf("exit %d, stderr %q; want exit 2 mentioning %q and no secret", code, stderr, tt.errText)
			}
		})
	}
}

// TestVerifyCommand runs `liqstream verify` against an in-process chainsim
// with an API key in its URL: a database loaded by the pipeline verifies
// equal (exit 0, one line); an empty database reports every event missing
// (exit 1); unreachable endpoints fail with exit 1 and clear messages; no
// output ever holds the key.
func TestVerifyCommand(t *testing.T) {
	addr := testsupport.ClickHouseAddr(t)
	db, _ := testsupport.ClickHouseDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	scfg := store.DefaultConfig()
	scfg.Addr, scfg.Database = []string{addr}, db
	if _, err := aggregator.Migrate(ctx, scfg, logger(&bytes.Buffer{}, 0), false); err != nil {
		t.Fatal(err)
	}
	wf, wt := time.Date(2026, 1, 30, 0, 0, 0, 0, time.UTC), time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	seed := testsupport.Seed(t)
	s, err := sim.New(sim.Config{Seed: seed, Scale: 0.2, From: wf, To: wt, Chains: []uint64{8453}})
	if err != nil {
		t.Fatal(err)
	}
	base, err := s.Serve(ctx, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	n := len(s.Truth().Events(8453))
	rpcURL := base + "/base?apikey=" + rpcSecret
	common := []string{"--chain", "8453", "--from", "2026-01-30", "--to", "2026-02-01", "--clickhouse-addr", addr, "--database", db, "--progress", "10ms"}

	t.Run("loaded database: equal, exit 0", func(t *testing.T) {
		loaded := loadDemo(t, addr, seed, wf, wt)
		args := append(append([]string{}, common...), "--database", loaded, "--rpc-url", rpcURL)
		code, stdout, stderr := runVerifyCmd(t, nil, args...)
		want := fmt.Sprintf("%d events on chain, %d in ClickHouse, 0 differences: base (chain 8453)", n, n)
		if code != 0 || strings.Count(stdout, "\n") != 1 || !strings.HasPrefix(stdout, want) || strings.Contains(stdout+stderr, rpcSecret) {
			t.Fatalf("exit %d (want 0 and one line %q)\nstdout:\n%s\nstderr:\n%s", code, want, stdout, stderr)
		}
	})
	t.Run("empty database: all missing", func(t *testing.T) {
		code, stdout, stderr := runVerifyCmd(t, map[string]string{"LIQSTREAM_RPC_URL": rpcURL}, common...)
		if code != 1 || strings.Count(stdout, "missing ") != n ||
			!strings.Contains(stdout, "events on chain, 0 in ClickHouse") || !strings.Contains(stderr, "verify progress") {
			t.Fatalf("exit %d (want 1, %d missing)\nstdout:\n%s\nstderr:\n%s", code, n, stdout, stderr)
		}
		if strings.Contains(stdout+stderr, rpcSecret) {
			t.Fatalf("output leaks the RPC key:\n%s\n%s", stdout, stderr)
		}
	})
	t.Run("json", func(t *testing.T) {
		code, stdout, stderr := runVerifyCmd(t, nil, append(common, "--json", "-q", "--rpc-url", rpcURL)...)
		var rep struct {
			OK          bool   `json:"ok"`
			ChainEvents int    `json:"chain_events"`
			Summary     string `json:"summary"`
			Differences []struct {
				Kind string `json:"kind"`
			} `json:"differences"`
		}
		if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
			t.Fatalf("stdout is not JSON: %v\n%s", err, stdout)
		}
		if code != 1 || rep.OK || rep.ChainEvents != n || len(rep.Differences) != n || rep.Differences[0].Kind != "missing" || stderr != "" {
			t.Fatalf("exit %d, report %+v, stderr %q", code, rep, stderr)
		}
		if strings.Contains(stdout, rpcSecret) {
			t.Fatal("JSON report leaks the RPC key")
		}
	})
	t.Run("unreachable rpc", func(t *testing.T) {
		code, stdout, stderr := runVerifyCmd(t, nil, append(common, "-q", "--rpc-url", "http://127.0.0.1:1/base?apikey="+rpcSecret)...)
		if code != 1 || !strings.Contains(stderr, "chain RPC failed") || !strings.Contains(stderr, "--rpc-url") || strings.Contains(stdout+stderr, rpcSecret) {
			t.Fatalf("exit %d, stderr %q", code, stderr)
		}
	})
	t.Run("unreachable clickhouse", func(t *testing.T) {
		args := append(append([]string{}, common...), "-q", "--rpc-url", rpcURL, "--clickhouse-addr", "127.0.0.1:1")
		code, _, stderr := runVerifyCmd(t, nil, args...)
		if code != 1 || !strings.Contains(stderr, "ClickHouse failed") || !strings.Contains(stderr, "--clickhouse-addr") {
			t.Fatalf("exit %d, stderr %q", code, stderr)
		}
	})
	t.Run("database without schema", func(t *testing.T) {
		args := append(append([]string{}, common...), "-q", "--rpc-url", rpcURL, "--database", "system")
		code, _, stderr := runVerifyCmd(t, nil, args...)
		if code != 1 || !strings.Contains(stderr, "liqstream migrate") {
			t.Fatalf("exit %d, stderr %q", code, stderr)
		}
	})
	t.Run("range past the head", func(t *testing.T) {
		args := append(append([]string{}, common...), "-q", "--rpc-url", rpcURL, "--to", "2026-03-01")
		code, _, stderr := runVerifyCmd(t, nil, args...)
		if code != 1 || !strings.Contains(stderr, "after the chain head") {
			t.Fatalf("exit %d, stderr %q", code, stderr)
		}
	})
}
