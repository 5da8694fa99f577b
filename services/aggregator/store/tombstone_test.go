package store_test

import (
	"context"
	"math/big"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	liqstreamv1 "github.com/liqstream/liqstream/proto/liqstreamv1"
	"github.com/liqstream/liqstream/services/aggregator/internal/synth"
	"github.com/liqstream/liqstream/services/aggregator/query"
	"github.com/liqstream/liqstream/services/aggregator/store"
	"github.com/liqstream/liqstream/services/lib/testsupport"
	"github.com/liqstream/liqstream/services/lib/usd"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// at returns a copy of ev with block time t.
func at(ev *liqstreamv1.LiquidationEvent, t time.Time) *liqstreamv1.LiquidationEvent {
	ev.BlockTime = timestamppb.New(t)
	return ev
}

// TestRevisionMovedToAnotherDayCountsOnce writes revisions of one event that
// a reorg moved across midnight UTC (and across a month boundary), in the
// orders a replaying consumer produces, and checks that every rollup, window
// and series counts the event exactly once, with the highest revision's
// values, on the highest revision's day.
func TestRevisionMovedToAnotherDayCountsOnce(t *testing.T) {
	seed := testsupport.Seed(t)
	g := synth.New(seed)
	for _, tc := range []struct {
		name string
		// times of revisions 1, 2, ... (revision k+1 is Revise of k).
		times []time.Time
		// retract makes the last revision a retraction of the one before.
		retract bool
		// batches lists the revisions (1-based) each write holds.
		batches [][]int
		// split writes every batch with Insert into one Unsettled and settles
		// once at the end.
		split bool
	}{
		{name: "next day", times: []time.Time{utc(2026, 1, 14, 23, 59), utc(2026, 1, 15, 0, 1)}, batches: [][]int{{1}, {2}}},
		{name: "next month", times: []time.Time{utc(2026, 1, 31, 23, 59), utc(2026, 2, 1, 0, 1)}, batches: [][]int{{1}, {2}}},
		{name: "previous day", times: []time.Time{utc(2026, 1, 15, 0, 1), utc(2026, 1, 14, 23, 59)}, batches: [][]int{{1}, {2}}},
		{name: "lower revision replayed after the higher", times: []time.Time{utc(2026, 1, 31, 23, 59), utc(2026, 2, 1, 0, 1)}, batches: [][]int{{1}, {2}, {1}, {1, 2}, {2, 1}}},
		{name: "duplicate of rev 1 after rev 2 in one batch", times: []time.Time{utc(2026, 1, 14, 23, 59), utc(2026, 1, 15, 0, 1)}, batches: [][]int{{1, 2, 1}, {1}}},
		{name: "both revisions in one batch, higher first", times: []time.Time{utc(2026, 1, 14, 23, 59), utc(2026, 1, 15, 0, 1)}, batches: [][]int{{2, 1}}},
		{name: "reorg back to the first day", times: []time.Time{utc(2026, 1, 31, 23, 59), utc(2026, 2, 1, 0, 1), utc(2026, 1, 31, 23, 58)}, batches: [][]int{{1}, {2}, {3}, {1, 2}, {2}}},
		{name: "three days", times: []time.Time{utc(2026, 1, 14, 23, 59), utc(2026, 1, 15, 23, 59), utc(2026, 1, 16, 0, 1)}, batches: [][]int{{1}, {2}, {1}, {3}, {2}}},
		{name: "moved then retracted", times: []time.Time{utc(2026, 1, 31, 23, 59), utc(2026, 2, 1, 0, 1), utc(2026, 2, 1, 0, 1)}, retract: true, batches: [][]int{{1}, {2}, {3}, {1}}},
		{name: "insert and settle split", times: []time.Time{utc(2026, 1, 31, 23, 59), utc(2026, 2, 1, 0, 1)}, batches: [][]int{{1}, {2}, {1}}, split: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, conn := newStore(t)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			// A bystander event on another day keeps the ground truth
			// non-empty when the event ends retracted (and in check's inner window).
			bystander := at(g.Events(1, utc(2026, 1, 13, 12, 0), time.Second)[0], utc(2026, 1, 13, 12, 0))
			if err := s.WriteBatch(ctx, rows(t, []*liqstreamv1.LiquidationEvent{bystander}, 1000)); err != nil {
				t.Fatalf("writing the bystander: %v", err)
			}
			revs := []*liqstreamv1.LiquidationEvent{at(g.Events(1, tc.times[0], time.Second)[0], tc.times[0])}
			for i, bt := range tc.times[1:] {
				var next *liqstreamv1.LiquidationEvent
				if tc.retract && i == len(tc.times)-2 {
					next = synth.Retract(revs[i])
				} else {
					next = g.Revise(revs[i])
				}
				revs = append(revs, at(next, bt))
			}
			written := []*liqstreamv1.LiquidationEvent{bystander}
			var u store.Unsettled
			for bi, b := range tc.batches {
				var evs []*liqstreamv1.LiquidationEvent
				for _, k := range b {
					evs = append(evs, revs[k-1])
				}
				written = append(written, evs...)
				rs := rows(t, evs, int64(bi*10))
				var err error
				if tc.split {
					err = s.Insert(ctx, rs, &u)
				} else {
					err = s.WriteBatch(ctx, rs)
				}
				if err != nil {
					t.Fatalf("batch %d %v: %v", bi, b, err)
				}
			}
			if tc.split {
				if err := s.Settle(ctx, &u); err != nil {
					t.Fatalf("Settle: %v", err)
				}
			}

			from, to := utc(2026, 1, 10, 0, 0), utc(2026, 2, 5, 0, 0)
			last := revs[len(revs)-1]
			wantEvents := uint64(2)
			wantColl := new(big.Int).Add(parseUSD(t, bystander.GetCollateralUsd()), parseUSD(t, last.GetCollateralUsd()))
			if last.GetStatus() == liqstreamv1.Status_STATUS_RETRACTED {
				wantEvents, wantColl = 1, parseUSD(t, bystander.GetCollateralUsd())
			}
			for name, fn := range map[string]func(context.Context, driver.Conn, time.Time, time.Time) ([]query.ChainSummary, error){
				"CycleSummary": query.CycleSummary, "CycleSummaryRaw": query.CycleSummaryRaw,
			} {
				sums, err := fn(ctx, conn, from, to)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				var events uint64
				coll := new(big.Int)
				for _, sm := range sums {
					events += sm.Events
					coll.Add(coll, sm.CollateralUSD)
				}
				if events != wantEvents || coll.Cmp(wantColl) != 0 {
					t.Errorf("%s: %d events, collateral %s; want %d, %s (revision %d's values)",
						name, events, usd.Format(coll), wantEvents, usd.Format(wantColl), last.GetRevision())
				}
			}
			// Every rollup, series and window against the ground truth.
			check(ctx, t, conn, written, from, to)

			// FINAL holds one row per day the event visited, and at most
			// one of them is confirmed.
			var keys, confirmed uint64
			if err := conn.QueryRow(ctx, `SELECT count(), countIf(status = 'CONFIRMED') FROM liquidations FINAL WHERE event_id = @id`,
				clickhouse.Named("id", last.GetEventId())).Scan(&keys, &confirmed); err != nil {
				t.Fatal(err)
			}
			if confirmed != wantEvents-1 {
				t.Errorf("liquidations FINAL: %d confirmed rows of the event, want %d", confirmed, wantEvents-1)
			}
			t.Logf("event kept on %d day keys, %d confirmed", keys, confirmed)
		})
	}
}

func utc(y int, m time.Month, d, h, min int) time.Time {
	return time.Date(y, m, d, h, min, 0, 0, time.UTC)
}

// parseUSD reads an event's USD value; empty (unpriced) stores as 0.
func parseUSD(t *testing.T, s string) *big.Int {
	t.Helper()
	if s == "" {
		return new(big.Int)
	}
	v, err := usd.Parse(s)
	if err != nil {
		t.Fatalf("usd.Parse(%q): %v", s, err)
	}
	return v
}
