package ingest_test

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"google.golang.org/protobuf/proto"

	"github.com/liqstream/liqstream/proto/liqstreamv1"
	"github.com/liqstream/liqstream/services/chainsim/sim"
	"github.com/liqstream/liqstream/services/ingest/ingest"
	"github.com/liqstream/liqstream/services/lib/testsupport"
	"github.com/liqstream/liqstream/services/lib/topics"
	"github.com/liqstream/liqstream/services/lib/usd"
)

// reorgConfirmations is the confirmation depth of the reorg tests:
// chainsim's Ethereum finalized lag.
const reorgConfirmations = 64

// reorgSetup serves chainsim's Ethereum with its head where the last depth
// blocks hold the most liquidations (the published part of them when the
// reorg is deeper than the confirmation depth), and returns an ingest config
// following it on c from 3000 blocks below the head.
func reorgSetup(t *testing.T, c *kfake.Cluster, depth uint64, opts ...func(*sim.Config)) (fixture, ingest.Config, uint64) {
	t.Helper()
	f := startSim(t, 1, "ethereum", 1, opts...)
	evs := f.sim.Truth().Events(1)
	best, head := 0, uint64(0)
	span := depth
	if span > reorgConfirmations {
		span -= reorgConfirmations
	}
	for i := range evs {
		j := i
		for j < len(evs) && evs[j].BlockNumber < evs[i].BlockNumber+span {
			j++
		}
		if j-i > best {
			best, head = j-i, evs[i].BlockNumber+depth-1
		}
	}
	f.sim.SetHead(1, head)
	cfg := f.config(c.ListenAddrs())
	cfg.From, cfg.To, cfg.Follow = fmt.Sprint(head-3000), "", true
	cfg.Confirmations = reorgConfirmations
	cfg.PollInterval = 20 * time.Millisecond
	cfg.LogRange = 500
	return f, cfg, head
}

// runIngest starts in and returns a wait for a block and a stop that
// returns Run's error.
func followIngest(t *testing.T, in *ingest.Ingester) (waitFor func(block uint64), stop func() error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	errc := make(chan error, 1)
	go func() { errc <- in.Run(ctx) }()
	waitFor = func(block uint64) {
		t.Helper()
		testsupport.Eventually(t, 30*time.Second, 5*time.Millisecond, func() bool { return in.Progress().Current > block || in.Progress().Err != nil },
			"ingest did not reach block %d: %+v", block, in.Progress())
	}
	return waitFor, func() error { cancel(); return <-errc }
}

func eventID(txHash string, logIndex uint) string {
	return fmt.Sprintf("1:%s:%d", strings.ToLower(txHash), logIndex)
}

// counterSum sums an int64 counter's points whose attribute key is value.
func counterSum(t *testing.T, r *sdkmetric.ManualReader, name, key, value string) int64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if s, ok := m.Data.(metricdata.Sum[int64]); ok && m.Name == name {
				for _, p := range s.DataPoints {
					if v, _ := p.Attributes.Value(attribute.Key(key)); v.AsString() == value {
						n += p.Value
					}
				}
			}
		}
	}
	return n
}

// TestReorg follows Ethereum (confirmations 64) through a reorg shallower
// than the confirmation depth (nothing published is touched) and one deeper
// (ingest published events of orphaned blocks and repairs them). A consumer
// keeping the highest revision per event id and dropping retracted ones,
// reading read_committed, must equal chainsim's post-reorg truth exactly,
// and the retractions must be exactly the published events that left the
// published range. The last case adds DeficitCreated records, which must be
// repaired the same way, and oracle answers that differ on the new branch,
// so events that stayed in their block must be re-priced (the price cache
// is keyed by block number).
func TestReorg(t *testing.T) {
	for _, tc := range []struct {
		name  string
		depth uint64
		sim   func(*sim.Config)
	}{
		{"shallow", 30, nil},
		{"deep", 150, nil},
		{"deep with deficits and repricing", 150, func(c *sim.Config) { c.DeficitShare, c.ReorgPriceShiftBps = 0.6, 25 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := startKfake(t)
			var opts []func(*sim.Config)
			if tc.sim != nil {
				opts = append(opts, tc.sim)
			}
			f, cfg, head := reorgSetup(t, c, tc.depth, opts...)
			reader := sdkmetric.NewManualReader()
			mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
			in, err := ingest.New(cfg, testLogger(t), mp.Meter("test"))
			if err != nil {
				t.Fatal(err)
			}
			waitFor, stop := followIngest(t, in)
			waitFor(head - reorgConfirmations)
			before := f.sim.Truth().Events(1)
			beforeDefs := f.sim.Truth().Deficits(1)
			published := in.Progress().Current - 1
			res, err := f.sim.Reorg(1, tc.depth, testsupport.Seed(t))
			if err != nil {
				t.Fatal(err)
			}
			end := head + 200
			f.sim.SetHead(1, end)
			waitFor(end - reorgConfirmations)
			if err := stop(); err != nil {
				t.Fatalf("Run: %v", err)
			}

			latest := map[string]*liqstreamv1.LiquidationEvent{}
			latestDef := map[string]*liqstreamv1.DeficitEvent{}
			retracted := map[string]int{}
			revised, retractedDefs := 0, 0 // records with a revision above 1; deficit retractions
			for _, r := range byRevision(t, testsupport.ReadTopic(t, c.ListenAddrs(), cfg.Kafka.TopicPrefix+topics.Liquidations)) {
				if schemaOf(r) == topics.SchemaDeficitEvent {
					var d liqstreamv1.DeficitEvent
					if err := proto.Unmarshal(r.Value, &d); err != nil {
						t.Fatal(err)
					}
					prev, seen := latestDef[d.EventId]
					if seen && d.Revision != prev.Revision+1 || !seen && d.Status == liqstreamv1.Status_STATUS_RETRACTED {
						t.Fatalf("deficit %s: revision %d status %v after %v", d.EventId, d.Revision, d.Status, prev)
					}
					if d.Status == liqstreamv1.Status_STATUS_RETRACTED {
						retractedDefs++
					}
					latestDef[d.EventId] = &d
					continue
				}
				var ev liqstreamv1.LiquidationEvent
				if err := proto.Unmarshal(r.Value, &ev); err != nil {
					t.Fatal(err)
				}
				if string(r.Key) != string(topics.Key(ev.ChainId, ev.Borrower)) {
					t.Fatalf("key %q for borrower %s", r.Key, ev.Borrower)
				}
				prev, seen := latest[ev.EventId]
				if seen && ev.Revision != prev.Revision+1 {
					t.Fatalf("event %s: revision %d after %d:\n%v\n%v", ev.EventId, ev.Revision, prev.Revision, prev, &ev)
				}
				if ev.Revision > 1 {
					revised++
				}
				if ev.Status == liqstreamv1.Status_STATUS_RETRACTED {
					if !seen || prev.Status != liqstreamv1.Status_STATUS_CONFIRMED {
						t.Fatalf("retraction of event %s, which is not published and confirmed: %v", ev.EventId, prev)
					}
					retracted[ev.EventId]++
				}
				latest[ev.EventId] = &ev
			}
			// The published events of orphaned blocks that are no longer
			// at or below the published block (vanished, or moved above it)
			// must each be retracted once, and nothing else.
			after := map[string]uint64{}
			for _, w := range f.sim.Truth().Events(1) {
				after[eventID(w.TxHash.Hex(), w.LogIndex)] = w.BlockNumber
			}
			gone, movedUp := map[string]bool{}, 0
			for _, w := range before {
				id := eventID(w.TxHash.Hex(), w.LogIndex)
				if w.BlockNumber < res.Fork || w.BlockNumber > published {
					continue
				}
				if n, ok := after[id]; !ok {
					gone[id] = true
				} else if n > published {
					gone[id] = true
					movedUp++
				}
			}
			nret := 0
			for id, n := range retracted {
				nret += n
				if n != 1 || !gone[id] {
					t.Fatalf("event %s retracted %d times; orphaned published events that left the published range: %v", id, n, gone)
				}
			}
			if nret != len(gone) || (tc.depth <= reorgConfirmations && nret != 0) {
				t.Fatalf("%d retractions published, %d published events left the published range (reorg %+v)", nret, len(gone), res)
			}
			if tc.depth > reorgConfirmations && revised == 0 {
				t.Fatalf("deep reorg %+v: no revision above 1 published, but published blocks changed hash", res)
			}
			wantReorgs := int64(0)
			if tc.depth > reorgConfirmations {
				wantReorgs = 1
			}
			if n := counterSum(t, reader, "reorgs_detected", "chain", "ethereum"); n != wantReorgs {
				t.Fatalf("reorgs_detected{chain=ethereum} = %d, want %d", n, wantReorgs)
			}
			if n := counterSum(t, reader, "retractions_published", "chain", "ethereum"); n != int64(nret+retractedDefs) {
				t.Fatalf("retractions_published{chain=ethereum} = %d, want %d (%d liquidations, %d deficits)", n, nret+retractedDefs, nret, retractedDefs)
			}
			last := in.Progress().Current - 1
			want := map[string]bool{}
			for _, w := range f.sim.Truth().Events(1) {
				if w.BlockNumber < head-3000 || w.BlockNumber > last {
					continue
				}
				id := eventID(w.TxHash.Hex(), w.LogIndex)
				want[id] = true
				ev := latest[id]
				if ev == nil || ev.Status != liqstreamv1.Status_STATUS_CONFIRMED {
					t.Fatalf("event %s (block %d) missing or retracted: %v", id, w.BlockNumber, ev)
				}
				if ev.BlockNumber != w.BlockNumber || ev.BlockHash != strings.ToLower(w.BlockHash.Hex()) ||
					ev.DebtUsd != usd.Format(w.DebtUSD) || ev.CollateralUsd != usd.Format(w.CollateralUSD) || ev.BonusUsd != usd.Format(w.BonusUSD) {
					t.Fatalf("event %s differs from truth:\n got %v\nwant %+v", id, ev, w)
				}
			}
			for id, ev := range latest {
				if ev.Status == liqstreamv1.Status_STATUS_CONFIRMED && !want[id] {
					t.Fatalf("event %s (block %d) is not in the truth", id, ev.BlockNumber)
				}
			}
			wantDef := map[string]bool{}
			for _, d := range f.sim.Truth().Deficits(1) {
				if d.BlockNumber < head-3000 || d.BlockNumber > last {
					continue
				}
				id := eventID(d.TxHash.Hex(), d.LogIndex)
				wantDef[id] = true
				got := latestDef[id]
				if got == nil || got.Status != liqstreamv1.Status_STATUS_CONFIRMED || got.BlockNumber != d.BlockNumber ||
					got.AmountUsd != usd.Format(d.AmountUSD) || got.LiquidationEventId != eventID(d.TxHash.Hex(), d.LiquidationLogIndex) {
					t.Fatalf("deficit %s (block %d, %s USD) missing, retracted or different: %v", id, d.BlockNumber, usd.Format(d.AmountUSD), got)
				}
			}
			for id, d := range latestDef {
				if d.Status == liqstreamv1.Status_STATUS_CONFIRMED && !wantDef[id] {
					t.Fatalf("deficit %s (block %d) is not in the truth", id, d.BlockNumber)
				}
			}
			// Published deficits that left the published range are retracted
			// once each, like the events.
			afterDefs := map[string]uint64{}
			for _, d := range f.sim.Truth().Deficits(1) {
				afterDefs[eventID(d.TxHash.Hex(), d.LogIndex)] = d.BlockNumber
			}
			goneDefs := 0
			for _, d := range beforeDefs {
				if d.BlockNumber < res.Fork || d.BlockNumber > published {
					continue
				}
				if n, ok := afterDefs[eventID(d.TxHash.Hex(), d.LogIndex)]; !ok || n > published {
					goneDefs++
				}
			}
			if retractedDefs != goneDefs {
				t.Fatalf("reorg %+v: %d deficit retractions, %d published deficits left the published range", res, retractedDefs, goneDefs)
			}
			if tc.sim != nil && len(wantDef) == 0 {
				t.Fatalf("reorg %+v: no deficits in the truth of the ingested blocks; the case would prove nothing", res)
			}
			t.Logf("reorg %+v: %d canonical events and %d deficits equal the truth; %d records above revision 1, %d retractions (%d moved above block %d), %d deficit retractions",
				res, len(want), len(wantDef), revised, nret, movedUp, published, retractedDefs)
		})
	}
}

// TestReorgTooDeepAfterRestart: ingest stops, the chain reorganises below
// its checkpoint, and a new process (with no memory of what it published)
// fails with ReorgTooDeepError naming the chain and the block, publishing
// nothing.
func TestReorgTooDeepAfterRestart(t *testing.T) {
	c := startKfake(t)
	f, cfg, head := reorgSetup(t, c, 150)
	in, err := ingest.New(cfg, testLogger(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	waitFor, stop := followIngest(t, in)
	waitFor(head - reorgConfirmations)
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	cp := in.Progress().Current - 1
	nrec := len(testsupport.ReadTopic(t, c.ListenAddrs(), cfg.Kafka.TopicPrefix+topics.Liquidations))
	if _, err := f.sim.Reorg(1, 150, testsupport.Seed(t)); err != nil {
		t.Fatal(err)
	}
	f.sim.SetHead(1, head+200)

	in2, err := ingest.New(cfg, testLogger(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = in2.Run(ctx)
	var tooDeep *ingest.ReorgTooDeepError
	if !errors.As(err, &tooDeep) || !errors.Is(err, ingest.ErrReorgTooDeep) {
		t.Fatalf("Run after a reorg below the checkpoint: %v, want a ReorgTooDeepError", err)
	}
	if tooDeep.Chain != "ethereum" || tooDeep.Block != cp {
		t.Fatalf("error names chain %q block %d, want ethereum block %d", tooDeep.Chain, tooDeep.Block, cp)
	}
	for _, s := range []string{"ethereum", fmt.Sprint(cp), "topic_prefix", "confirmations"} {
		if !strings.Contains(err.Error(), s) {
			t.Fatalf("error %q does not mention %q", err, s)
		}
	}
	if n := len(testsupport.ReadTopic(t, c.ListenAddrs(), cfg.Kafka.TopicPrefix+topics.Liquidations)); n != nrec {
		t.Fatalf("%d records after the failed run, %d before", n, nrec)
	}
}

// schemaOf returns a record's schema header.
func schemaOf(r *kgo.Record) string {
	for _, h := range r.Headers {
		if h.Key == topics.HeaderSchema {
			return string(h.Value)
		}
	}
	return ""
}

// byRevision orders records by their event's revision, keeping the topic's
// order among equal revisions. An event's revisions share a partition only
// while its key (chain, borrower) stays the same: a reorg that re-includes
// a transaction can put another borrower's liquidation at a log index, and
// records of different partitions come back in no set order. The checks
// above read each event's revisions in revision order.
func byRevision(t *testing.T, recs []*kgo.Record) []*kgo.Record {
	t.Helper()
	rev := make(map[*kgo.Record]uint64, len(recs))
	for _, r := range recs {
		if schemaOf(r) == topics.SchemaDeficitEvent {
			var d liqstreamv1.DeficitEvent
			if err := proto.Unmarshal(r.Value, &d); err != nil {
				t.Fatal(err)
			}
			rev[r] = d.Revision
			continue
		}
		var ev liqstreamv1.LiquidationEvent
		if err := proto.Unmarshal(r.Value, &ev); err != nil {
			t.Fatal(err)
		}
		rev[r] = ev.Revision
	}
	out := slices.Clone(recs)
	slices.SortStableFunc(out, func(a, b *kgo.Record) int { return cmp.Compare(rev[a], rev[b]) })
	return out
}
