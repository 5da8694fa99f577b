package ingest_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"google.golang.org/protobuf/proto"

	"github.com/liqstream/liqstream/proto/liqstreamv1"
	"github.com/liqstream/liqstream/services/ingest/ingest"
	"github.com/liqstream/liqstream/services/lib/testsupport"
	"github.com/liqstream/liqstream/services/lib/topics"
	"github.com/liqstream/liqstream/services/lib/usd"
)

// TestReorg follows Ethereum (confirmations 64, chainsim's finalized lag)
// through a reorg shallower than the confirmation depth. (Deeper reorgs are
// not repaired yet: see README, "Reorgs and finality".) A
// consumer keeping the highest revision per event id and dropping retracted
// ones must equal chainsim's post-reorg truth exactly.
func TestReorg(t *testing.T) {
	for _, tc := range []struct {
		name  string
		depth uint64
	}{
		{"shallow", 30},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := kfake.NewCluster(kfake.NumBrokers(1))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(c.Close)
			f := startSim(t, 1, "ethereum", 1)
			// A head whose last depth blocks hold the most liquidations.
			evs := f.sim.Truth().Events(1)
			best, head := 0, uint64(0)
			span := tc.depth // the published part of the reorged blocks when deep
			if span > 64 {
				span -= 64
			}
			for i := range evs {
				j := i
				for j < len(evs) && evs[j].BlockNumber < evs[i].BlockNumber+span {
					j++
				}
				if j-i > best {
					best, head = j-i, evs[i].BlockNumber+tc.depth-1
				}
			}
			f.sim.SetHead(1, head)
			cfg := f.config(c.ListenAddrs())
			cfg.From, cfg.To, cfg.Follow = fmt.Sprint(head-3000), "", true
			cfg.Confirmations = 64
			cfg.PollInterval = 20 * time.Millisecond
			cfg.LogRange = 500
			in, err := ingest.New(cfg, testLogger(t), nil)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			errc := make(chan error, 1)
			go func() { errc <- in.Run(ctx) }()
			waitFor := func(block uint64) {
				t.Helper()
				testsupport.Eventually(t, 30*time.Second, 5*time.Millisecond, func() bool { return in.Progress().Current > block || in.Progress().Err != nil },
					"ingest did not reach block %d: %+v", block, in.Progress())
			}
			waitFor(head - 64)
			before := f.sim.Truth().Events(1)
			published := in.Progress().Current - 1
			res, err := f.sim.Reorg(1, tc.depth, testsupport.Seed(t))
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("reorg %+v over a window with %d liquidations", res, best)
			end := head + 200
			f.sim.SetHead(1, end)
			waitFor(end - 64)
			cancel()
			if err := <-errc; err != nil {
				t.Fatalf("Run: %v", err)
			}

			latest := map[string]*liqstreamv1.LiquidationEvent{}
			retractions := 0
			for _, r := range consume(t, c.ListenAddrs(), cfg.Kafka.TopicPrefix+topics.Liquidations) {
				var ev liqstreamv1.LiquidationEvent
				if err := proto.Unmarshal(r.Value, &ev); err != nil {
					t.Fatal(err)
				}
				if string(r.Key) != string(topics.Key(ev.ChainId, ev.Borrower)) {
					t.Fatalf("key %q for borrower %s", r.Key, ev.Borrower)
				}
				if ev.Status == liqstreamv1.Status_STATUS_RETRACTED {
					retractions++
				}
				if prev, ok := latest[ev.EventId]; ok && prev.Revision >= ev.Revision {
					t.Fatalf("event %s: revision %d after %d:\n%v\n%v", ev.EventId, ev.Revision, prev.Revision, prev, &ev)
				}
				latest[ev.EventId] = &ev
			}
			// Published events the reorg removed must be retracted; a
			// reorg within the confirmation depth retracts nothing.
			after := map[string]bool{}
			for _, w := range f.sim.Truth().Events(1) {
				after[fmt.Sprintf("%s:%d", w.TxHash.Hex(), w.LogIndex)] = true
			}
			gone := 0
			for _, w := range before {
				if w.BlockNumber >= res.Fork && w.BlockNumber <= published && !after[fmt.Sprintf("%s:%d", w.TxHash.Hex(), w.LogIndex)] {
					gone++
				}
			}
			if retractions < gone || (tc.depth <= 64 && retractions != 0) {
				t.Fatalf("%d retractions published, %d published events vanished (reorg %+v)", retractions, gone, res)
			}
			last := in.Progress().Current - 1
			want := map[string]bool{}
			for _, w := range f.sim.Truth().Events(1) {
				if w.BlockNumber < head-3000 || w.BlockNumber > last {
					continue
				}
				id := fmt.Sprintf("1:%s:%d", strings.ToLower(w.TxHash.Hex()), w.LogIndex)
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
			t.Logf("%d canonical events equal the truth; %d retractions, %d published events vanished", len(want), retractions, gone)
		})
	}
}
