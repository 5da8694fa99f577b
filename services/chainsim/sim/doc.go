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
// Multicall3 (sim.Multicall3, 0xcA11bde05977b3631167028862bE2a173976CA11)
// serves aggregate3((address,bool,bytes)[]) on every chain from its real
// deployment block (DefaultMulticall3Block, as viem records them; per chain
// Config.Multicall3Blocks); below it the address has no code and eth_call
// answers "0x". Each inner call runs as eth_call would at the same block
// (a contract or function chainsim does not serve reverts without data); a
// failed call with allowFailure set gives (false, revert data), without it
// the whole call reverts with Error("Multicall3: call failed"), answered as
// geth does ("execution reverted: Multicall3: call failed", code 3, the
// revert data in "data"). Calldata that does not decode reverts without
// data. Errors of the outer eth_call (block above the head, unknown block
// hash, a fault of package faults) fail it as a whole. ServerStats counts
// requests per method and aggregate3 runs and their inner calls.
//
// Reorg(chain, depth, seed) replaces the last depth blocks up to the head
// with a new branch (new hashes from the fork point; some liquidations
// vanish, some move to another block of the branch, some are new) and
// updates Truth to the canonical chain; orphaned hashes no longer resolve.
//
// Every log object of eth_getLogs carries "blockTimestamp" (the block's
// timestamp, a hex quantity) between "blockHash" and "logIndex", as current
// geth, reth and erigon serve it; Config.OmitLogBlockTimestamp leaves it out
// everywhere, the omit_log_block_timestamp fault of package faults for one
// simulated provider.
//
// The JSON-RPC server reads a body in one pass (fastreq.go): a validating
// scanner splits each request into its id, method and params elements, and
// hands anything it is not sure about (odd keys, escapes, bad JSON) to the
// encoding/json path, which also words every error; the two are held to the
// same answer bytes by a differential test and FuzzServe. Results are
// appended by hand, logs pre-rendered, block hashes cached per (block,
// branch), constant eth_call answers encoded once and the oracle's hourly
// jitter precomputed over the window; testdata/answers.sha256 pins the
// answers to a seeded request sample as they were before these shortcuts.
//
// eth_getLogs serves only logs at or below the head (SetHead moves it, as a
// chain that advances); Truth always covers the whole window. Logs are held in
// one slice per chain sorted by (block, log index) and found by binary search,
// so a query over millions of blocks costs only the logs it returns.
package sim
