// Package store is the "store" stage of liqstream's data path (consume →
// store → query): it writes LiquidationEvent rows to ClickHouse and keeps the
// daily and hourly rollups exact.
//
// Contract:
//   - NewRow validates and converts one event with its Kafka coordinates;
//     an event it rejects (ErrInvalidEvent) must not be written (the consumer
//     sends it to the dead-letter topic).
//   - WriteBatch writes rows with one INSERT into liquidations (explicit column
//     list, sent in blocks of 4,096 rows; a batch with tombstones in one
//     block), then recomputes every (chain, UTC day) bucket the rows touch, for
//     every rollup: one read of liquidations FINAL and bad_debt FINAL into a
//     staging table of its own, which the rollups' statements read
//     (recompute.go, schemas/queries/rollup_stage.sql). When it
//     returns nil, ClickHouse has the rows and the rollups reflect them: only
//     then may the caller acknowledge (commit) the records. When it returns an
//     error nothing may be acknowledged; writing the same rows again is always
//     safe, because raw rows collapse by (chain_id, block_date, event_id) to
//     the highest revision and rollups are recomputed, never incremented.
//   - An event a later revision moved to another UTC day (a reorg across
//     midnight) is counted on one day only: for rows with a revision above
//     1, the write looks up the event's days (±7) and inserts, with the
//     rows, a RETRACTED tombstone at the highest revision on every other day
//     that holds the event, and recomputes those days too (tombstone.go,
//     schemas/README.md "One row per event").
//   - Insert and Settle are WriteBatch's two halves, for a consumer under
//     backlog: Insert writes one batch of raw rows and collects the buckets
//     it touches in an Unsettled; Settle recomputes them all at once. Rows
//     are acknowledged only after Settle returned nil for their Unsettled.
//     The raw insert appends one typed slice per column; the six
//     Decimal(38, 8) columns it lays out itself, as the 16-byte values the
//     native protocol carries (decimal8.go: clickhouse-go's Append goes
//     through math/big for every value), held to clickhouse-go's encoding by
//     differential and fuzz tests.
//   - Transient failures (network, server overload, timeouts) are retried
//     with bounded exponential backoff inside WriteBatch; the error it
//     returns says which step failed and IsRetryable says whether calling
//     again later may succeed.
//   - WriteBadDebt writes DeficitCreated records to bad_debt and recomputes
//     the daily and hourly buckets they touch, with WriteBatch's guarantees.
//   - WriteBatch is safe for concurrent use; Close closes the connection.
//
// Rollup versions are taken from the writer's clock (nanoseconds, strictly
// increasing per process): when several aggregator processes recompute the
// same bucket within their clock skew, the later recomputation of the bucket
// by any of them heals it. Recompute rebuilds every rollup (daily, hourly,
// pair, liquidator) of a date range (after a manual repair of the raw table,
// for example).
package store
