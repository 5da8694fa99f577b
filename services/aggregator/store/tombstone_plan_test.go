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
		// tomb marks an existing tombstone.
		tomb bool
	}
	day := func(t time.Time) int64 { return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC).Unix() }
	for _, tc := range []struct {
		name     string
		existing []rev
		batch    []rev
		// want: "revision@block time" per tombstone, in day order.
		want string
	}{
		{"moved to the next day", []rev{{1, d14, false}}, []rev{{2, d15, false}}, "2@2026-01-14T23:59:00Z"},
		{"both in the batch", nil, []rev{{2, d15, false}, {1, d14, false}}, "2@2026-01-14T23:59:00Z"},
		{"already tombstoned: a replay adds nothing", []rev{{2, d14, true}, {2, d15, false}}, []rev{{2, d15, false}, {1, d14, false}}, ""},
		{"a missing tombstone is written on a replay", []rev{{1, d14, false}, {2, d15, false}}, []rev{{2, d15, false}}, "2@2026-01-14T23:59:00Z"},
		{"reorg back retombstones the other day", []rev{{2, d14, true}, {2, d15, false}}, []rev{{3, d14, false}}, "3@2026-01-15T00:01:00Z"},
		{"winner stored, a lower revision lands on a new day", []rev{{3, d14, false}}, []rev{{2, d16, false}}, "3@2026-01-16T00:01:00Z"},
		{"three days", []rev{{1, d14, false}, {2, d15, false}}, []rev{{3, d16, false}}, "3@2026-01-14T23:59:00Z 3@2026-01-15T00:01:00Z"},
		{"same day: nothing to do", []rev{{1, d14, false}}, []rev{{2, d14.Add(-time.Hour), false}}, ""},
		// A concurrent writer stored revision 4 on the 15th and its
		// tombstone on the 14th; this writer sees the tombstone but not the
		// record yet: it must not tombstone the 15th at 4.
		{"a tombstone's revision is not the winner", []rev{{2, d14, false}, {4, d14, true}, {3, d15, false}}, []rev{{3, d15, false}}, ""},
		{"below a concurrent tombstone", []rev{{2, d14, false}}, []rev{{3, d15, false}}, "3@2026-01-14T23:59:00Z"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			existing := map[string]map[int64]dayTop{"1:0xa:0": {}}
			for _, e := range tc.existing {
				top := existing["1:0xa:0"][day(e.at)]
				if e.revision > top.revision {
					top.revision, top.blockTime = e.revision, e.at
				}
				if !e.tomb {
					top.real = max(top.real, e.revision)
				}
				existing["1:0xa:0"][day(e.at)] = top
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
				if !tb.tombstone || tb.status != "RETRACTED" || tb.ev.GetStatus() != liqstreamv1.Status_STATUS_RETRACTED || !tb.blockTime.Equal(tb.ev.GetBlockTime().AsTime()) {
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
