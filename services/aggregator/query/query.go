package query

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/liqstream/liqstream/schemas"
	"github.com/liqstream/liqstream/services/lib/usd"
)

// Errors callers can test for with errors.Is.
var (
	// ErrUnaligned means a rollup query got bounds that are not whole UTC
	// hours (CycleSummary) or days (DailySeries); use the Raw variant.
	ErrUnaligned = errors.New("window bounds not aligned to the rollup")
	// ErrWindow means to is not after from.
	ErrWindow = errors.New("empty window")
)

// ChainSummary is one chain's figures over a window: confirmed events at
// their highest revision, retracted ones excluded.
type ChainSummary struct {
	ChainID uint64
	// Chain is the slug, e.g. "ethereum".
	Chain string
	// CollateralUSD is the collateral seized, in 1e-8 USD (unpriced events
	// count as 0).
	CollateralUSD *big.Int
	// DebtUSD is the debt repaid, in 1e-8 USD.
	DebtUSD *big.Int
	// Events counts liquidation events.
	Events uint64
	// Txs counts distinct transactions.
	Txs uint64
	// Borrowers counts distinct liquidated accounts.
	Borrowers uint64
	// CollateralShare, DebtShare and EventsShare are the chain's shares (0..1)
	// of the totals of the chains returned, computed exactly from the sums
	// and rounded once to float64. CycleSummary and CycleSummaryRaw set them;
	// they are zero in a DailyPoint.
	CollateralShare, DebtShare, EventsShare float64
}

// DailyPoint is one chain's figures on one UTC day.
type DailyPoint struct {
	// Day is the UTC midnight starting the day.
	Day time.Time
	ChainSummary
}

// CycleSummary returns per chain totals over [from, to) from the hourly
// rollup; from and to must be whole UTC hours.
func CycleSummary(ctx context.Context, conn driver.Conn, from, to time.Time) ([]ChainSummary, error) {
	if err := window(from, to, time.Hour); err != nil {
		return nil, err
	}
	return summary(ctx, conn, "cycle_summary", from, to)
}

// CycleSummaryRaw is CycleSummary computed from the raw table, for any
// window.
func CycleSummaryRaw(ctx context.Context, conn driver.Conn, from, to time.Time) ([]ChainSummary, error) {
	if err := window(from, to, 0); err != nil {
		return nil, err
	}
	return summary(ctx, conn, "cycle_summary_raw", from, to)
}

// DailySeries returns per chain, per UTC day figures over [from, to) from
// the daily rollup; from and to must be UTC midnights. Days without events
// are absent.
func DailySeries(ctx context.Context, conn driver.Conn, from, to time.Time) ([]DailyPoint, error) {
	if err := window(from, to, 24*time.Hour); err != nil {
		return nil, err
	}
	return series(ctx, conn, "daily_series", from, to)
}

// DailySeriesRaw is DailySeries computed from the raw table, for any window
// (partial first and last days count only the window's part).
func DailySeriesRaw(ctx context.Context, conn driver.Conn, from, to time.Time) ([]DailyPoint, error) {
	if err := window(from, to, 0); err != nil {
		return nil, err
	}
	return series(ctx, conn, "daily_series_raw", from, to)
}

func window(from, to time.Time, align time.Duration) error {
	if !to.After(from) {
		return fmt.Errorf("%w: to %s is not after from %s", ErrWindow, to, from)
	}
	if align > 0 && (!from.UTC().Truncate(align).Equal(from) || !to.UTC().Truncate(align).Equal(to)) {
		return fmt.Errorf("%w: [%s, %s) must start and end on whole %s in UTC", ErrUnaligned, from.UTC(), to.UTC(), align)
	}
	if from.Before(time.Unix(0, 0)) {
		return fmt.Errorf("%w: from %s is before 1970", ErrWindow, from)
	}
	return nil
}

func args(from, to time.Time) []any {
	// UTC and whole seconds so clickhouse-go binds toDateTime('...'), which
	// ClickHouse 18.16 understands (it has no DateTime64).
	return []any{
		clickhouse.Named("from", from.UTC().Truncate(time.Second)),
		clickhouse.Named("to", to.UTC().Truncate(time.Second)),
	}
}

func summary(ctx context.Context, conn driver.Conn, name string, from, to time.Time) ([]ChainSummary, error) {
	sql, err := schemas.Query(name)
	if err != nil {
		return nil, err
	}
	rows, err := conn.Query(ctx, sql, args(from, to)...)
	if err != nil {
		return nil, fmt.Errorf("running %s: %w", name, err)
	}
	defer rows.Close()
	var out []ChainSummary
	for rows.Next() {
		var (
			s          ChainSummary
			coll, debt string
		)
		if err := rows.Scan(&s.ChainID, &s.Chain, &coll, &debt, &s.Events, &s.Txs, &s.Borrowers); err != nil {
			return nil, fmt.Errorf("reading %s: %w", name, err)
		}
		if err := parseUSD(&s, coll, debt); err != nil {
			return nil, fmt.Errorf("reading %s: %w", name, err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	setShares(out)
	return out, nil
}

// setShares fills the share fields of every summary from the totals of all.
func setShares(sums []ChainSummary) {
	coll, debt, events := new(big.Int), new(big.Int), new(big.Int)
	for _, s := range sums {
		coll.Add(coll, s.CollateralUSD)
		debt.Add(debt, s.DebtUSD)
		events.Add(events, new(big.Int).SetUint64(s.Events))
	}
	for i := range sums {
		s := &sums[i]
		s.CollateralShare = ratio(s.CollateralUSD, coll)
		s.DebtShare = ratio(s.DebtUSD, debt)
		s.EventsShare = ratio(new(big.Int).SetUint64(s.Events), events)
	}
}

// ratio returns part/total rounded once to the nearest float64, 0 when
// total is 0.
func ratio(part, total *big.Int) float64 {
	if total.Sign() == 0 {
		return 0
	}
	f, _ := new(big.Rat).SetFrac(part, total).Float64()
	return f
}

func series(ctx context.Context, conn driver.Conn, name string, from, to time.Time) ([]DailyPoint, error) {
	sql, err := schemas.Query(name)
	if err != nil {
		return nil, err
	}
	rows, err := conn.Query(ctx, sql, args(from, to)...)
	if err != nil {
		return nil, fmt.Errorf("running %s: %w", name, err)
	}
	defer rows.Close()
	var out []DailyPoint
	for rows.Next() {
		var (
			p          DailyPoint
			coll, debt string
		)
		if err := rows.Scan(&p.ChainID, &p.Chain, &p.Day, &coll, &debt, &p.Events, &p.Txs, &p.Borrowers); err != nil {
			return nil, fmt.Errorf("reading %s: %w", name, err)
		}
		if err := parseUSD(&p.ChainSummary, coll, debt); err != nil {
			return nil, fmt.Errorf("reading %s: %w", name, err)
		}
		y, m, d := p.Day.Date()
		p.Day = time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	return out, nil
}

func parseUSD(s *ChainSummary, coll, debt string) error {
	var err error
	if s.CollateralUSD, err = usd.Parse(coll); err != nil {
		return fmt.Errorf("collateral_usd of chain %d: %w", s.ChainID, err)
	}
	if s.DebtUSD, err = usd.Parse(debt); err != nil {
		return fmt.Errorf("debt_usd of chain %d: %w", s.ChainID, err)
	}
	return nil
}
