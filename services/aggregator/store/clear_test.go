package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	liqstreamv1 "github.com/liqstream/liqstream/proto/liqstreamv1"
	"github.com/liqstream/liqstream/services/aggregator/internal/synth"
	"github.com/liqstream/liqstream/services/lib/testsupport"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// TestEmptiedKeysReadZeroAndKeptKeysAreWrittenOnce moves one event of a
// bucket to another hour, another asset pair and another liquidator (a
// revision), and checks for each rollup with a key finer than the bucket
// that the key it left reads as zero (the clear half) while every key that
// still has events holds its data, and that a recomputation writes each key
// exactly once: the clear half skips the keys the data half rewrote.
func TestEmptiedKeysReadZeroAndKeptKeysAreWrittenOnce(t *testing.T) {
	s, conn := newStore(t)
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	g := synth.New(testsupport.Seed(t))
	day := time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC)
	evs := g.Events(40, day.Add(2*time.Hour), 3*time.Hour) // hours 02..04
	moved := proto.Clone(evs[0]).(*liqstreamv1.LiquidationEvent)
	// The moved event gets keys no other event has.
	moved.BlockTime = timestamppb.New(day.Add(20 * time.Hour))
	moved.CollateralAsset.Address = "0x00000000000000000000000000000000000000c0"
	moved.DebtAsset.Address = "0x00000000000000000000000000000000000000d0"
	moved.Liquidator = "0x00000000000000000000000000000000000000a0"
	if err := s.WriteBatch(ctx, rows(t, []*liqstreamv1.LiquidationEvent{moved}, 0)); err != nil {
		t.Fatalf("first WriteBatch: %v", err)
	}
	// Revision 2 moves it back among the others: its hour, pair and
	// liquidator empty out.
	back := g.Revise(evs[0])
	back.BlockTime = evs[0].GetBlockTime()
	if err := s.WriteBatch(ctx, rows(t, append(evs[1:], back), 1)); err != nil {
		t.Fatalf("second WriteBatch: %v", err)
	}

	cases := []struct {
		table, key, left string
	}{
		{"liquidations_hourly", "toString(hour)", "2026-03-10 20:00:00"},
		{"liquidations_pair_daily", "concat(collateral_token, '/', debt_token)",
			"0x00000000000000000000000000000000000000c0/0x00000000000000000000000000000000000000d0"},
		{"liquidations_liquidator_daily", "liquidator", "0x00000000000000000000000000000000000000a0"},
	}
	for _, c := range cases {
		t.Run(c.table, func(t *testing.T) {
			var n, keys, emptied uint64
			q := fmt.Sprintf(`SELECT sum(events), count(), countIf(events = 0 AND k = @left) FROM (
				SELECT %s AS k, events FROM %s FINAL)`, c.key, c.table)
			if err := conn.QueryRow(ctx, q, namedLeft(c.left)...).Scan(&n, &keys, &emptied); err != nil {
				t.Fatal(err)
			}
			if n != 40 || emptied != 1 {
				t.Errorf("%s FINAL: %d events over %d keys, emptied key %q read as zero %d times; want 40 events and the emptied key at zero once",
					c.table, n, keys, c.left, emptied)
			}
			// Rows per key and version: the second recomputation wrote one
			// row per key (a data row, or a zero row for the emptied key).
			var dup uint64
			q = fmt.Sprintf(`SELECT count() FROM (
				SELECT chain_id, %s AS k, intDiv(version, 2) AS run, count() AS c FROM %s GROUP BY chain_id, k, run HAVING c > 1)`, c.key, c.table)
			if err := conn.QueryRow(ctx, q).Scan(&dup); err != nil {
				t.Fatal(err)
			}
			if dup != 0 {
				t.Errorf("%s: %d keys were written twice by one recomputation (a clear row beside a data row)", c.table, dup)
			}
		})
	}
}

func namedLeft(v string) []any { return []any{clickhouse.Named("left", v)} }
