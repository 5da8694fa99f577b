package demo

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/metric/noop"

	"github.com/liqstream/liqstream/services/lib/testsupport"
)

// TestPipelineEqualsGroundTruth runs the whole pipeline — chainsim, five
// ingests, the real Kafka broker, the aggregator, the real ClickHouse — and
// requires ClickHouse's figures to equal chainsim's ground truth exactly per
// chain for the window, per chain and UTC day, and per chain for the wave
// windows (distinct counts over a window, not sums of days).
func TestPipelineEqualsGroundTruth(t *testing.T) {
	brokers := testsupport.KafkaBrokers(t)
	addr := testsupport.ClickHouseAddr(t)
	seed := testsupport.Seed(t)

	cfg := DefaultConfig()
	cfg.Seed = seed
	cfg.Scale = 0.3
	cfg.Brokers = brokers
	cfg.TopicPrefix = testsupport.UniqueName("e2e") + "."
	cfg.ClickHouseAddr = addr
	cfg.Database = testsupport.UniqueName("liqstream_e2e")
	cfg.Timeout = 3 * time.Minute
	cfg.ProgressEvery = 0

	res := runDemo(t, cfg)
	if len(res.Chains) != 5 || len(res.Windows) != 10 {
		t.Fatalf("compared %d chains and %d chain-windows, want 5 and 10", len(res.Chains), len(res.Windows))
	}
	if len(res.Days) != 5*59 {
		t.Fatalf("compared %d chain-days, want %d", len(res.Days), 5*59)
	}
	var events uint64
	for _, c := range res.Chains {
		if c.Truth.Events == 0 {
			t.Fatalf("%s: ground truth has no events; the test would prove nothing", c.Chain)
		}
		events += c.Truth.Events
	}
	if res.Published < events {
		t.Fatalf("published %d events, ground truth has %d", res.Published, events)
	}
	if bad := res.Mismatches(); len(bad) > 0 {
		t.Fatalf("ClickHouse differs from the ground truth in %d places, first: %s", len(bad), strings.Join(bad[:min(10, len(bad))], "\n"))
	}
	var table bytes.Buffer
	if err := res.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	t.Logf("seed %d, %d events, elapsed %s\n%s", seed, events, res.Elapsed, table.String())
}

// TestMismatchIsReported checks the comparison itself can fail: a result
// whose figures differ by one event or one 1e-8 USD is a mismatch.
func TestMismatchIsReported(t *testing.T) {
	f := func(ev uint64, usd int64) Figures {
		return Figures{CollateralUSD: bigInt(usd), DebtUSD: bigInt(usd), Events: ev, Txs: ev, Borrowers: ev}
	}
	tests := []struct {
		name      string
		got, want Figures
		diff      string
	}{
		{"equal", f(3, 100), f(3, 100), ""},
		{"one event", f(3, 100), f(4, 100), "events 3, want 4"},
		{"one unit of USD", f(3, 100), f(3, 101), "collateral USD 0.00000100, want 0.00000101"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := tt.got.Diff(tt.want)
			if (d == "") != (tt.diff == "") || !strings.Contains(d, tt.diff) {
				t.Fatalf("Diff = %q, want it to contain %q", d, tt.diff)
			}
			r := &Result{Chains: []ChainResult{{Chain: "x", Measured: tt.got, Truth: tt.want}}}
			if got := len(r.Mismatches()); got != map[bool]int{true: 0, false: 1}[tt.diff == ""] {
				t.Fatalf("Mismatches = %d", got)
			}
		})
	}
}

func runDemo(t *testing.T, cfg Config) *Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cfg.Timeout+30*time.Second)
	defer cancel()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	res, err := Run(ctx, cfg, log, noop.NewMeterProvider().Meter("test"), io.Discard)
	if err != nil {
		t.Fatalf("demo run: %v", err)
	}
	t.Cleanup(func() { dropDatabase(t, cfg) })
	return res
}
