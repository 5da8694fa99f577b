// Package sim is chainsim: a deterministic, in-memory EVM JSON-RPC server that
// simulates the Aave V3 market on five chains (Ethereum, Polygon, Avalanche,
// Arbitrum, Base) over a window of time, 2026-01-01..2026-03-01 UTC by default.
// It is the source end of liqstream's data path (rpc → decode → price →
// publish → consume → store → query) for the demo and for tests: ingest talks
// to it exactly as it talks to a real node, through go-ethereum's ethclient.
//
// The main type is Sim, built by New from a Config. Everything it serves
// derives from Config.Seed:
//
//   - Headers are computed lazily from the chain id and block number, never
//     stored per block. timestamp(n) = anchorTime + floor((n-anchorN)·blockTime)
//     where the anchor is the block at 2026-01-01T00:00:00Z. The anchors are
//     approximations of the real chains (Ethereum 24,130,000 at 12 s, Polygon
//     81,000,000 at 2 s, Avalanche 74,000,000 at 1.5 s, Arbitrum 416,000,000 at
//     0.25 s, Base 40,300,000 at 2 s), close enough for realistic block ranges
//     but not a record of history. Hashes are keccak256(seed, chain id, number)
//     with the number folded into the last 8 bytes, so a hash resolves back to
//     its block (eth_getLogs by blockHash, eth_getBlockByHash);
//     parentHash(n) = hash(n-1). Because hashes are not the RLP hash of the
//     header, go-ethereum's types.Header.Hash() (which recomputes it) does
//     not equal the served "hash": compare parent hashes and log block hashes
//     with the "hash" field as served (decode eth_getBlockByNumber into a
//     struct with Hash/ParentHash), which is also correct against real nodes.
//   - The "safe" and "finalized" tags lag the head by half and all of the
//     chain's Confirmations in the lib/chains registry (Ethereum 32/64, Polygon
//     100/200, Avalanche 6/12, Arbitrum and Base 12/24).
//   - Prices: one hourly path per underlying (ETH, BTC, stables, each with a
//     seeded jitter) interpolated linearly inside the hour, in 8-decimal USD,
//     served by the Aave oracle address of each chain's primary V3 market
//     (getAssetPrice, getAssetsPrices, BASE_CURRENCY_UNIT) at the timestamp of
//     the requested block. ETH falls from about $3,300 to about $2,000 in
//     early February, BTC from $94k to $62k.
//   - Tokens: real addresses, symbols and decimals of each chain; MKR on
//     Ethereum answers symbol() with bytes32, as the real token does.
//   - LiquidationCall events are generated per UTC day with a wave shape:
//     2026-01-15, 2026-01-29 and 2026-02-02..05 are peak days with at least 3×
//     the median of the 14 days before them (guaranteed per chain and in total).
//     Some transactions hold 2–3 liquidations, borrowers repeat, liquidators
//     are a handful of bots. The pool also emits ReserveDataUpdated, Supply and
//     Borrow logs, which consumers must filter out by topic0; they are not in
//     the truth.
//
// Reorg(chain, depth, seed) replaces the last depth blocks up to the head
// with a new branch (new hashes from the fork point; some liquidations
// vanish, some move to another block of the branch, some are new) and
// updates Truth to the canonical chain; orphaned hashes no longer resolve.
//
// eth_getLogs serves only logs at or below the head (SetHead moves it, as a
// chain that advances); Truth always covers the whole window. Logs are held in
// one slice per chain sorted by (block, log index) and found by binary search,
// so a query over millions of blocks costs only the logs it returns.
package sim
