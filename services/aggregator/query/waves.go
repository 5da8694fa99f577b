package query

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"sort"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// ErrWaveConfig is wrapped by WaveConfig.Validate errors.
var ErrWaveConfig = errors.New("invalid wave detection config")

// WaveRule says which daily figure must exceed K times its trailing median
// for a day to count as a wave day.
type WaveRule string

// Wave rules.
const (
	// WaveEvents flags days by their event count.
	WaveEvents WaveRule = "events"
	// WaveCollateral flags days by their collateral USD.
	WaveCollateral WaveRule = "collateral_usd"
	// WaveEither flags a day when events or collateral USD exceed.
	WaveEither WaveRule = "either"
	// WaveBoth flags a day when both exceed.
	WaveBoth WaveRule = "both"
)

// WaveConfig parameterises DailyWaves.
type WaveConfig struct {
	// K is the multiple of the trailing median a day must exceed (default 3).
	K float64 `yaml:"k"`
	// TrailingDays is N, the number of UTC days before a day whose median is
	// its baseline; the day itself is excluded (default 14).
	TrailingDays int `yaml:"trailing_days"`
	// Rule picks the figure(s) compared (default "either").
	Rule WaveRule `yaml:"rule"`
	// ChainIDs restricts the series to these chains; empty means all.
	ChainIDs []uint64 `yaml:"chain_ids"`
}

// DefaultWaveConfig returns K=3, N=14, rule "either", all chains.
func DefaultWaveConfig() WaveConfig { return WaveConfig{K: 3, TrailingDays: 14, Rule: WaveEither} }

// Validate reports the first invalid setting, naming its key.
func (c WaveConfig) Validate() error {
	switch {
	case !(c.K > 0) || c.K > 1e6:
		return fmt.Errorf("%w: k is %v, want a number above 0 (e.g. 3)", ErrWaveConfig, c.K)
	case c.TrailingDays < 1 || c.TrailingDays > 3660:
		return fmt.Errorf("%w: trailing_days is %d, want 1..3660 (e.g. 14)", ErrWaveConfig, c.TrailingDays)
	}
	switch c.Rule {
	case WaveEvents, WaveCollateral, WaveEither, WaveBoth:
		return nil
	}
	return fmt.Errorf("%w: rule is %q, want events, collateral_usd, either or both", ErrWaveConfig, c.Rule)
}

// WaveDay is one UTC day of the series with its baseline.
type WaveDay struct {
	Day time.Time
	// Events, CollateralUSD and DebtUSD sum the selected chains (USD in
	// 1e-8 USD); a day without events has zeros.
	Events                 uint64
	CollateralUSD, DebtUSD *big.Int
	// MedianEvents and MedianCollateralUSD are the exact medians of the
	// TrailingDays days before Day (days without events count as zero; the
	// median of an even count is the mean of the middle two).
	MedianEvents, MedianCollateralUSD *big.Rat
	// BaselineDays is how many of the TrailingDays days before Day lie on or
	// after the first day with data; a day with fewer is not judged (no wave),
	// since days before the data began were not ingested, not quiet.
	BaselineDays int
	// EventsWave and CollateralWave say whether the figure exceeds K times
	// its median (strictly); Wave applies the rule.
	EventsWave, CollateralWave, Wave bool
}

// Wave is a run of consecutive wave days.
type Wave struct {
	// Window is [first wave day, the day after the last).
	Window
	Days                   int
	Events                 uint64
	CollateralUSD, DebtUSD *big.Int
	// Peak is the day with the most collateral USD.
	Peak time.Time
}

// WaveReport is DailyWaves' result.
type WaveReport struct {
	// Days lists every UTC day of [from, to), in order.
	Days  []WaveDay
	Waves []Wave
}

// DailyWaves detects liquidation waves in the UTC days [from, to)
// (midnights): days whose events and/or collateral USD exceed K times the
// median of the TrailingDays days before them. It reads the daily rollup
// through daily_series.sql over [from - TrailingDays, to), sums the selected
// chains, and computes the trailing medians in Go with exact arithmetic
// (ClickHouse 18.16 has no window functions and its lambdas cannot read
// columns). When a baseline median is 0, any day with a positive figure
// exceeds it. Days before the first day with data in the series are not
// ingested history: a day whose trailing window reaches before that first
// day is not judged (BaselineDays < TrailingDays, Wave false).
func DailyWaves(ctx context.Context, conn driver.Conn, from, to time.Time, cfg WaveConfig) (WaveReport, error) {
	if err := cfg.Validate(); err != nil {
		return WaveReport{}, err
	}
	if err := window(from, to, 24*time.Hour); err != nil {
		return WaveReport{}, err
	}
	start := from.AddDate(0, 0, -cfg.TrailingDays)
	if start.Before(time.Unix(0, 0)) {
		start = time.Unix(0, 0).UTC()
	}
	pts, err := series(ctx, conn, "daily_series", start, to)
	if err != nil {
		return WaveReport{}, err
	}
	keep := map[uint64]bool{}
	for _, id := range cfg.ChainIDs {
		keep[id] = true
	}
	type dayTotals struct {
		events     uint64
		coll, debt *big.Int
	}
	byDay := map[time.Time]*dayTotals{}
	for _, p := range pts {
		if len(keep) > 0 && !keep[p.ChainID] {
			continue
		}
		d := byDay[p.Day]
		if d == nil {
			d = &dayTotals{coll: new(big.Int), debt: new(big.Int)}
			byDay[p.Day] = d
		}
		d.events += p.Events
		d.coll.Add(d.coll, p.CollateralUSD)
		d.debt.Add(d.debt, p.DebtUSD)
	}
	var firstData time.Time
	for d := range byDay {
		if firstData.IsZero() || d.Before(firstData) {
			firstData = d
		}
	}
	get := func(day time.Time) dayTotals {
		if d := byDay[day]; d != nil {
			return *d
		}
		return dayTotals{coll: new(big.Int), debt: new(big.Int)}
	}
	k := new(big.Rat).SetFloat64(cfg.K)
	var rep WaveReport
	for day := utcDay(from); day.Before(to); day = day.AddDate(0, 0, 1) {
		cur := get(day)
		var wd0 WaveDay
		var evs, colls []*big.Int
		for i := 1; i <= cfg.TrailingDays; i++ {
			prev := day.AddDate(0, 0, -i)
			if prev.Before(start) {
				break
			}
			if !firstData.IsZero() && !prev.Before(firstData) {
				wd0.BaselineDays++
			}
			p := get(prev)
			evs = append(evs, new(big.Int).SetUint64(p.events))
			colls = append(colls, p.coll)
		}
		wd := WaveDay{Day: day, Events: cur.events, CollateralUSD: cur.coll, DebtUSD: cur.debt,
			MedianEvents: median(evs), MedianCollateralUSD: median(colls), BaselineDays: wd0.BaselineDays}
		wd.EventsWave = exceeds(new(big.Int).SetUint64(cur.events), k, wd.MedianEvents)
		wd.CollateralWave = exceeds(cur.coll, k, wd.MedianCollateralUSD)
		switch cfg.Rule {
		case WaveEvents:
			wd.Wave = wd.EventsWave
		case WaveCollateral:
			wd.Wave = wd.CollateralWave
		case WaveBoth:
			wd.Wave = wd.EventsWave && wd.CollateralWave
		default:
			wd.Wave = wd.EventsWave || wd.CollateralWave
		}
		if wd.BaselineDays < cfg.TrailingDays {
			wd.Wave = false
		}
		rep.Days = append(rep.Days, wd)
	}
	rep.Waves = group(rep.Days)
	return rep, nil
}

// median returns the exact median of vs (0 for none).
func median(vs []*big.Int) *big.Rat {
	if len(vs) == 0 {
		return new(big.Rat)
	}
	s := append([]*big.Int(nil), vs...)
	sort.Slice(s, func(i, j int) bool { return s[i].Cmp(s[j]) < 0 })
	n := len(s)
	if n%2 == 1 {
		return new(big.Rat).SetInt(s[n/2])
	}
	sum := new(big.Int).Add(s[n/2-1], s[n/2])
	return new(big.Rat).SetFrac(sum, big.NewInt(2))
}

// exceeds reports v > k × med.
func exceeds(v *big.Int, k, med *big.Rat) bool {
	return new(big.Rat).SetInt(v).Cmp(new(big.Rat).Mul(k, med)) > 0
}

// group merges consecutive wave days into waves.
func group(days []WaveDay) []Wave {
	var out []Wave
	var cur *Wave
	var peak *big.Int
	for _, d := range days {
		if !d.Wave {
			cur = nil
			continue
		}
		if cur == nil {
			out = append(out, Wave{Window: Window{From: d.Day}, CollateralUSD: new(big.Int), DebtUSD: new(big.Int), Peak: d.Day})
			cur = &out[len(out)-1]
			peak = d.CollateralUSD
		}
		cur.To = d.Day.AddDate(0, 0, 1)
		cur.Days++
		cur.Events += d.Events
		cur.CollateralUSD.Add(cur.CollateralUSD, d.CollateralUSD)
		cur.DebtUSD.Add(cur.DebtUSD, d.DebtUSD)
		if d.CollateralUSD.Cmp(peak) > 0 {
			peak, cur.Peak = d.CollateralUSD, d.Day
		}
	}
	return out
}
