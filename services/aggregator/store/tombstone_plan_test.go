package store

import (
	"fmt"
	"strings"
	"testing"
	"time"

	liqstreamv1 "github.com/liqstream/liqstream/proto/liqstreamv1"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// TestPlanTombstones checks which days get a tombstone, at which revision
// and block time, from the days the table holds and the batch's rows.
func TestPlanTombstones(t *testing.T) {
	d14, d15, d16 := time.Date(2026, 1, 14, 23, 59, 0, 0, time.UTC), time.Date(2026, 1, 15, 0, 1, 0, 0, time.UTC), time.Date(2026, 1, 16, 0, 1, 0, 0, time.UTC)
	type rev struct {
		revision uint64
		at       time.Time
	}
	day := func(t time.Time) int64 { return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC).Unix() }
	for _, tc := range []struct {
		name     string
		existing []rev
		batch    []rev
		// want: "revision@block time" per tombstone, in day order.
		want string
	}{
		{"moved to the next day", []rev{{1, d14}}, []rev{{2, d15}}, "2@2026-01-14T23:59:00Z"},
		{"both in the batch", nil, []rev{{2, d15}, {1, d14}}, "2@2026-01-14T23:59:00Z"},
		{"already tombstoned: a replay adds nothing", []rev{{2, d14}, {2, d15}}, []rev{{2, d15}, {1, d14}}, ""},
		{"a missing tombstone is written on a replay", []rev{{1, d14}, {2, d15}}, []rev{{2, d15}}, "2@2026-01-14T23:59:00Z"},
		{"reorg back retombstones the other day", []rev{{2, d14}, {2, d15}}, []rev{{3, d14}}, "3@2026-01-15T00:01:00Z"},
		{"winner stored, a lower revision lands on a new day", []rev{{3, d14}}, []rev{{2, d16}}, "3@2026-01-16T00:01:00Z"},
		{"three days", []rev{{1, d14}, {2, d15}}, []rev{{3, d16}}, "3@2026-01-14T23:59:00Z 3@2026-01-15T00:01:00Z"},
		{"same day: nothing to do", []rev{{1, d14}}, []rev{{2, d14.Add(-time.Hour)}}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			existing := map[string]map[int64]dayTop{"1:0xa:0": {}}
			for _, e := range tc.existing {
				existing["1:0xa:0"][day(e.at)] = dayTop{revision: e.revision, blockTime: e.at}
			}
			var rows []*Row
			for _, b := range tc.batch {
				ev := &liqstreamv1.LiquidationEvent{EventId: "1:0xa:0", ChainId: 1, Chain: "ethereum", TxHash: "0xa",
					Revision: b.revision, Status: liqstreamv1.Status_STATUS_CONFIRMED, BlockTime: timestamppb.New(b.at),
					LiquidatedCollateralAmount: "1", DebtToCover: "2", CollateralUsd: "3", DebtUsd: "4"}
				r, err := NewRow(ev, Coordinates{})
				if err != nil {
					t.Fatal(err)
				}
				rows = append(rows, &r)
			}
			var got []string
			for _, tb := range planTombstones(rows, existing) {
				if tb.status != "RETRACTED" || tb.ev.GetStatus() != liqstreamv1.Status_STATUS_RETRACTED || !tb.blockTime.Equal(tb.ev.GetBlockTime().AsTime()) {
					t.Errorf("tombstone %+v is not a consistent RETRACTED row", tb.ev)
				}
				got = append(got, fmt.Sprintf("%d@%s", tb.ev.GetRevision(), tb.blockTime.Format(time.RFC3339)))
			}
			if g := strings.Join(got, " "); g != tc.want {
				t.Errorf("tombstones %q, want %q", g, tc.want)
			}
			for _, r := range rows {
				if r.ev.GetStatus() != liqstreamv1.Status_STATUS_CONFIRMED {
					t.Errorf("planTombstones changed a batch row: %+v", r.ev)
				}
			}
		})
	}
}
