// Package report builds `liqstream report`: the liquidation report of one
// window ([from, to), UTC) read from ClickHouse through the aggregator's query
// library, rendered as an aligned terminal table, CSV, JSON or Markdown, with
// an optional stacked PNG chart of the daily collateral USD per chain and an
// optional comparison with published figures.
//
// It sits at the end of the data path (query → report) and only reads. Build
// returns a Report; Report.Write renders it; Chart draws the PNG; Compare sets
// published figures (a small JSON file, see LoadFigures) beside measured ones.
//
// Money is exact: USD sums are *big.Int in 1e-8 USD as the query library
// returns them, written as 8-decimal strings in CSV and JSON and rounded to
// cents ($1,234.56) only in the table and Markdown formats. "Liquidated
// value" is the collateral USD (collateral seized); debt repaid is shown
// beside it.
//
// Filters: the query library has no chain or protocol argument except for
// wave detection. --chain keeps the per-chain rows of the summary, daily
// series, asset pairs and bad debt in Go (exact, since those rows are per
// chain) and passes the chains to DailyWaves; the top-liquidator ranking sums
// all chains, so it is left out of a chain-filtered report. --protocol is
// exact only where a chain's events all belong to that protocol (the
// rollups have no protocol column): Build reads the protocols present per
// chain from the raw table and refuses a protocol filter that would need to
// split a chain. Every report lists the filters it applied in its notes.
package report
