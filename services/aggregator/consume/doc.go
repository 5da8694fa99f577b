// Package consume is the "consume" stage of liqstream's data path (publish →
// consume → store): a Kafka consumer-group member that reads
// LiquidationEvent and DeficitEvent (bad debt) records from
// liqstream.liquidations.v1, batches them and hands each batch to the store
// (Store.Insert for liquidations, Store.WriteBadDebt for bad debt).
//
// Contract:
//   - Delivery is at least once, and the sink makes it effectively once:
//     offsets are committed only after the rows are inserted
//     (Store.Insert), the rollups recomputed for them (Store.Settle) and the
//     poison records acknowledged by the dead-letter topic. A crash or failed commit replays
//     records, which the store absorbs (rows collapse by event id and
//     revision, rollups are recomputed).
//   - A batch (one INSERT) closes at Batch.MaxRecords records or when its
//     window settles. A window (one rollup recomputation and one commit)
//     settles Batch.MaxWait after its first record; when the last
//     recomputation took long (a big backlog), the next window stays open
//     longer, up to 4× that time and at most 30s (below the group's rebalance timeout), so a backlog is inserted in
//     many batches per recomputation. When the backlog left after a poll
//     (Lag) is under a third of the open window, the window settles early
//     (once Batch.MaxWait has passed), so the recomputation that ends a
//     backlog covers a small last window.
//   - A window settles in the background: its open batch is inserted, its
//     end offsets are noted, and the consumer goes on polling and
//     inserting the next window while ClickHouse recomputes the rollups; the
//     noted offsets are committed once that returns. At most one settle is
//     in flight: the next window settles after it, however long it took.
//     A window's offsets are committed only after its rows and the
//     recomputation that followed them, so a kill at any point re-reads
//     only uncommitted windows.
//   - Memory is bounded whatever the backlog: the Kafka client buffers at
//     most one 16 MiB fetch per broker, and at most two batches of decoded
//     rows are held (one being written while the next is decoded: inserts
//     run one at a time, in order), each sent to ClickHouse in blocks of
//     4,096 rows.
//   - LiquidationEvent records are decoded by decodeLiquidation, a
//     hand-written pass over the encoding liqstream's producers write (one
//     copy of the record for all its strings, one allocation for its nested
//     messages) that hands anything else to proto.Unmarshal; it gives what
//     proto.Unmarshal gives, checked by a differential test and a fuzz
//     target, and `make bench` holds it to 0.9× proto.Unmarshal's time.
//   - Records are read with the read_committed isolation level. Rebalances
//     are blocked while a window is open or settling (kgo.BlockRebalanceOnPoll)
//     and allowed only once every window is settled and committed, so a
//     partition never moves with uncommitted work and no other member
//     re-reads a written batch.
//   - A poison record (over kafka.max_record_bytes, empty value, a schema
//     header naming another message, bytes that do not decode as the message
//     the header names, or an event the store rejects)
//     is copied with its key, value and headers to the dead-letter topic with
//     the reason in topics.HeaderDLQReason, a detail in HeaderDLQDetail and
//     its origin in topics.HeaderDLQSource, and counted in
//     dlq_records{reason}. It never stops the consumer and is never dropped
//     (a copy too large to produce goes without its value, the size in
//     topics.HeaderDLQValueOmitted). Fetches are bounded by Limits.
//   - Store failures are retried with backoff for as long as they are
//     retryable; a non-retryable one makes Run return it without committing.
//   - Run returns when ctx is cancelled, after waiting for the settle in
//     flight, inserting the open batch and settling and committing the
//     window, all within ShutdownTimeout, and closes the Kafka client.
package consume
