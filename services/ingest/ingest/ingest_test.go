package ingest_test

import (
	"context"
	"log/slog"
	"math/big"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"

	"github.com/liqstream/liqstream/proto/liqstreamv1"
	"github.com/liqstream/liqstream/services/chainsim/sim"
	"github.com/liqstream/liqstream/services/ingest/ingest"
	"github.com/liqstream/liqstream/services/lib/secret"
	"github.com/liqstream/liqstream/services/lib/testsupport"
	"github.com/liqstream/liqstream/services/lib/topics"
	"github.com/liqstream/liqstream/services/lib/usd"
)

// Isolation on a shared broker: every test sets kafka.topic_prefix to a
// unique name, so its liquidations, DLQ and checkpoint topics are its own.

type fixture struct {
	sim     *sim.Sim
	rpcURL  string
	chainID uint64
	slug    string
}

// startSim serves an in-process chainsim for one chain on 127.0.0.1.
// startKfake starts an in-process one-broker kfake cluster, closed with t.
func startKfake(t testing.TB) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// startSim serves a chainsim of one chain; opts adjust its config.
func startSim(t testing.TB, chainID uint64, slug string, scale float64, opts ...func(*sim.Config)) fixture {
	t.Helper()
	cfg := sim.Config{Seed: testsupport.Seed(t), Scale: scale, Chains: []uint64{chainID}}
	for _, o := range opts {
		o(&cfg)
	}
	s, err := sim.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	base, err := s.Serve(ctx, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return fixture{sim: s, rpcURL: base + "/" + slug, chainID: chainID, slug: slug}
}

func (f fixture) config(brokers []string) ingest.Config {
	cfg := ingest.DefaultConfig()
	cfg.Chain = f.slug
	cfg.RPCURL = secret.URL(f.rpcURL)
	cfg.From, cfg.To = "2026-01-01", "2026-03-01"
	cfg.Kafka.Brokers = brokers
	cfg.Kafka.TopicPrefix = testsupport.UniqueName("ingest_test") + "."
	cfg.ProgressInterval = time.Second
	cfg.Concurrency = 4
	return cfg
}

func testLogger(t testing.TB) *slog.Logger {
	t.Helper()
	if os.Getenv("LIQSTREAM_TEST_VERBOSE") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return slog.New(slog.DiscardHandler)
}

// checkAgainstTruth asserts the events are exactly chainsim's truth: same ids,
// fields and USD sums. Duplicates (same event id) are allowed.
func checkAgainstTruth(t testing.TB, f fixture, recs []*kgo.Record) {
	t.Helper()
	truth := f.sim.Truth().Events(f.chainID)
	if len(truth) == 0 {
		t.Fatal("chainsim truth has no events")
	}
	got := map[string]*liqstreamv1.LiquidationEvent{}
	for _, r := range recs {
		var ev liqstreamv1.LiquidationEvent
		if err := proto.Unmarshal(r.Value, &ev); err != nil {
			t.Fatalf("offset %d: %v", r.Offset, err)
		}
		if string(r.Key) != string(topics.Key(ev.ChainId, ev.Borrower)) {
			t.Fatalf("key %q for borrower %s", r.Key, ev.Borrower)
		}
		got[ev.EventId] = &ev
	}
	debt, coll := new(big.Int), new(big.Int)
	for _, w := range truth {
		id := strings.Join([]string{big.NewInt(int64(f.chainID)).String(), strings.ToLower(w.TxHash.Hex()), big.NewInt(int64(w.LogIndex)).String()}, ":")
		ev, ok := got[id]
		if !ok {
			t.Fatalf("event %s (block %d) missing", id, w.BlockNumber)
		}
		if ev.Borrower != strings.ToLower(w.Borrower.Hex()) || ev.DebtToCover != w.DebtToCover.String() ||
			ev.LiquidatedCollateralAmount != w.LiquidatedCollateralAmount.String() || ev.BlockNumber != w.BlockNumber ||
			ev.DebtUsd != usd.Format(w.DebtUSD) || ev.CollateralUsd != usd.Format(w.CollateralUSD) ||
			ev.CollateralAsset.Symbol != w.CollateralSymbol || ev.DebtAsset.Decimals != uint32(w.DebtDecimals) ||
			!ev.BlockTime.AsTime().Equal(w.BlockTime) || ev.Status != liqstreamv1.Status_STATUS_CONFIRMED {
			t.Fatalf("event %s differs from truth:\n got %v\nwant %+v", id, ev, w)
		}
		d, _ := usd.Parse(ev.DebtUsd)
		c, _ := usd.Parse(ev.CollateralUsd)
		debt.Add(debt, d)
		coll.Add(coll, c)
	}
	if len(got) != len(truth) {
		t.Fatalf("%d distinct events, truth has %d", len(got), len(truth))
	}
	win := f.sim.Truth().Window(f.chainID, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))
	if debt.Cmp(win.DebtUSD) != 0 || coll.Cmp(win.CollateralUSD) != 0 {
		t.Fatalf("USD sums debt %s coll %s, truth %s %s", usd.Format(debt), usd.Format(coll), usd.Format(win.DebtUSD), usd.Format(win.CollateralUSD))
	}
	t.Logf("%d events match truth; debt $%s, collateral $%s", len(truth), usd.Format(debt), usd.Format(coll))
}

func runIngest(t testing.TB, cfg ingest.Config, timeout time.Duration) *ingest.Ingester {
	t.Helper()
	in, err := ingest.New(cfg, testLogger(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	start := time.Now()
	if err := in.Run(ctx); err != nil {
		t.Fatalf("Run: %v", err)
	}
	p := in.Progress()
	if !p.Done {
		t.Fatalf("Run returned before done: %+v", p)
	}
	t.Logf("backfilled %s blocks [%d,%d): %d events, %d dead letters in %s", p.Chain, p.From, p.To, p.EventsPublished, p.DeadLetters, time.Since(start).Round(time.Millisecond))
	return in
}

// TestBackfillKfake runs a whole backfill against an in-process kfake
// cluster: always on, no external services.
func TestBackfillKfake(t *testing.T) {
	c := startKfake(t)
	f := startSim(t, 137, "polygon", 0.05)
	cfg := f.config(c.ListenAddrs())
	runIngest(t, cfg, 60*time.Second)
	checkAgainstTruth(t, f, testsupport.ReadTopic(t, c.ListenAddrs(), cfg.Kafka.TopicPrefix+topics.Liquidations))
}

// TestBackfillRealKafka backfills Ethereum from chainsim into the real broker
// and checks the events against chainsim truth.
func TestBackfillRealKafka(t *testing.T) {
	brokers := testsupport.KafkaBrokers(t)
	f := startSim(t, 1, "ethereum", 0.05)
	cfg := f.config(brokers)
	cfg.Kafka.Replication = 1
	runIngest(t, cfg, 90*time.Second)
	checkAgainstTruth(t, f, testsupport.ReadTopic(t, brokers, cfg.Kafka.TopicPrefix+topics.Liquidations))
}

// TestRestartResumesWithoutGap cancels a backfill midway, restarts it, and
// finds every truth event in the union (duplicates allowed, no gap).
func TestRestartResumesWithoutGap(t *testing.T) {
	brokers := testsupport.KafkaBrokers(t)
	f := startSim(t, 137, "polygon", 0.05)
	cfg := f.config(brokers)
	cfg.Kafka.Replication = 1
	cfg.LogRange = 20_000 // many small groups, so the cancel lands midway
	cfg.Concurrency = 2

	in, err := ingest.New(cfg, testLogger(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- in.Run(ctx) }()
	testsupport.Eventually(t, 30*time.Second, time.Millisecond, func() bool {
		p := in.Progress()
		return p.To > 0 && p.Current > p.From+(p.To-p.From)/3
	}, "first run made no progress: %+v", in.Progress())
	cancel()
	if err := <-errc; err != nil {
		t.Fatalf("first run: %v", err)
	}
	first := in.Progress()
	if first.Done {
		t.Fatalf("first run finished before the cancel: %+v", first)
	}
	t.Logf("first run stopped at block %d of [%d,%d) after %d events", first.Current, first.From, first.To, first.EventsPublished)

	second := runIngest(t, cfg, 60*time.Second).Progress()
	if second.Current != first.To || second.EventsPublished == 0 {
		t.Fatalf("second run: %+v", second)
	}
	checkAgainstTruth(t, f, testsupport.ReadTopic(t, brokers, cfg.Kafka.TopicPrefix+topics.Liquidations))
}
