package query

import (
	"context"
	"fmt"
	"math/big"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/liqstream/liqstream/schemas"
	"github.com/liqstream/liqstream/services/lib/usd"
)

// Window is a time range [From, To).
type Window struct {
	From, To time.Time
}

// run runs the named query of schemas/queries and calls scan for each row.
func run(ctx context.Context, conn driver.Conn, name string, args []any, scan func(driver.Rows) error) error {
	sql, err := schemas.Query(name)
	if err != nil {
		return err
	}
	rows, err := conn.Query(ctx, sql, args...)
	if err != nil {
		return fmt.Errorf("running %s: %w", name, err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return fmt.Errorf("reading %s: %w", name, err)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("reading %s: %w", name, err)
	}
	return nil
}

// parseAll parses decimal USD texts into the given destinations.
func parseAll(pairs ...any) error {
	for i := 0; i+1 < len(pairs); i += 2 {
		dst := pairs[i].(**big.Int)
		v, err := usd.Parse(pairs[i+1].(string))
		if err != nil {
			return err
		}
		*dst = v
	}
	return nil
}

func utcDay(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// ---- top liquidators and concentration ----

// LiquidatorFigures is one liquidator's total over a window, all chains.
type LiquidatorFigures struct {
	Liquidator string
	// Chains counts the chains the address liquidated on.
	Chains uint64
	// CollateralUSD, DebtUSD, BonusUSD in 1e-8 USD.
	CollateralUSD, DebtUSD, BonusUSD *big.Int
	Events, Txs, Borrowers           uint64
	// Share is CollateralUSD over the window's total collateral USD.
	Share float64
}

// LiquidatorReport ranks the liquidators of a window by collateral seized
// and measures their concentration.
type LiquidatorReport struct {
	// Top holds the first N liquidators, largest first (ties by address).
	Top []LiquidatorFigures
	// Liquidators counts every liquidator of the window.
	Liquidators int
	// TotalCollateralUSD is the collateral seized by all of them (1e-8 USD).
	TotalCollateralUSD *big.Int
	// TopShare is the share (0..1) of the total seized by Top.
	TopShare float64
	// HHI is the Herfindahl-Hirschman index of the liquidators' collateral
	// shares, Σ share², from 1/Liquidators (even) to 1 (one liquidator);
	// multiply by 10,000 for the antitrust convention. Computed exactly over
	// every liquidator, rounded once.
	HHI float64
}

// TopLiquidators returns the n largest liquidators by collateral seized over
// the UTC days [from, to) (midnights) from the liquidator rollup, with the
// share of the top n and the HHI over all liquidators of the window.
func TopLiquidators(ctx context.Context, conn driver.Conn, from, to time.Time, n int) (LiquidatorReport, error) {
	if err := window(from, to, 24*time.Hour); err != nil {
		return LiquidatorReport{}, err
	}
	if n < 0 {
		return LiquidatorReport{}, fmt.Errorf("%w: top n is %d, want 0 or more", ErrWindow, n)
	}
	var all []LiquidatorFigures
	err := run(ctx, conn, "top_liquidators", args(from, to), func(r driver.Rows) error {
		var (
			l                LiquidatorFigures
			coll, debt, bonu string
		)
		if err := r.Scan(&l.Liquidator, &l.Chains, &coll, &debt, &bonu, &l.Events, &l.Txs, &l.Borrowers); err != nil {
			return err
		}
		if err := parseAll(&l.CollateralUSD, coll, &l.DebtUSD, debt, &l.BonusUSD, bonu); err != nil {
			return fmt.Errorf("liquidator %s: %w", l.Liquidator, err)
		}
		all = append(all, l)
		return nil
	})
	if err != nil {
		return LiquidatorReport{}, err
	}
	return concentration(all, n), nil
}

// concentration builds the report from every liquidator, largest first.
func concentration(all []LiquidatorFigures, n int) LiquidatorReport {
	rep := LiquidatorReport{Liquidators: len(all), TotalCollateralUSD: new(big.Int)}
	for _, l := range all {
		rep.TotalCollateralUSD.Add(rep.TotalCollateralUSD, l.CollateralUSD)
	}
	top := new(big.Int)
	hhiNum := new(big.Int)
	for i := range all {
		all[i].Share = ratio(all[i].CollateralUSD, rep.TotalCollateralUSD)
		sq := new(big.Int).Mul(all[i].CollateralUSD, all[i].CollateralUSD)
		hhiNum.Add(hhiNum, sq)
		if i < n {
			top.Add(top, all[i].CollateralUSD)
		}
	}
	rep.Top = all[:min(n, len(all))]
	rep.TopShare = ratio(top, rep.TotalCollateralUSD)
	rep.HHI = ratio(hhiNum, new(big.Int).Mul(rep.TotalCollateralUSD, rep.TotalCollateralUSD))
	return rep
}

// ---- largest liquidations ----

// Liquidation is one liquidation event, at its highest revision.
type Liquidation struct {
	ChainID                            uint64
	Chain                              string
	BlockTime                          time.Time
	BlockNumber                        uint64
	TxHash                             string
	LogIndex                           uint32
	EventID                            string
	Borrower, Liquidator               string
	CollateralSymbol, DebtSymbol       string
	CollateralAmountRaw, DebtAmountRaw string
	// CollateralUSD, DebtUSD in 1e-8 USD; BonusUSD nil when unknown.
	CollateralUSD, DebtUSD, BonusUSD *big.Int
	Revision                         uint64
	MethodVersion                    string
}

// LargestLiquidations returns up to limit confirmed events of [from, to)
// (any bounds) with the largest collateral USD, from liquidations FINAL.
func LargestLiquidations(ctx context.Context, conn driver.Conn, from, to time.Time, limit int) ([]Liquidation, error) {
	if err := window(from, to, 0); err != nil {
		return nil, err
	}
	if limit <= 0 {
		return nil, fmt.Errorf("%w: limit is %d, want at least 1", ErrWindow, limit)
	}
	var out []Liquidation
	err := run(ctx, conn, "largest_liquidations", append(args(from, to), clickhouse.Named("limit", uint64(limit))), func(r driver.Rows) error {
		var (
			l                 Liquidation
			coll, debt, bonus string
		)
		if err := r.Scan(&l.ChainID, &l.Chain, &l.BlockTime, &l.BlockNumber, &l.TxHash, &l.LogIndex, &l.EventID,
			&l.Borrower, &l.Liquidator, &l.CollateralSymbol, &l.DebtSymbol, &l.CollateralAmountRaw, &l.DebtAmountRaw,
			&coll, &debt, &bonus, &l.Revision, &l.MethodVersion); err != nil {
			return err
		}
		if err := parseAll(&l.CollateralUSD, coll, &l.DebtUSD, debt); err != nil {
			return fmt.Errorf("event %s: %w", l.EventID, err)
		}
		if bonus != "" {
			if err := parseAll(&l.BonusUSD, bonus); err != nil {
				return fmt.Errorf("event %s: %w", l.EventID, err)
			}
		}
		l.BlockTime = l.BlockTime.UTC()
		out = append(out, l)
		return nil
	})
	return out, err
}

// ---- asset pairs ----

// PairFigures is one chain's (collateral, debt) asset pair over a window.
type PairFigures struct {
	ChainID                             uint64
	Chain                               string
	CollateralToken, DebtToken          string
	CollateralSymbol, DebtSymbol        string
	CollateralUSD, DebtUSD              *big.Int
	Events, Txs, Borrowers, Liquidators uint64
}

// AssetPairs returns per chain and asset pair figures over the UTC days
// [from, to) (midnights) from the pair rollup, largest collateral first.
func AssetPairs(ctx context.Context, conn driver.Conn, from, to time.Time) ([]PairFigures, error) {
	if err := window(from, to, 24*time.Hour); err != nil {
		return nil, err
	}
	var out []PairFigures
	err := run(ctx, conn, "asset_pairs", args(from, to), func(r driver.Rows) error {
		var (
			p          PairFigures
			coll, debt string
		)
		if err := r.Scan(&p.ChainID, &p.Chain, &p.CollateralToken, &p.DebtToken, &p.CollateralSymbol, &p.DebtSymbol,
			&coll, &debt, &p.Events, &p.Txs, &p.Borrowers, &p.Liquidators); err != nil {
			return err
		}
		if err := parseAll(&p.CollateralUSD, coll, &p.DebtUSD, debt); err != nil {
			return fmt.Errorf("pair %s/%s: %w", p.CollateralToken, p.DebtToken, err)
		}
		out = append(out, p)
		return nil
	})
	return out, err
}

// ---- bad debt by wave ----

// WaveBadDebt is one chain's bad debt and liquidations in one wave window.
type WaveBadDebt struct {
	// Wave is the index of the window in the waves argument.
	Wave    int
	ChainID uint64
	Chain   string
	// BadDebtUSD is the debt written off (DeficitCreated), 1e-8 USD.
	BadDebtUSD       *big.Int
	BadDebtEvents    uint64
	BadDebtBorrowers uint64
	// CollateralUSD and Events are the liquidations of the same window.
	CollateralUSD *big.Int
	Events        uint64
}

// BadDebtByWave returns, per wave window (any bounds) and chain, the bad debt
// written off and the collateral liquidated, from bad_debt FINAL and
// liquidations FINAL. Windows may come from DailyWaves (Wave.Window).
func BadDebtByWave(ctx context.Context, conn driver.Conn, waves []Window) ([]WaveBadDebt, error) {
	if len(waves) == 0 {
		return nil, fmt.Errorf("%w: no wave windows given", ErrWindow)
	}
	starts := make([]time.Time, len(waves))
	ends := make([]time.Time, len(waves))
	for i, w := range waves {
		if err := window(w.From, w.To, 0); err != nil {
			return nil, fmt.Errorf("wave %d: %w", i, err)
		}
		starts[i], ends[i] = w.From.UTC().Truncate(time.Second), w.To.UTC().Truncate(time.Second)
	}
	var out []WaveBadDebt
	err := run(ctx, conn, "bad_debt_by_wave", []any{clickhouse.Named("wave_starts", starts), clickhouse.Named("wave_ends", ends)}, func(r driver.Rows) error {
		var (
			w         WaveBadDebt
			wave      uint32
			bad, coll string
		)
		if err := r.Scan(&wave, &w.ChainID, &w.Chain, &bad, &w.BadDebtEvents, &w.BadDebtBorrowers, &coll, &w.Events); err != nil {
			return err
		}
		w.Wave = int(wave) - 1
		if err := parseAll(&w.BadDebtUSD, bad, &w.CollateralUSD, coll); err != nil {
			return fmt.Errorf("wave %d chain %d: %w", w.Wave, w.ChainID, err)
		}
		out = append(out, w)
		return nil
	})
	return out, err
}

// ---- before / after ----

// Figures are one chain's totals over one window.
type Figures struct {
	// CollateralUSD, DebtUSD, BadDebtUSD in 1e-8 USD.
	CollateralUSD, DebtUSD, BadDebtUSD  *big.Int
	Events, Txs, Borrowers, Liquidators uint64
}

// Comparison is one chain's figures in two windows.
type Comparison struct {
	ChainID       uint64
	Chain         string
	Before, After Figures
}

// CollateralChange is After minus Before collateral USD (1e-8 USD).
func (c Comparison) CollateralChange() *big.Int {
	return new(big.Int).Sub(c.After.CollateralUSD, c.Before.CollateralUSD)
}

// CollateralRatio is After over Before collateral USD, 0 when Before is 0.
func (c Comparison) CollateralRatio() float64 {
	return ratio(c.After.CollateralUSD, c.Before.CollateralUSD)
}

// BeforeAfter compares two windows of whole UTC hours per chain, from the
// hourly rollup. Chains with no event in either window are absent.
func BeforeAfter(ctx context.Context, conn driver.Conn, before, after Window) ([]Comparison, error) {
	for name, w := range map[string]Window{"before": before, "after": after} {
		if err := window(w.From, w.To, time.Hour); err != nil {
			return nil, fmt.Errorf("%s window: %w", name, err)
		}
	}
	a := []any{
		clickhouse.Named("before_from", before.From.UTC()), clickhouse.Named("before_to", before.To.UTC()),
		clickhouse.Named("after_from", after.From.UTC()), clickhouse.Named("after_to", after.To.UTC()),
	}
	var out []Comparison
	err := run(ctx, conn, "before_after", a, func(r driver.Rows) error {
		var (
			c                      Comparison
			bc, bd, bb, ac, ad, ab string
		)
		if err := r.Scan(&c.ChainID, &c.Chain,
			&bc, &bd, &bb, &c.Before.Events, &c.Before.Txs, &c.Before.Borrowers, &c.Before.Liquidators,
			&ac, &ad, &ab, &c.After.Events, &c.After.Txs, &c.After.Borrowers, &c.After.Liquidators); err != nil {
			return err
		}
		if err := parseAll(&c.Before.CollateralUSD, bc, &c.Before.DebtUSD, bd, &c.Before.BadDebtUSD, bb,
			&c.After.CollateralUSD, ac, &c.After.DebtUSD, ad, &c.After.BadDebtUSD, ab); err != nil {
			return fmt.Errorf("chain %d: %w", c.ChainID, err)
		}
		out = append(out, c)
		return nil
	})
	return out, err
}
