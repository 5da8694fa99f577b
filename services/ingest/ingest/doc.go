// Package ingest wires one chain's ingest process: rpc → decode → price →
// publish. The main type is Ingester, built by New from a Config and started
// with Run.
//
// Run, in order: creates the Kafka topics if missing; dials the RPC endpoint
// and checks its chain id; resolves the configured window [from, to) to block
// numbers (a date or RFC3339 time resolves to the first block whose timestamp
// is at or after it, found by a k-ary search over batched header fetches);
// reads the chain's checkpoint and resumes at checkpoint+1 when that is inside
// the window; then backfills in eth_getLogs ranges of at most log_range blocks,
// following the RPC client's adaptive span (package rpc).
//
// Ordering and delivery: up to `concurrency` ranges are fetched, decoded and
// priced in parallel, but published strictly in block order; the next group
// is fetched while one is published, and used only once that one committed
// and its own parent-hash checks passed. Each such group
// (its events, dead letters and the checkpoint at its last block) is one Kafka
// transaction (see package publish), retried after an abort. A crash, kill or
// cancel therefore neither loses nor doubles anything for read_committed
// consumers: the next run resumes after the last committed checkpoint, and the
// records of a group that was not committed are aborted. A cancel lets the
// group being published commit before Run returns.
//
// Round trips: a range needs its logs, the headers of its first and last
// blocks (they chain ranges and checkpoints), a timestamp per event block and
// the prices and reserve configurations at each event block. A range ending
// at least max(2 × confirmations, 128) blocks below the safe head is a
// history range: its event blocks take their timestamps from the logs'
// blockTimestamp when every log of the block carries the same one within the
// range's header times (blockTimes in build.go); other blocks, and every
// block of a range near the safe head, read their headers. A block's
// eth_calls go out as one Multicall3 aggregate3 from multicall3_block on
// (package multicall).
//
// Safe head: without `to`, the backfill ends at the safe head, and Follow
// keeps polling it every poll_interval. The safe head is
// head − confirmations, lowered to the node's "finalized" block when the
// node serves that tag: min(finalized, head − confirmations).
//
// Reorgs: each range's first block must extend the committed checkpoint
// (parent hash = checkpoint hash). When it does not, the chain reorganised
// below the checkpoint: Run walks back to the fork point using its bounded
// in-memory record of recently published blocks (hashes and event versions,
// max(4 × confirmations, 256) blocks), then publishes in one transaction a
// retraction (revision + 1, STATUS_RETRACTED) for every orphaned event, a
// new revision of every changed event, the new branch's events and the same
// checkpoint with its canonical hash (reorg.go). A checkpoint that is
// orphaned while nothing remembered is canonical (a deeper reorg, or one
// that happened while ingest was stopped) ends Run with *ReorgTooDeepError.
// Counted in reorgs_detected{chain} and retractions_published{chain}.
//
// Bad input never stops the process and is never dropped silently: a log that
// fails to decode, or whose tokens or prices cannot be read, is logged with
// chain, block, tx and log index, counted in decode_errors{reason}, and
// produced to the dead-letter topic with the reason header. RPC and Kafka
// failures that survive the retries end Run with an error.
//
// Progress returns a snapshot for orchestrators; progress is also logged
// every progress_interval.
//
// Health (health.go): Ready is cmd/ingest's /readyz check. Ready means Run
// is past its start (topics, RPC pool, checkpoint), has not stopped, the RPC
// pool's last attempt got an answer (rpc.Client.Health), no Kafka
// transaction has been open longer than the transaction timeout, and the
// head lag (head − next block) is at most health.max_head_lag_blocks
// (default twice the confirmation depth, at least 4); otherwise the reason.
// The gauges ingest_head_lag_blocks{chain}, ingest_head_lag_seconds{chain}
// (head block timestamp − last ingested block's) and
// ingest_head_lag_limit_blocks{chain} (the bound) are read from the same
// state at every scrape, so they move during a backfill too.
package ingest
