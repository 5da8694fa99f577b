// Package query is the "query" stage of liqstream's data path: Go functions
// that run the shared SQL of schemas/queries against the liqstream database
// and return typed rows with exact figures.
//
// The library: CycleSummary (per chain totals of a window with each chain's
// share), DailySeries and DailyWaves (daily series and wave detection: days
// above K times the trailing median of the N days before, computed in Go),
// TopLiquidators (ranking, share of the top N, HHI), LargestLiquidations,
// AssetPairs, BadDebtByWave and BeforeAfter (two windows side by side).
//
// Rollup-backed functions read the hourly and daily rollups with FINAL and
// merge the uniqExact states, so distinct counts are exact over any window of
// whole hours (days); their bounds must be aligned (ErrUnaligned otherwise).
// The Raw variants, LargestLiquidations and BadDebtByWave read the raw tables
// with FINAL for any bounds. USD sums are read as decimal text and parsed with
// usd.Parse into *big.Int (1e-8 USD): no float is involved; shares and HHI are
// computed from those integers exactly and rounded once to float64.
//
// Every function takes a connection whose default database holds the
// liqstream tables; they only read.
package query
