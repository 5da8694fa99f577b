// Package decodecli is `liqstream decode`: it reads eth_getLogs-style log
// objects (a JSON array, or one object per line) and prints each decoded
// event as one line of the event contract's JSON form (protojson with proto
// field names): a LiquidationEvent for LiquidationCall logs (Aave V1, V2, V3,
// Spark), a DeficitEvent for DeficitCreated logs. It works offline: no block
// times, symbols, decimals, prices or USD values.
//
// Logs are attributed to a market by emitter, using the chain's markets in
// lib/chains; a log from any other emitter is still decoded (by topic0) with
// market "unknown". A log that cannot be decoded gives one line on the error
// stream naming chain, block, transaction, log index and the reason, and the
// run goes on; Run reports how many logs failed so the command exits 1.
package decodecli
