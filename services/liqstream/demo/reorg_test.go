package demo

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/metric/noop"

	"github.com/liqstream/liqstream/services/aggregator/aggregator"
	"github.com/liqstream/liqstream/services/aggregator/migrate"
	"github.com/liqstream/liqstream/services/aggregator/query"
	"github.com/liqstream/liqstream/services/chainsim/sim"
	"github.com/liqstream/liqstream/services/ingest/ingest"
	"github.com/liqstream/liqstream/services/lib/secret"
	"github.com/liqstream/liqstream/services/lib/testsupport"
	"github.com/liqstream/liqstream/services/lib/topics"
)

// TestDeepReorgRollupsEqualTruth follows Ethereum on chainsim, reorgs 150
// blocks (deeper than the 64-block confirmation depth, so ingest has already
// published orphaned events), and requires ClickHouse's daily rollups and
// the window summary to equal the post-reorg ground truth of the ingested
// blocks exactly: the retractions and new revisions ingest publishes reach
// the rollups through the real Kafka broker and the aggregator. The chain
// has bad debt (DeficitCreated) and its oracle answers differently on the
// new branch, so deficits are retracted and events re-priced too.
func TestDeepReorgRollupsEqualTruth(t *testing.T) {
	brokers := testsupport.KafkaBrokers(t)
	chAddr := testsupport.ClickHouseAddr(t)
	seed := testsupport.Seed(t)
	db, conn := testsupport.ClickHouseDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	meter := noop.NewMeterProvider().Meter("test")
	if _, err := migrate.Run(ctx, conn, db, log); err != nil {
		t.Fatal(err)
	}

	const confirmations, depth = 64, 150
	simCfg := sim.Config{Seed: seed, Scale: 1, Chains: []uint64{1}, DeficitShare: 0.3, ReorgPriceShiftBps: 25}
	s, err := sim.New(simCfg)
	if err != nil {
		t.Fatal(err)
	}
	url, err := s.Serve(ctx, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	// Put the head where the published part of the reorged blocks holds
	// the most liquidations, so the reorg orphans published events.
	evs := s.Truth().Events(1)
	best, head := 0, uint64(0)
	for i := range evs {
		j := i
		for j < len(evs) && evs[j].BlockNumber < evs[i].BlockNumber+depth-confirmations {
			j++
		}
		if j-i > best {
			best, head = j-i, evs[i].BlockNumber+depth-1
		}
	}
	s.SetHead(1, head)
	from := head - 3000
	reorgSeed := orphaningReorgSeed(t, simCfg, head, depth, seed)

	prefix := testsupport.UniqueName("reorg") + "."
	icfg := ingest.DefaultConfig()
	icfg.Chain, icfg.RPCURL = "ethereum", secret.URL(url+"/ethereum")
	icfg.From, icfg.Follow = fmt.Sprint(from), true
	icfg.Confirmations, icfg.PollInterval, icfg.LogRange = confirmations, 20*time.Millisecond, 500
	icfg.ProgressInterval = time.Hour
	icfg.Kafka.Brokers, icfg.Kafka.TopicPrefix, icfg.Kafka.Replication = brokers, prefix, -1
	in, err := ingest.New(icfg, log, meter)
	if err != nil {
		t.Fatal(err)
	}
	ictx, stopIngest := context.WithCancel(ctx)
	defer stopIngest()
	ierr := make(chan error, 1)
	go func() { ierr <- in.Run(ictx) }()
	waitFor := func(block uint64) {
		t.Helper()
		testsupport.Eventually(t, 60*time.Second, 10*time.Millisecond, func() bool {
			return in.Progress().Current > block || in.Progress().Err != nil
		}, "ingest did not reach block %d: %+v", block, in.Progress())
		if err := in.Progress().Err; err != nil {
			t.Fatalf("ingest: %v", err)
		}
	}
	waitFor(head - confirmations)

	acfg := aggregator.DefaultConfig()
	acfg.Kafka.Brokers = brokers
	acfg.Kafka.Topic, acfg.Kafka.DLQTopic = prefix+topics.Liquidations, prefix+topics.LiquidationsDLQ
	acfg.Kafka.Group = testsupport.UniqueName("reorg_group")
	acfg.ClickHouse.Addr, acfg.ClickHouse.Database = []string{chAddr}, db
	acfg.MetricsAddr = ""
	agg, err := aggregator.New(acfg, log, meter)
	if err != nil {
		t.Fatal(err)
	}
	actx, stopAgg := context.WithCancel(ctx)
	defer stopAgg()
	aerr := make(chan error, 1)
	go func() { aerr <- agg.Run(actx) }()

	res, err := s.Reorg(1, depth, reorgSeed)
	if err != nil {
		t.Fatal(err)
	}
	end := head + 200
	s.SetHead(1, end)
	waitFor(end - confirmations)
	stopIngest()
	if err := <-ierr; err != nil {
		t.Fatalf("ingest Run: %v", err)
	}
	ingested := in.Progress().Current // every block below it is published

	adm, err := newAdmin(brokers)
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Close()
	testsupport.Eventually(t, 60*time.Second, 100*time.Millisecond, func() bool {
		ok, err := caughtUp(ctx, adm, acfg.Kafka.Topic, acfg.Kafka.Group)
		return err == nil && ok
	}, "aggregator did not commit the whole topic")
	stopAgg()
	if err := <-aerr; err != nil {
		t.Fatalf("aggregator Run: %v", err)
	}

	// The truth of the ingested blocks, after the reorg, per UTC day.
	type dayTruth struct {
		f         Figures
		txs, bors map[string]bool
	}
	want := map[time.Time]*dayTruth{}
	var first, last time.Time
	for _, e := range s.Truth().Events(1) {
		if e.BlockNumber < from || e.BlockNumber >= ingested {
			continue
		}
		d := e.BlockTime.UTC().Truncate(24 * time.Hour)
		w := want[d]
		if w == nil {
			w = &dayTruth{f: Figures{CollateralUSD: new(big.Int), DebtUSD: new(big.Int)}, txs: map[string]bool{}, bors: map[string]bool{}}
			want[d] = w
		}
		w.f.Events++
		w.f.CollateralUSD.Add(w.f.CollateralUSD, e.CollateralUSD)
		w.f.DebtUSD.Add(w.f.DebtUSD, e.DebtUSD)
		w.txs[strings.ToLower(e.TxHash.Hex())] = true
		w.bors[strings.ToLower(e.Borrower.Hex())] = true
		if first.IsZero() || d.Before(first) {
			first = d
		}
		if d.After(last) {
			last = d
		}
	}
	if len(want) == 0 {
		t.Fatal("no truth events in the ingested blocks; the test would prove nothing")
	}
	series, err := query.DailySeries(ctx, conn, first, last.AddDate(0, 0, 1))
	if err != nil {
		t.Fatal(err)
	}
	got := map[time.Time]Figures{}
	for _, p := range series {
		got[p.Day.UTC()] = fromSummary(p.ChainSummary)
	}
	for d, w := range want {
		w.f.Txs, w.f.Borrowers = uint64(len(w.txs)), uint64(len(w.bors))
		if diff := got[d].Diff(w.f); diff != "" {
			t.Errorf("%s: %s", d.Format(time.DateOnly), diff)
		}
	}
	// Bad debt at its highest revision, retractions applied, equals the
	// deficits of the ingested blocks.
	wantBad, wantBadN := new(big.Int), uint64(0)
	for _, d := range s.Truth().Deficits(1) {
		if d.BlockNumber >= from && d.BlockNumber < ingested {
			wantBad.Add(wantBad, d.AmountUSD)
			wantBadN++
		}
	}
	waves, err := query.BadDebtByWave(ctx, conn, []query.Window{{From: first, To: last.AddDate(0, 0, 1)}})
	if err != nil {
		t.Fatal(err)
	}
	gotBad, gotBadN := new(big.Int), uint64(0)
	for _, w := range waves {
		gotBad.Add(gotBad, w.BadDebtUSD)
		gotBadN += w.BadDebtEvents
	}
	if gotBad.Cmp(wantBad) != 0 || gotBadN != wantBadN || wantBadN == 0 {
		t.Errorf("bad debt in ClickHouse: %d records, %s (1e-8 USD); truth: %d records, %s (want equal and > 0)", gotBadN, gotBad, wantBadN, wantBad)
	}
	t.Logf("seed %d: reorg fork %d (%d vanished, %d moved, %d added), %d blocks ingested, %d days and %d deficits compared",
		seed, res.Fork, res.Vanished, res.Moved, res.Added, ingested-from, len(want), wantBadN)
	if res.Vanished+res.Moved == 0 {
		t.Fatalf("the reorg orphaned no published event (%+v); the test would prove nothing", res)
	}
}

// orphaningReorgSeed returns the first reorg seed from seed on whose reorg
// of the depth blocks below head moves or removes a liquidation, tried on
// fresh copies of the simulation. Each liquidation stays in its block with
// probability about 1/2, so over the ~8–24 in the branch about one seed in
// 7,000 orphans none, and the test would prove nothing.
func orphaningReorgSeed(t *testing.T, cfg sim.Config, head, depth uint64, seed int64) int64 {
	t.Helper()
	const tries = 10
	for try := range int64(tries) {
		c, err := sim.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		c.SetHead(1, head)
		res, err := c.Reorg(1, depth, seed+try)
		if err != nil {
			t.Fatal(err)
		}
		if res.Vanished+res.Moved > 0 {
			if try > 0 {
				t.Logf("reorg seed %d (the test seed + %d)", seed+try, try)
			}
			return seed + try
		}
	}
	t.Fatalf("no reorg seed in [%d, %d] moves or removes a liquidation", seed, seed+tries-1)
	return 0
}
