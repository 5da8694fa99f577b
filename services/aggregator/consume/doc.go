// Package consume is the "consume" stage of liqstream's data path (publish →
// consume → store): a Kafka consumer-group member that reads
// LiquidationEvent records from liqstream.liquidations.v1, batches them and
// hands each batch to the store.
//
// Contract:
//   - Delivery is at least once, and the sink makes it effectively once: a
//     batch's offsets are committed only after Store.WriteBatch returned nil
//     (ClickHouse has the rows and the rollups) and its poison records are
//     acknowledged by the dead-letter topic. A crash or failed commit replays
//     records, which the store absorbs (rows collapse by event id and
//     revision, rollups are recomputed).
//   - Batches close at Batch.MaxRecords records or Batch.MaxWait after their
//     first record, whichever comes first.
//   - Records are read with the read_committed isolation level. Rebalances
//     are blocked while a batch is open (kgo.BlockRebalanceOnPoll) and allowed
//     only once it is flushed and committed, so a partition never moves with
//     uncommitted work and no other member re-reads a written batch.
//   - A poison record (empty value, a schema header naming another message,
//     bytes that are not a LiquidationEvent, or an event the store rejects)
//     is copied with its key, value and headers to the dead-letter topic with
//     the reason in topics.HeaderDLQReason, a detail in HeaderDLQDetail and
//     its origin in topics.HeaderDLQSource, and counted in
//     dlq_records{reason}. It never stops the consumer and is never dropped.
//   - Store failures are retried with backoff for as long as they are
//     retryable; a non-retryable one makes Run return it without committing.
//   - Run returns when ctx is cancelled, after flushing the open batch and
//     committing it within ShutdownTimeout, and closes the Kafka client.
package consume
