// Package tail prints liquidation events from the Kafka topic as JSON lines,
// one event per line, in the contract's JSON form (protojson with the
// proto field names), with filters on chain, protocol and minimum USD value.
//
// It reads every partition directly, without a consumer group, so it never
// moves any group's offsets: from the end of the topic by default, or from
// the beginning. Records that are not LiquidationEvents, or that do not
// decode, are reported on the error stream and skipped.
package tail
