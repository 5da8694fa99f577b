// Package aggregator wires the aggregator service: a consume.Consumer that
// reads liqstream.liquidations.v1 and a store.Store that writes ClickHouse,
// in that data-flow order (consume → store). Run returns when its context is
// cancelled, after the consumer flushed and committed its open batch; the
// store's connection is closed last. Offsets are committed only after
// ClickHouse acknowledged the batch (see the consume and store packages).
//
// Migrate applies the ClickHouse schema; the service never runs DDL on its
// own start.
//
// Ready (health.go) is cmd/aggregator's /readyz check: Run is consuming,
// ClickHouse answers a ping, and Kafka answers the lag of this member's
// partitions (records not committed yet, consume.Consumer.CommittedLag),
// which must be at most health.max_consumer_lag_records (default 10000).
package aggregator
