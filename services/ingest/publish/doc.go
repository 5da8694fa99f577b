// Package publish writes ingest's output to Kafka: the last stage of ingest's
// data path (rpc → decode → price → publish).
//
// Contract:
//   - Publish produces a LiquidationEvent (protobuf binary) to the
//     liquidations topic asynchronously, keyed by topics.Key(chain, borrower)
//     and partitioned by the default key hash, with the schema and
//     content-type headers. The producer is idempotent with acks=all, so a
//     retried batch is not duplicated inside one producer session.
//   - DeadLetter produces a record that could not be turned into an event to
//     the dead-letter topic with topics.HeaderDLQReason.
//   - Commit is the only way to advance a chain's checkpoint: it flushes the
//     producer, fails if any record produced since the last Commit was not
//     acknowledged, and only then writes {"block":B,"hash":"0x.."} keyed by the
//     chain id to the compacted checkpoints topic, synchronously. So a
//     checkpoint at B implies every event at or below B is in Kafka.
//   - LastCheckpoint reads the checkpoints topic from its start to the high
//     watermark observed when called and returns the chain's latest value.
//     A restart resumes at B+1: events between B and the crash may be
//     published twice (consumers dedup by event_id); none are skipped.
//
// Topic names are the fixed names of lib/topics; Config.TopicPrefix prefixes
// all three, for tests that need isolation on a shared broker.
//
// The main type is Publisher. The caller owns it and closes it after its last
// Commit; Close flushes nothing.
package publish
