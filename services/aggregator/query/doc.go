// Package query is the "query" stage of liqstream's data path: Go functions
// that run the shared SQL of schemas/queries against the liqstream database
// and return exact figures.
//
// The rollup variants (CycleSummary, DailySeries) read the hourly and daily
// rollups with FINAL and merge the uniqExact states, so distinct counts are
// exact over any window of whole hours (days); their bounds must be aligned
// (ErrUnaligned otherwise). The Raw variants compute the same figures from
// liquidations FINAL for any window, slower; tests check that both agree.
// USD sums are read as decimal text and parsed with usd.Parse into *big.Int
// (1e-8 USD): no float is involved.
//
// Every function takes a connection whose default database holds the
// liqstream tables; they only read.
package query
