// Package publish writes ingest's output to Kafka: the last stage of ingest's
// data path (rpc → decode → price → publish).
//
// Contract (exactly once for read_committed consumers):
//   - A Publisher serves one chain and is a transactional producer whose
//     transactional id is kafka.topic_prefix + kafka.transactional_id + chain
//     id (default "liqstream-ingest-137"), acks=all and idempotent.
//   - LastCheckpoint runs first: it initialises the producer id, which bumps
//     the id's epoch. The broker aborts a transaction a previous incarnation
//     left open (a SIGKILL mid-range) before answering, and fences that
//     incarnation if it is still alive. It then reads the compacted
//     checkpoints topic read_committed from the start to the high watermark
//     and returns the chain's latest {"block":B,"hash":"0x.."} (key: chain id).
//   - Transact publishes one range group as one transaction: Publish
//     (LiquidationEvent, protobuf binary, keyed by topics.Key(chain, borrower)
//     with the schema and content-type headers) and DeadLetter records, then
//     the checkpoint at the group's last block, then flush and commit. The
//     events, dead letters and checkpoint become visible together or never,
//     so a committed checkpoint at B means every event at or below B is
//     committed exactly once, and none above B is.
//   - A failed transaction is aborted and run again (Attempts, with backoff;
//     IsRetryable). A fenced producer (ErrFenced) or one that cannot begin
//     or abort a transaction (ErrTxnFailed) is fatal: the process must stop.
//     Errors are *TxnError with chain, transactional id and block.
//   - ReadCheckpoint reads the committed checkpoint without fencing anything,
//     for tools and tests.
//
// Consumers that do not set isolation.level=read_committed also see the
// records of aborted transactions: duplicates with the same event_id.
//
// Topic names are the fixed names of lib/topics; Config.TopicPrefix prefixes
// all three (and the transactional id), for tests that need isolation on a
// shared broker.
//
// The main type is Publisher. The caller owns it and closes it after its last
// Transact; Close flushes nothing.
package publish
