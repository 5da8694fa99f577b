// Package verify checks that ClickHouse holds exactly the liquidations a chain
// emitted over a block range: it is what `liqstream verify` runs, the
// product's promise made checkable by its users.
//
// It sits beside the data path (rpc → decode → price → publish → consume →
// store → query) and reads both of its ends: the chain, through ingest's
// JSON-RPC client and decoder (the same eth_getLogs filter by pool address
// and LiquidationCall topic0, the same event_id "<chainId>:<txhash>:<logIndex>",
// the same date-to-block search), and ClickHouse's liquidations table and
// rollups. The main type is Verifier, built by New from a Config; Run returns
// a Report.
//
// The range is half-open, [From, To), in blocks; dates and RFC3339 times
// resolve to blocks exactly as ingest resolves its window. Every difference
// has one Kind:
//
//   - missing: a LiquidationCall log of the pool in the range has no row in
//     ClickHouse, or its highest revision is RETRACTED.
//   - extra: ClickHouse's highest revision of an event of the pool in the
//     range is CONFIRMED but the chain has no such log. When the canonical
//     block at the row's block number has another hash, the event was
//     reorged out and its retraction was not applied; otherwise it was never
//     on chain.
//   - duplicate: after FINAL, one event_id has a CONFIRMED row besides its
//     winning row (the highest revision, CONFIRMED first) on another block
//     date, so it is counted on two days (revisions stored under different
//     block dates never collapse, and no tombstone retracted the older day).
//     RETRACTED rows on other dates are the store's tombstones and are not
//     duplicates (schemas/README.md, "One row per event"). Or two or more
//     raw rows share the winning row's event_id, block date and revision but
//     differ in content, so which one FINAL returns is arbitrary. Replays of
//     identical rows are not duplicates: they collapse.
//   - stale_revision: the highest revision is CONFIRMED but differs from the
//     chain in a field read from the chain: block number, hash or time, tx
//     index, pool, borrower, liquidator, collateral or debt token, raw
//     amounts, receiveAToken. USD values are not compared (they come from
//     the oracle, not the log).
//   - rollup_mismatch: for a (chain, UTC day) or (chain, UTC hour) bucket of
//     the days the range touches, liquidations_daily / liquidations_hourly
//     FINAL differ from the aggregate that store recomputes from
//     liquidations FINAL (USD sums, events, unpriced, retracted, distinct
//     txs, borrowers, liquidators). Rollups are per chain, so this covers
//     whole days and every market of the chain.
//
// ClickHouse is read with FINAL filtered only on sort-key columns (chain_id,
// block_date over the range's dates widened by a day each side); every other
// condition is applied in Go. No query groups by a Decimal column or
// aggregates Decimals outside a GROUP BY on keys (ClickHouse 18.16 crashes on
// those); Decimals are read with toString.
//
// Verify reads a moving system: run it on ranges below the chain's safe head
// and while no aggregator is writing the same days, or a difference may be
// transient. Progress is logged every ProgressInterval.
package verify
