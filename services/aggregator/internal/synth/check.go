package synth

import (
	"context"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	liqstreamv1 "github.com/liqstream/liqstream/proto/liqstreamv1"
	"github.com/liqstream/liqstream/services/aggregator/query"
)

// FromSummary converts a query result to Totals for comparison.
func FromSummary(s query.ChainSummary) Totals {
	return Totals{Chain: s.Chain, CollateralUSD: s.CollateralUSD, DebtUSD: s.DebtUSD, Events: s.Events, Txs: s.Txs, Borrowers: s.Borrowers}
}

// Compare fails t for every bucket of got that differs from want, is
// missing, or is extra (the first five of each run are printed).
func Compare(t testing.TB, what string, got, want map[Key]Totals) {
	t.Helper()
	if len(want) == 0 {
		t.Fatalf("%s: ground truth is empty; the test is broken", what)
	}
	bad := 0
	for k, w := range want {
		g, ok := got[k]
		switch {
		case !ok:
			if bad++; bad <= 5 {
				t.Errorf("%s %d %s: no row, want %v", what, k.ChainID, k.Start.Format(time.RFC3339), w)
			}
		case !g.Equal(w):
			if bad++; bad <= 5 {
				t.Errorf("%s %d %s: got %v, want %v", what, k.ChainID, k.Start.Format(time.RFC3339), g, w)
			}
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			if bad++; bad <= 5 {
				t.Errorf("%s %d %s: got %v, want no row", what, k.ChainID, k.Start.Format(time.RFC3339), g)
			}
		}
	}
	if bad > 0 {
		t.Errorf("%s: %d of %d buckets wrong", what, bad, len(want))
	}
}

// CompareWindows checks CycleSummary (rollups) and CycleSummaryRaw (raw
// table) over each window against the truth of latest: exact distinct
// counts over the window, not sums of buckets.
func CompareWindows(ctx context.Context, t testing.TB, conn driver.Conn, latest []*liqstreamv1.LiquidationEvent, windows [][2]time.Time) {
	t.Helper()
	for _, w := range windows {
		for name, fn := range map[string]func(context.Context, driver.Conn, time.Time, time.Time) ([]query.ChainSummary, error){
			"CycleSummary": query.CycleSummary, "CycleSummaryRaw": query.CycleSummaryRaw,
		} {
			sums, err := fn(ctx, conn, w[0], w[1])
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			got := map[Key]Totals{}
			for _, s := range sums {
				got[Key{ChainID: s.ChainID}] = FromSummary(s)
			}
			Compare(t, name+" "+w[0].Format(time.RFC3339)+".."+w[1].Format(time.RFC3339), got, Group(latest, w[0], w[1], nil))
		}
	}
}
