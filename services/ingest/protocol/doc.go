// Package protocol holds the lending-protocol adapters of ingest's decode
// stage (rpc → decode → price → publish): one adapter per protocol, one file
// each, all listed in the single explicit table of adapters.go (no init()
// registration). An Adapter names its protocol and method version, lists the
// topic0s it understands and turns one log into a protocol-neutral Event (a
// liquidation or a bad-debt deficit), using the exact ABI decoders of package
// decode plus a plausibility check (ErrAbsurdAmount above 2^200 base units).
//
// Adapters: aave-v3 (LiquidationCall and V3.3+ DeficitCreated, protocol fee
// on the collateral side), spark (an Aave V3 fork, same events), aave-v2
// (same LiquidationCall layout, no protocol fee), aave-v1 (its own
// LiquidationCall; _reserve is the debt asset, ETH is the 0xEeee… placeholder).
//
// LiquidationCall's topic0 is shared by every Aave fork, so a log is only
// attributed to a market by its emitter: Set maps configured pool addresses
// (per chain) to markets. Set.Decode still decodes a log from an unknown
// emitter, by topic0, with market "unknown" (used by `liqstream decode`);
// ingest only requests logs of configured pools.
//
// Records builds the offline part of the Kafka records (identity, position,
// decoded fields, raw log); ingest enriches them with block time, token
// metadata and prices.
package protocol
